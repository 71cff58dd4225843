//! Manifold: an embeddable, sans-IO selective forwarding unit (SFU).

pub mod packet;
