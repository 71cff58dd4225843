//! Checked views over the bytes the router reads: datagram classification,
//! RTP headers and codec payload descriptors.

pub mod classify;
pub mod codec;

pub use classify::{classify, stun_local_ufrag, DatagramKind};
pub use codec::{is_keyframe, CodecKind};
