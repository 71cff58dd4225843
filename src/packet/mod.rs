//! Checked views over the bytes the router reads: datagram classification,
//! RTP headers and codec payload descriptors.
