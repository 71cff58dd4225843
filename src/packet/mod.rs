//! Checked views over the bytes the router reads: datagram classification,
//! codec payload descriptors and the dependency descriptor. (RTP headers
//! and their extensions are str0m's.)
//!
//! Every parser follows the same rule: lengths are checked once, when a view
//! is built or a descriptor is parsed, and everything after that cannot
//! panic, whatever a peer sent. Failures are a [`PacketError`].
//!
//! | module | wire format | entry points |
//! | --- | --- | --- |
//! | [`classify`](mod@classify) | RFC 7983 demultiplexing, STUN (RFC 8489) | [`classify()`](classify::classify), [`stun_local_ufrag`] |
//! | [`vp8`] | VP8 descriptor (RFC 7741) | [`Vp8Descriptor`] |
//! | [`vp9`] | VP9 descriptor (RFC 9628) | [`Vp9Descriptor`] |
//! | [`h264`] | H.264 packetization (RFC 6184) | [`H264Payload`] |
//! | [`av1`] | AV1 aggregation header | [`Av1AggregationHeader`] |
//! | [`dd`] | dependency descriptor (AV1 RTP spec, appendix A) | [`DependencyDescriptor`] |
//! | [`codec`] | per-codec dispatch | [`is_keyframe`] |

pub mod av1;
pub mod classify;
pub mod codec;
pub mod dd;
mod error;
pub mod h264;
pub mod vp8;
pub mod vp9;

pub use av1::Av1AggregationHeader;
pub use classify::{classify, stun_local_ufrag, DatagramKind};
pub use codec::{is_keyframe, CodecKind};
pub use dd::{
    DependencyDescriptor, Dti, FrameDependencyStructure, FrameDependencyTemplate, RenderResolution,
};
pub use error::PacketError;
pub use h264::{H264Payload, StapAUnits};
pub use vp8::Vp8Descriptor;
pub use vp9::{Vp9Descriptor, Vp9PictureGroupEntry, Vp9ScalabilityStructure};
