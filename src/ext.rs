//! RTP header extensions str0m does not know, wired in through its
//! [`ExtensionSerializer`] hook.
//!
//! The AV1 Dependency Descriptor (DD) is negotiated on every transport and
//! carried through as raw bytes; the router parses it with
//! [`packet::DependencyDescriptor`](crate::packet::DependencyDescriptor) to
//! read a frame's spatial and temporal layer, so layer dropping keeps
//! working when the payload itself is end-to-end encrypted.

use smallvec::SmallVec;
use str0m::rtp::{Extension, ExtensionSerializer, ExtensionValues};

/// The Dependency Descriptor's extension URI.
pub const DEPENDENCY_DESCRIPTOR_URI: &str =
    "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension";

/// The extension id the router offers the Dependency Descriptor on.
pub const DEPENDENCY_DESCRIPTOR_ID: u8 = 12;

/// A Dependency Descriptor's bytes, as found in
/// [`ExtensionValues::user_values`] of a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDependencyDescriptor(pub SmallVec<[u8; 32]>);

/// str0m serializer for the Dependency Descriptor: moves the raw bytes
/// between the wire and [`RawDependencyDescriptor`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DependencyDescriptorSerializer;

impl DependencyDescriptorSerializer {
    /// The extension to register with str0m (`RtcConfig::set_extension`).
    pub fn extension() -> Extension {
        Extension::with_serializer(DEPENDENCY_DESCRIPTOR_URI, DependencyDescriptorSerializer)
    }
}

impl ExtensionSerializer for DependencyDescriptorSerializer {
    fn write_to(&self, buf: &mut [u8], ev: &ExtensionValues) -> usize {
        match ev.user_values.get::<RawDependencyDescriptor>() {
            Some(d) if d.0.len() <= buf.len() => {
                buf[..d.0.len()].copy_from_slice(&d.0);
                d.0.len()
            }
            _ => 0,
        }
    }

    fn parse_value(&self, buf: &[u8], ev: &mut ExtensionValues) -> bool {
        // The mandatory fields take 3 bytes; anything shorter is not a DD.
        if buf.len() < 3 {
            return false;
        }
        ev.user_values
            .set(RawDependencyDescriptor(SmallVec::from_slice(buf)));
        true
    }

    fn is_video(&self) -> bool {
        true
    }

    fn is_audio(&self) -> bool {
        false
    }

    fn requires_two_byte_form(&self, ev: &ExtensionValues) -> bool {
        ev.user_values
            .get::<RawDependencyDescriptor>()
            .is_some_and(|d| d.0.len() > 16)
    }
}
