//! The media wing: producers (what a client sends), consumers (one outgoing
//! copy of a producer on a subscriber's transport) and everything they
//! decide per packet.
//!
//! Simulcast and SVC switching live here: a producer knows its layers and
//! their liveness ([`producer`]), a consumer picks the layer it forwards
//! ([`layers`]) and rewrites headers so its subscriber sees one continuous
//! stream ([`rewrite`], [`vp8_continuity`]); keyframe requests to
//! publishers are merged and throttled per layer ([`keyframe`]).

pub(crate) mod consumer;
pub(crate) mod inspect;
pub(crate) mod keyframe;
pub(crate) mod layers;
pub(crate) mod producer;
pub(crate) mod rewrite;
pub(crate) mod vp8_continuity;
