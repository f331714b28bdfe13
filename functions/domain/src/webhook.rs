//! Webhook deliveries a receiver can verify, as the Standard Webhooks spec writes them
//! (<https://www.standardwebhooks.com>): `webhook-id`, `webhook-timestamp` (Unix seconds) and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the bytes of a
//! `whsec_<base64>` secret. During a rotation two secrets are active and the header carries one
//! signature for each, space-separated, so a receiver holding either verifies.
//!
//! Signed here with `hmac`/`sha2` (already ours for playback tokens) rather than the spec's Rust
//! crate, which signs with one secret per call and brings a second `base64` and `time`; the tests
//! verify with the spec's own Python library.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The spec's prefix of a secret's text form.
pub const SECRET_PREFIX: &str = "whsec_";

/// At most this many secrets are active at once: the new and the old one during a rotation, and
/// room for one more while a receiver is slow to switch.
pub const MAX_SECRETS: usize = 3;

/// The spec's bounds on a secret's bytes.
const SECRET_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// The active signing secrets, newest first.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecrets(Vec<Vec<u8>>);

impl std::fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookSecrets({} active)", self.0.len())
    }
}

impl WebhookSecrets {
    /// One to [`MAX_SECRETS`] secrets separated by whitespace, each `whsec_<base64>` or the bare
    /// base64 (what Secrets Manager generates: 32 letters and digits are 24 bytes of base64).
    /// The message never repeats a secret.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut secrets = Vec::new();
        for (n, word) in text.split_whitespace().enumerate() {
            let encoded = word.strip_prefix(SECRET_PREFIX).unwrap_or(word);
            let key = STANDARD
                .decode(encoded)
                .map_err(|_| format!("webhook secret {} is not whsec_ followed by base64", n + 1))?;
            if !SECRET_BYTES.contains(&key.len()) {
                return Err(format!(
                    "webhook secret {} is {} bytes; the spec wants 24 to 64 (e.g. whsec_$(openssl rand -base64 32))",
                    n + 1,
                    key.len()
                ));
            }
            secrets.push(key);
        }
        match secrets.len() {
            0 => Err("no webhook secret (whsec_…)".into()),
            n if n > MAX_SECRETS => {
                Err(format!("{n} webhook secrets; at most {MAX_SECRETS} are active at once"))
            }
            _ => Ok(Self(secrets)),
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `webhook-signature` value for one delivery: `v1,<sig>` per secret, space-separated.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        let signatures: Vec<String> = self
            .0
            .iter()
            .map(|key| {
                let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
                mac.update(format!("{id}.{timestamp}.").as_bytes());
                mac.update(body.as_bytes());
                format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
            })
            .collect();
        signatures.join(" ")
    }
}

/// What a failed delivery leads to, by the receiver's status: what an EventBridge API destination
/// retries (5xx, 429, and 401, 407, 409) comes back later; any other status is a refusal, kept in
/// the dead-letter queue at once.
pub fn retried(status: u16) -> bool {
    (500..600).contains(&status) || matches!(status, 401 | 407 | 409 | 429)
}

/// How long delivery `attempt` (1 = the first) waits before the next: doubling from `first`,
/// at most `cap`, with up to a fifth of jitter (`jitter` in 0..1) so receivers that come back
/// are not hit by every retry at once.
pub fn backoff(attempt: u32, first: Duration, cap: Duration, jitter: f64) -> Duration {
    let doubled = first.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let base = doubled.min(cap);
    let spread = base.mul_f64(jitter.clamp(0.0, 1.0) / 5.0);
    (base + spread).min(cap).max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The spec's own test vector (standard-webhooks libraries' tests): this id, timestamp, body
    // and secret sign to this signature.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1614265330;
    const SPEC_BODY: &str = r#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn a_delivery_is_signed_as_the_spec_signs_its_test_vector() {
        let secrets = WebhookSecrets::parse(SPEC_SECRET).unwrap();
        assert_eq!(secrets.sign(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY), SPEC_SIGNATURE);
        // The bare base64 is the same secret.
        let bare = WebhookSecrets::parse(SPEC_SECRET.trim_start_matches(SECRET_PREFIX)).unwrap();
        assert_eq!(bare, secrets);
    }

    #[test]
    fn during_a_rotation_each_active_secret_signs_in_its_order() {
        let other = format!("whsec_{}", STANDARD.encode([7u8; 32]));
        let both = WebhookSecrets::parse(&format!("{other}\n {SPEC_SECRET}")).unwrap();
        assert_eq!(both.len(), 2);
        let header = both.sign(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY);
        let (first, second) = header.split_once(' ').unwrap();
        assert_eq!(second, SPEC_SIGNATURE);
        assert_eq!(first, WebhookSecrets::parse(&other).unwrap().sign(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY));
        assert_ne!(first, second);
        // A changed body or timestamp is another signature.
        assert_ne!(both.sign(SPEC_ID, SPEC_TIMESTAMP, r#"{"test": 2432232315}"#), header);
        assert_ne!(both.sign(SPEC_ID, SPEC_TIMESTAMP + 1, SPEC_BODY), header);
    }

    #[test]
    fn a_secret_that_is_no_spec_secret_is_refused_without_being_repeated() {
        for (text, why) in [
            ("", "no webhook secret"),
            ("whsec_not*base64", "not whsec_ followed by base64"),
            ("whsec_c2hvcnQ=", "is 5 bytes"),
        ] {
            let err = WebhookSecrets::parse(text).unwrap_err();
            assert!(err.contains(why), "{text:?}: {err}");
            assert!(!err.contains("c2hvcnQ") && !err.contains("not*base64"), "{err}");
        }
        let four = [SPEC_SECRET; 4].join(" ");
        assert!(WebhookSecrets::parse(&four).unwrap_err().contains("at most 3"));
        assert_eq!(format!("{:?}", WebhookSecrets::parse(SPEC_SECRET).unwrap()), "WebhookSecrets(1 active)");
    }

    #[test]
    fn an_api_destinations_retried_statuses_come_back_and_other_refusals_do_not() {
        for status in [500, 502, 503, 504, 429, 401, 407, 409] {
            assert!(retried(status), "{status}");
        }
        for status in [400, 403, 404, 410, 413, 422] {
            assert!(!retried(status), "{status}");
        }
    }

    #[test]
    fn the_wait_doubles_from_the_first_up_to_the_cap_with_a_bounded_jitter() {
        let (first, cap) = (Duration::from_secs(1), Duration::from_secs(600));
        let waits: Vec<u64> = (1..=12).map(|n| backoff(n, first, cap, 0.0).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(backoff(3, first, cap, 1.0), Duration::from_millis(4800));
        assert_eq!(backoff(200, first, cap, 1.0), cap);
        assert_eq!(backoff(0, Duration::ZERO, cap, 0.5), Duration::from_secs(1));
    }
}
