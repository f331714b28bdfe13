//! What a use case can answer besides success.

use crate::credentials::CredentialError;
use crate::objects::ObjectError;
use crate::store::StoreError;
use vidgate_domain::{Invalid, VideoId};

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The caller's input breaks a rule.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// Unknown, malformed or someone else's video: indistinguishable on purpose.
    #[error("video not found")]
    NotFound,
    /// An upload-link token that opens nothing: malformed, unknown, or the wrong secret.
    #[error("upload link not found")]
    LinkNotFound,
    /// The upload link can no longer start its upload (it expired).
    #[error("{message}")]
    LinkGone { code: &'static str, message: String },
    /// The upload is in a state (or of a method) that does not allow this.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The bytes that arrived are not a video (or not one vidgate can read); the record says
    /// `rejected` and why.
    #[error("the upload is rejected: {0}")]
    NotAVideo(String),
    /// Starting this upload would take its owner past a bound of their quota; finishing or
    /// aborting one of their uploads in progress makes room.
    #[error("{0}")]
    QuotaExceeded(String),
    /// A record read a moment ago is gone (nothing deletes records, so only a manual edit).
    #[error("the record of video {0} disappeared")]
    Vanished(VideoId),
    #[error("dynamodb: {0}")]
    Store(#[from] StoreError),
    #[error("s3: {0}")]
    Objects(#[from] ObjectError),
    #[error("sts: {0}")]
    Credentials(#[from] CredentialError),
}

impl UploadError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid(Invalid::new(code, message))
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }

    /// Whether retrying later may succeed (a dependency was unreachable).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            UploadError::Store(StoreError::Unavailable(_))
                | UploadError::Objects(ObjectError::Unavailable(_))
                | UploadError::Credentials(CredentialError::Unavailable(_))
        )
    }
}
