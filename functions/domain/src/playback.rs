//! Playback tokens: a `<video>` tag can't send an `Authorization` header, so the stream URL
//! carries a token — an expiry and an HMAC-SHA256 over the video id and that expiry, keyed with
//! a server secret. A token opens one video until it expires, and nothing else.

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

fn mac(secret: &[u8], id: &VideoId, expires: i64) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(format!("vidgate-playback-v1:{id}:{expires}").as_bytes());
    mac
}

/// `<expiry unix seconds>.<base64url HMAC>`.
pub fn issue(secret: &[u8], id: &VideoId, expires_at: Timestamp) -> String {
    let expires = expires_at.timestamp();
    let tag = mac(secret, id, expires).finalize().into_bytes();
    format!("{expires}.{}", URL_SAFE_NO_PAD.encode(tag))
}

pub fn verify(secret: &[u8], token: &str, id: &VideoId, now: Timestamp) -> Result<(), TokenError> {
    let (expires, tag) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let expires: i64 = expires.parse().map_err(|_| TokenError::Malformed)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Malformed)?;
    // Constant-time comparison, and before the expiry check so timing tells nothing of the tag.
    mac(secret, id, expires).verify_slice(&tag).map_err(|_| TokenError::BadSignature)?;
    if now.timestamp() >= expires {
        return Err(TokenError::Expired);
    }
    Ok(())
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
