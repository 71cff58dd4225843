//! Bandwidth: how much each subscriber may receive.
//!
//! One [`allocator::Allocator`] per subscriber transport splits the
//! send-side estimate across its consumers; its [`loss_guard`] corrects the
//! estimate with the loss the congestion-control feedback reports. Both
//! are pure (time comes in, decisions go out); the router's glue is
//! `router/bandwidth.rs`.

pub(crate) mod allocator;
pub(crate) mod delay_based;
pub(crate) mod loss_guard;
