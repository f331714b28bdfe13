//! The `Frames` port: pictures out of a stored video. The adapter (`vidgate-ffmpeg`) runs ffmpeg
//! on ranged reads of the object; [`memory`] paints frames for tests.
//!
//! A [`FrameSession`] is one video's run: what it reads from S3 and how long it takes are bounded
//! over the whole session (the template's `Images*` parameters), not per frame.

#[cfg(any(test, feature = "test-util"))]
pub mod memory;

use async_trait::async_trait;

/// The object to read: the checked version of an uploaded video.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub key: String,
    pub version: Option<String>,
    pub size: u64,
}

/// Which frame a moment means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seek {
    /// The frame showing at that moment (decoded from the keyframe before it).
    Exact,
    /// The first keyframe at or after it: a whole picture, cheap to reach.
    KeyframeAfter,
}

/// One picture to take: at `at_ms`, scaled to `width`×`height` as displayed (the container's
/// rotation applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRequest {
    pub at_ms: u64,
    pub seek: Seek,
    pub width: u32,
    pub height: u32,
}

/// A decoded picture: RGB, 3 bytes a pixel, rows top to bottom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The moment it shows.
    pub time_ms: u64,
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The decoder can't read this video (or a frame of it): the images fail with the reason.
    #[error("{0}")]
    Undecodable(String),
    /// There is no frame at or after that moment.
    #[error("no frame at or after {0} ms")]
    NoFrame(u64),
    /// The run went past one of its bounds (time, bytes read, memory): the images fail with it.
    #[error("{0}")]
    OverBound(String),
    /// S3 or the decoder couldn't be reached; worth retrying later.
    #[error("{0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Frames: Send + Sync {
    /// Starts reading `source`.
    async fn open(&self, source: Source) -> Result<Box<dyn FrameSession>, FrameError>;

    /// `rgb` (`width`×`height`) as a baseline JPEG.
    async fn jpeg(&self, width: u32, height: u32, rgb: &[u8]) -> Result<Vec<u8>, FrameError>;
}

#[async_trait]
pub trait FrameSession: Send + Sync {
    async fn frame(&self, request: FrameRequest) -> Result<Frame, FrameError>;

    /// The bytes read from S3 so far.
    fn bytes_read(&self) -> u64;
}
