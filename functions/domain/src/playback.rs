//! Playback tokens: a `<video>` tag can't send an `Authorization` header, so the stream URL
//! carries a token — an expiry and an HMAC-SHA256 over the video id and that expiry, keyed with
//! a server secret. A token opens one video until it expires, and nothing else. An images token
//! ([`Scope::Images`]) opens only that video's poster, storyboard and sprites: a poster URL
//! handed to a page that shows thumbnails plays nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::VideoId;
use super::time::Timestamp;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("playback token is malformed")]
    Malformed,
    #[error("playback token is not valid for this video")]
    BadSignature,
    #[error("playback token has expired")]
    Expired,
}

/// What a token opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The video's bytes (the stream route).
    Video,
    /// Its pictures only (the storyboard and image routes).
    Images,
}

fn mac(secret: &[u8], scope: Scope, id: &VideoId, expires: i64) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    let label = match scope {
        Scope::Video => "vidgate-playback-v1",
        Scope::Images => "vidgate-images-v1",
    };
    mac.update(format!("{label}:{id}:{expires}").as_bytes());
    mac
}

/// `<expiry unix seconds>.<base64url HMAC>`, opening the video.
pub fn issue(secret: &[u8], id: &VideoId, expires_at: Timestamp) -> String {
    issue_for(Scope::Video, secret, id, expires_at)
}

/// A token opening what `scope` names of video `id`.
pub fn issue_for(scope: Scope, secret: &[u8], id: &VideoId, expires_at: Timestamp) -> String {
    let expires = expires_at.timestamp();
    let tag = mac(secret, scope, id, expires).finalize().into_bytes();
    format!("{expires}.{}", URL_SAFE_NO_PAD.encode(tag))
}

pub fn verify(secret: &[u8], token: &str, id: &VideoId, now: Timestamp) -> Result<(), TokenError> {
    verify_for(Scope::Video, secret, token, id, now).map(|_| ())
}

/// Checks a token of `scope`; returns its expiry.
pub fn verify_for(
    scope: Scope,
    secret: &[u8],
    token: &str,
    id: &VideoId,
    now: Timestamp,
) -> Result<i64, TokenError> {
    let (expires, tag) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let expires: i64 = expires.parse().map_err(|_| TokenError::Malformed)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Malformed)?;
    // Constant-time comparison, and before the expiry check so timing tells nothing of the tag.
    mac(secret, scope, id, expires).verify_slice(&tag).map_err(|_| TokenError::BadSignature)?;
    if now.timestamp() >= expires {
        return Err(TokenError::Expired);
    }
    Ok(expires)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time;
    use chrono::Duration;

    #[test]
    fn a_token_opens_its_video_until_it_expires() {
        let id = VideoId::new();
        let now = time::now();
        let token = issue(b"secret", &id, now + Duration::seconds(60));
        assert_eq!(verify(b"secret", &token, &id, now), Ok(()));
        assert_eq!(verify(b"secret", &token, &id, now + Duration::seconds(61)), Err(TokenError::Expired));
    }

    #[test]
    fn an_images_token_opens_no_video_and_a_video_token_no_images() {
        let id = VideoId::new();
        let now = time::now();
        let later = now + Duration::seconds(60);
        let images = issue_for(Scope::Images, b"secret", &id, later);
        assert_eq!(verify_for(Scope::Images, b"secret", &images, &id, now), Ok(later.timestamp()));
        assert_eq!(verify(b"secret", &images, &id, now), Err(TokenError::BadSignature));
        let video = issue(b"secret", &id, later);
        assert_eq!(verify_for(Scope::Images, b"secret", &video, &id, now), Err(TokenError::BadSignature));
    }

    #[test]
    fn tokens_for_other_videos_other_secrets_or_tampered_fail() {
        let id = VideoId::new();
        let now = time::now();
        let token = issue(b"secret", &id, now + Duration::seconds(60));
        assert_eq!(verify(b"secret", &token, &VideoId::new(), now), Err(TokenError::BadSignature));
        assert_eq!(verify(b"other", &token, &id, now), Err(TokenError::BadSignature));
        let (expires, tag) = token.split_once('.').unwrap();
        let later = format!("{}.{tag}", expires.parse::<i64>().unwrap() + 3600);
        assert_eq!(verify(b"secret", &later, &id, now), Err(TokenError::BadSignature));
        for bad in ["", "abc", "1.%%%", "x.y"] {
            assert_eq!(verify(b"secret", bad, &id, now), Err(TokenError::Malformed), "{bad}");
        }
    }
}
