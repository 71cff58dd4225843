//! The one error type shared by every parser in [`crate::packet`].

/// Why a packet, payload descriptor or header extension was rejected.
///
/// Parsers return this instead of panicking: every byte they read comes from
/// a peer and may be truncated, malformed or hostile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacketError {
    /// The buffer ends before a field the header says is there.
    #[error("buffer too short")]
    Truncated,
    /// The bytes are long enough but their content is inconsistent.
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
    /// A value handed to a writer does not fit its field.
    #[error("value out of range: {0}")]
    OutOfRange(&'static str),
    /// A dependency descriptor that refers to templates, parsed without a
    /// template structure (none attached and none given).
    #[error("dependency descriptor needs a template structure")]
    MissingStructure,
    /// A count exceeds the limit the specification allows.
    #[error("limit exceeded: {0}")]
    LimitExceeded(&'static str),
}
