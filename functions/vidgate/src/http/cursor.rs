//! Opaque pagination cursors for `GET /v1/videos`.
//!
//! A cursor is base64url JSON of where the page ended and which status filter produced it, so a
//! cursor can't be replayed against another listing, and a damaged one is a clear 400.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::ApiError;
use crate::domain::time::{self, Timestamp};
use crate::domain::{Status, VideoId};
use crate::store::PageKey;

#[derive(Serialize, Deserialize)]
struct Cursor {
    id: VideoId,
    #[serde(with = "time")]
    at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<Status>,
}

pub fn encode(key: &PageKey, status: Option<Status>) -> String {
    let cursor = Cursor { id: key.id, at: key.created_at, status };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).expect("cursor serializes"))
}

pub fn decode(raw: &str, status: Option<Status>) -> Result<PageKey, ApiError> {
    let invalid = || ApiError::invalid("invalid_cursor", "cursor is not one this listing returned");
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim_end_matches('=')).map_err(|_| invalid())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if cursor.status != status {
        return Err(invalid());
    }
    Ok(PageKey { id: cursor.id, created_at: cursor.at })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_filter() {
        let key = PageKey { id: VideoId::new(), created_at: time::now() };
        let raw = encode(&key, Some(Status::Uploading));
        assert_eq!(decode(&raw, Some(Status::Uploading)).unwrap(), key);
        assert!(decode(&raw, None).is_err());
        assert!(decode("bm90IGpzb24", None).is_err());
        assert!(decode("%%%", None).is_err());
    }
}
