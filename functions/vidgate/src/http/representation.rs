//! A stored video as an HTTP representation: its validators, and RFC 9110's conditional
//! requests over them. The stream route and the local stack's CloudFront answer with the same
//! rules, so a player sees one behaviour whichever serves it.

use std::time::{Duration, SystemTime};

use http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE,
    LAST_MODIFIED, X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderMap, StatusCode};
use lambda_http::Response;

use crate::domain::Video;
use crate::domain::range;

/// Browsers may keep bytes of an uploaded video: its key never gets other bytes.
pub const CACHE: &str = "private, max-age=3600";

pub fn header(headers: &HeaderMap, name: http::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The representation's validators and type.
pub struct Representation<'a> {
    pub size: u64,
    pub etag: String,
    pub modified: SystemTime,
    pub content_type: &'a str,
}

impl<'a> Representation<'a> {
    pub fn of(video: &'a Video) -> Self {
        let etag = video.etag.as_deref().unwrap_or_default();
        let etag = if etag.starts_with('"') { etag.to_owned() } else { format!("\"{etag}\"") };
        let modified = video.completed_at.unwrap_or(video.updated_at);
        // HTTP dates have whole seconds.
        let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(modified.timestamp().max(0) as u64);
        Self { size: video.size.unwrap_or(0), etag, modified, content_type: video.playback_type() }
    }

    pub fn response(&self, status: StatusCode) -> http::response::Builder {
        Response::builder()
            .status(status)
            .header(ACCEPT_RANGES, "bytes")
            .header(ETAG, &self.etag)
            .header(LAST_MODIFIED, httpdate::fmt_http_date(self.modified))
            .header(CONTENT_TYPE, self.content_type)
            // The type is the record's (a video type): no browser may guess another from the bytes.
            .header(X_CONTENT_TYPE_OPTIONS, "nosniff")
            .header(CACHE_CONTROL, CACHE)
    }

    /// RFC 9110 §13.1.2–3: `If-None-Match` (weak comparison) wins over `If-Modified-Since`.
    pub fn not_modified(&self, headers: &HeaderMap) -> bool {
        if let Some(tags) = header(headers, IF_NONE_MATCH) {
            return range::none_match(tags, &self.etag);
        }
        header(headers, IF_MODIFIED_SINCE)
            .and_then(|date| httpdate::parse_http_date(date).ok())
            .is_some_and(|since| self.modified <= since)
    }

    /// RFC 9110 §13.1.5: a range applies only if `If-Range` (when sent) still names this
    /// representation — by strong ETag, or by exactly its `Last-Modified` date.
    pub fn if_range_holds(&self, headers: &HeaderMap) -> bool {
        match header(headers, IF_RANGE).map(str::trim) {
            None => true,
            Some(tag) if tag.starts_with('"') || tag.starts_with("W/") => {
                range::strong_match(tag, &self.etag)
            }
            Some(date) => httpdate::parse_http_date(date).is_ok_and(|d| d == self.modified),
        }
    }
}
