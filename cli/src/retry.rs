//! When to try again, and how long to wait first.

use std::time::Duration;

/// Exponential backoff with full jitter: attempt `n` waits a random time in
/// `0..=min(cap, base × 2ⁿ)`, so many clients retrying at once spread out instead of colliding.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    /// Tries in all, the first included.
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { base: Duration::from_millis(250), cap: Duration::from_secs(20), attempts: 8 }
    }
}

impl Backoff {
    /// The wait before retry number `retry` (0 = the first retry).
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.base.saturating_mul(1u32 << retry.min(20)).min(self.cap);
        ceiling.mul_f64(fastrand::f64())
    }

    /// The wait a server asked for (`Retry-After` seconds), capped, or the jittered backoff.
    pub fn delay_or(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        retry_after.map_or_else(|| self.delay(retry), |d| d.min(self.cap))
    }
}

/// What to do after an HTTP answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Done,
    /// Worth another try after a backoff: 5xx, 429, 408.
    Retry,
    /// A presigned URL expired: sign a new one and try again at once.
    Resign,
    /// A 4xx that will fail the same way every time.
    Fail,
}

/// S3's answer to a presigned request. An expired URL is a 403 whose XML says
/// `Request has expired`; every other 403 (bad signature, denied) can't be fixed by retrying.
pub fn classify(status: u16, body: &str) -> Verdict {
    match status {
        200..=299 => Verdict::Done,
        403 if body.contains("Request has expired") => Verdict::Resign,
        408 | 429 | 500..=599 => Verdict::Retry,
        _ => Verdict::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_under_the_cap_and_are_jittered() {
        let b = Backoff { base: Duration::from_millis(100), cap: Duration::from_secs(2), attempts: 8 };
        for retry in 0..30 {
            let ceiling = Duration::from_millis(100).saturating_mul(1 << retry.min(20)).min(b.cap);
            for _ in 0..50 {
                assert!(b.delay(retry) <= ceiling);
            }
        }
        let samples: Vec<Duration> = (0..50).map(|_| b.delay(5)).collect();
        assert!(samples.iter().any(|d| *d != samples[0]), "no jitter");
        assert_eq!(b.delay_or(0, Some(Duration::from_secs(60))), b.cap);
        assert_eq!(b.delay_or(0, Some(Duration::from_millis(5))), Duration::from_millis(5));
    }

    #[test]
    fn s3_answers_are_classified() {
        let expired = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>";
        let denied = "<Error><Code>SignatureDoesNotMatch</Code><Message>…</Message></Error>";
        assert_eq!(classify(200, ""), Verdict::Done);
        assert_eq!(classify(403, expired), Verdict::Resign);
        assert_eq!(classify(403, denied), Verdict::Fail);
        assert_eq!(classify(404, "NoSuchUpload"), Verdict::Fail);
        assert_eq!(classify(400, "EntityTooSmall"), Verdict::Fail);
        for status in [408, 429, 500, 502, 503, 504] {
            assert_eq!(classify(status, ""), Verdict::Retry, "{status}");
        }
    }
}
