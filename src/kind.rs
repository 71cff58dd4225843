//! The kind of a track, in the crate's own type (a str0m upgrade is not a
//! breaking change for hosts).

/// Audio or video.
///
/// Deliberately exhaustive: RTP media is audio or video (data channels are
/// not media tracks), and hosts match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum MediaKind {
    /// An audio track.
    Audio,
    /// A video track.
    Video,
}

impl MediaKind {
    /// Whether this is audio.
    pub fn is_audio(self) -> bool {
        self == MediaKind::Audio
    }

    /// Whether this is video.
    pub fn is_video(self) -> bool {
        self == MediaKind::Video
    }
}

impl MediaKind {
    /// str0m's kind in ours; not a public `From`, so no str0m type appears
    /// in the crate's public interface.
    pub(crate) fn from_str0m(k: str0m::media::MediaKind) -> Self {
        match k {
            str0m::media::MediaKind::Audio => MediaKind::Audio,
            str0m::media::MediaKind::Video => MediaKind::Video,
        }
    }

    /// Ours in str0m's (for a producer piped in from another router).
    pub(crate) fn to_str0m(self) -> str0m::media::MediaKind {
        match self {
            MediaKind::Audio => str0m::media::MediaKind::Audio,
            MediaKind::Video => str0m::media::MediaKind::Video,
        }
    }
}
