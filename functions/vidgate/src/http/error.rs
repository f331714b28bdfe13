//! The one error type of every handler and its one mapping to status + JSON. Use cases answer
//! [`UploadError`]; it comes in through one `From`.
//!
//! Callers get `{"error":{"code","message"}}`. Internal details are logged with the request id and
//! never echoed: a 500 or 503 says only what the caller can act on.

use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde_json::json;

use crate::credentials::CredentialError;
use crate::domain::Invalid;
use crate::objects::ObjectError;
use crate::store::StoreError;
use crate::uploads::UploadError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The caller's input breaks a rule (400).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// No caller identity from the authorizer (401).
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// A playback token that is missing, tampered with, expired or for another video (403).
    #[error("{0}")]
    Forbidden(String),
    /// Unknown, malformed or someone else's video id: indistinguishable on purpose (404).
    #[error("video not found")]
    NotFound,
    /// The caller may not do this (403), e.g. a token without the upload-link scope, or a page
    /// on an origin its upload link does not allow.
    #[error("{message}")]
    Denied { code: &'static str, message: String },
    /// An upload-link token that opens nothing (404).
    #[error("upload link not found")]
    LinkNotFound,
    /// What the path names is gone for good (410), e.g. an expired upload link.
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    /// The video is in a state that does not allow this (409).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The path names a resource that takes other methods (405 + `Allow`), found by a handler
    /// when a parameter of a broader route matched a literal of another one.
    #[error("this resource accepts {allow}")]
    MethodNotAllowed { allow: &'static str },
    /// The range selects no byte of a `size`-byte video (416 + `Content-Range: bytes */size`).
    #[error("the range selects no byte of this {size}-byte video")]
    RangeNotSatisfiable { size: u64 },
    /// The request was understood but its content can't be accepted (422), e.g. not a video.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// The caller's quota is used up for now (429 + Retry-After).
    #[error("{message}")]
    TooManyRequests { code: &'static str, message: String },
    /// S3 or DynamoDB can't be reached right now (503 + Retry-After).
    #[error("dependency unavailable: {0}")]
    Unavailable(String),
    /// Anything else (500).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECS: u32 = 2;

/// Seconds a client should wait before starting again after `quota_exceeded`: long enough for
/// an upload in progress to finish a part or two.
pub const QUOTA_RETRY_AFTER_SECS: u32 = 30;

impl ApiError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid(Invalid::new(code, message))
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::Denied { .. } => StatusCode::FORBIDDEN,
            ApiError::LinkNotFound => StatusCode::NOT_FOUND,
            ApiError::Gone { .. } => StatusCode::GONE,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Invalid(invalid) => invalid.code,
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "invalid_playback_token",
            ApiError::NotFound => "video_not_found",
            ApiError::LinkNotFound => "link_not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::RangeNotSatisfiable { .. } => "range_not_satisfiable",
            ApiError::Conflict { code, .. }
            | ApiError::Denied { code, .. }
            | ApiError::Gone { code, .. }
            | ApiError::Unprocessable { code, .. }
            | ApiError::TooManyRequests { code, .. } => code,
            ApiError::Unavailable(_) => "service_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// What the caller is told; internal causes stay in the log.
    fn public_message(&self) -> String {
        match self {
            ApiError::Unavailable(_) => "storage is temporarily unavailable; retry shortly".into(),
            ApiError::Internal(_) => "internal error".into(),
            other => other.to_string(),
        }
    }

    pub fn into_response(self, request_id: &str) -> Response<Body> {
        match &self {
            ApiError::Internal(_) => tracing::error!(request_id, error = %self, "internal error"),
            ApiError::Unavailable(_) => {
                tracing::warn!(request_id, error = %self, "dependency unavailable")
            }
            _ => {}
        }
        let mut response = error_response(self.status(), self.code(), &self.public_message());
        let headers = response.headers_mut();
        match self {
            ApiError::Unavailable(_) => {
                headers.insert(http::header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            }
            ApiError::TooManyRequests { .. } => {
                headers.insert(http::header::RETRY_AFTER, HeaderValue::from(QUOTA_RETRY_AFTER_SECS));
            }
            ApiError::MethodNotAllowed { allow } => {
                headers.insert(http::header::ALLOW, HeaderValue::from_static(allow));
            }
            ApiError::RangeNotSatisfiable { size } => {
                headers.insert(
                    http::header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{size}")).expect("digits are a valid header"),
                );
                headers.insert(http::header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            }
            _ => {}
        }
        response
    }
}

/// A JSON error body with the given status; also used by the local gateway for its own errors.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    crate::http::request::json_response(status, &json!({"error": {"code": code, "message": message}}))
}

/// The one mapping of a use case's answer to the HTTP contract.
impl From<UploadError> for ApiError {
    fn from(err: UploadError) -> Self {
        match err {
            UploadError::Invalid(invalid) => ApiError::Invalid(invalid),
            UploadError::NotFound | UploadError::Vanished(_) => ApiError::NotFound,
            UploadError::LinkNotFound => ApiError::LinkNotFound,
            UploadError::LinkGone { code, message } => ApiError::Gone { code, message },
            UploadError::QuotaExceeded(message) => {
                ApiError::TooManyRequests { code: "quota_exceeded", message }
            }
            UploadError::Conflict { code, message } => ApiError::Conflict { code, message },
            e @ UploadError::NotAVideo(_) => {
                ApiError::Unprocessable { code: "not_a_video", message: e.to_string() }
            }
            UploadError::Store(e) => e.into(),
            UploadError::Objects(e) => e.into(),
            UploadError::Credentials(CredentialError::Disabled) => ApiError::invalid(
                "credentials_not_enabled",
                "this deployment has no uploader role; use \"method\": \"presigned\"",
            ),
            UploadError::Credentials(CredentialError::Unavailable(why)) => {
                ApiError::Unavailable(format!("sts: {why}"))
            }
            UploadError::Credentials(CredentialError::Other(why)) => {
                ApiError::Internal(format!("sts: {why}"))
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(why) => ApiError::Unavailable(format!("dynamodb: {why}")),
            other => ApiError::Internal(format!("dynamodb: {other}")),
        }
    }
}

impl From<ObjectError> for ApiError {
    fn from(err: ObjectError) -> Self {
        match err {
            ObjectError::Unavailable(why) => ApiError::Unavailable(format!("s3: {why}")),
            other => ApiError::Internal(format!("s3: {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(r.body().as_ref()).unwrap()
    }

    #[test]
    fn invalid_input_is_a_400_with_its_code_and_message() {
        let r = ApiError::invalid("invalid_size", "size must be at least 1 byte").into_response("r1");
        assert_eq!(r.status(), 400);
        assert_eq!(
            body(&r),
            json!({"error": {"code": "invalid_size", "message": "size must be at least 1 byte"}})
        );
        assert_eq!(r.headers()["content-type"], "application/json");
    }

    #[test]
    fn unavailable_is_a_503_with_retry_after_and_no_internals() {
        let r =
            ApiError::from(StoreError::Unavailable("dispatch failure: connection refused 10.0.0.1".into()))
                .into_response("r1");
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "2");
        let text = body(&r).to_string();
        assert!(!text.contains("10.0.0.1") && !text.contains("dispatch"), "{text}");
        assert_eq!(body(&r)["error"]["code"], "service_unavailable");
    }

    #[test]
    fn internal_errors_say_nothing_of_their_cause() {
        let r = ApiError::from(ObjectError::Other("AccessDenied: arn:aws:iam::123:role/x".into()))
            .into_response("r1");
        assert_eq!(r.status(), 500);
        assert_eq!(body(&r), json!({"error": {"code": "internal_error", "message": "internal error"}}));
    }

    #[test]
    fn each_use_case_answer_has_its_status_and_code() {
        use crate::domain::VideoId;
        for (err, status, code) in [
            (UploadError::invalid("invalid_size", "no"), 400, "invalid_size"),
            (UploadError::NotFound, 404, "video_not_found"),
            (UploadError::Vanished(VideoId::new()), 404, "video_not_found"),
            (UploadError::conflict("upload_aborted", "no"), 409, "upload_aborted"),
            (UploadError::NotAVideo("no video track".into()), 422, "not_a_video"),
            (UploadError::QuotaExceeded("no".into()), 429, "quota_exceeded"),
            (UploadError::Credentials(CredentialError::Disabled), 400, "credentials_not_enabled"),
            (UploadError::Credentials(CredentialError::Unavailable("x".into())), 503, "service_unavailable"),
            (UploadError::Store(StoreError::Unavailable("x".into())), 503, "service_unavailable"),
            (UploadError::Objects(ObjectError::Other("x".into())), 500, "internal_error"),
        ] {
            let r = ApiError::from(err).into_response("r1");
            assert_eq!((r.status().as_u16(), body(&r)["error"]["code"].as_str()), (status, Some(code)));
        }
    }
}
