//! The rules of an upload, with no AWS or Lambda crate (a test reads `cargo tree` to keep it so).
//!
//! The use cases (`vidgate-uploads`) translate requests into these types, ask the ports to do I/O,
//! and let this crate decide what is valid and which state changes are allowed.

pub mod cdn;
pub mod checksum;
pub mod credentials;
#[cfg(any(test, feature = "test-util"))]
pub mod fixtures;
pub mod images;
pub mod keys;
pub mod lifecycle;
pub mod link;
pub mod media;
pub mod parts;
pub mod playback;
pub mod range;
pub mod sniff;
pub mod time;
pub mod upload;
pub mod video;
pub mod webhook;

pub use upload::{NewUpload, UploadRequest};
pub use video::{Change, CompletedBy, Owner, QuotaDelta, Status, UploadMethod, Video, VideoId};

/// A caller's input that breaks a rule; becomes a 400 with this code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}
