//! Delivering each lifecycle event to the app's webhook, signed as Standard Webhooks says
//! ([`vidgate_domain::webhook`]), so the receiver can tell a real delivery from a forged, altered
//! or replayed one.
//!
//! EventBridge's API destinations can't compute an HMAC, so the bus's rule puts each event on a
//! queue and `deliver-webhooks` POSTs it: the event's envelope as the body, `webhook-id` = the
//! envelope's `id` (the same on every retry of that event, the receiver's deduplication key for
//! deliveries), `webhook-timestamp` = now. What an API destination retried (5xx, 429, 401, 407,
//! 409, a timeout, a refused connection) comes back after a doubling wait; any other status, and
//! an event older than the deployment's maximum age, goes to the dead-letter queue at once; after
//! the queue's most receives SQS moves it there itself.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use vidgate_domain::time::Timestamp;
use vidgate_domain::webhook::{self, WebhookSecrets};

use crate::config::ConfigError;

/// The settings deliver-webhooks reads at Init.
pub const VARIABLES: [&str; 5] = [
    "VIDGATE_WEBHOOK_URL",
    "VIDGATE_WEBHOOK_SECRET_NAME",
    "VIDGATE_WEBHOOK_QUEUE",
    "VIDGATE_WEBHOOK_DEAD_LETTERS",
    "VIDGATE_WEBHOOK_MAX_AGE_SECS",
];

/// An API destination gives up on a request after 5 s; so does a delivery.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// What an API destination keeps retrying for, at most: a day.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(86_400);

/// How long a delivery waits before the next attempt: doubling from `first` up to `cap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub first: Duration,
    pub cap: Duration,
    /// Older events are dead-lettered, not delivered.
    pub max_age: Duration,
}

impl Default for RetryPolicy {
    /// 1 s, 2 s, 4 s … up to 10 minutes: with the template's 185 receives, retries fill the day
    /// an event may wait.
    fn default() -> Self {
        Self { first: Duration::from_secs(1), cap: Duration::from_secs(600), max_age: DEFAULT_MAX_AGE }
    }
}

/// deliver-webhooks' settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookConfig {
    /// `VIDGATE_WEBHOOK_URL`: where every event is POSTed (HTTPS in a deployment).
    pub url: String,
    /// `VIDGATE_WEBHOOK_SECRET_NAME`: the Secrets Manager secret holding the active signing
    /// secrets (`whsec_…`, space-separated; newest first).
    pub secret_name: String,
    /// `VIDGATE_WEBHOOK_QUEUE`: the URL of the queue the events wait in (a retry's wait is set there).
    pub queue: String,
    /// `VIDGATE_WEBHOOK_DEAD_LETTERS`: the queue URL refused events go to.
    pub dead_letters: String,
    pub retry: RetryPolicy,
}

impl WebhookConfig {
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).ok_or(ConfigError::Missing(name))
        };
        let url = required("VIDGATE_WEBHOOK_URL")?;
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: "VIDGATE_WEBHOOK_URL",
                reason: format!("{url:?} is not an http(s) URL"),
            });
        }
        let mut retry = RetryPolicy::default();
        if let Some(raw) = get("VIDGATE_WEBHOOK_MAX_AGE_SECS") {
            let secs: u64 =
                raw.trim().parse().ok().filter(|s| (60..=86_400).contains(s)).ok_or_else(|| {
                    ConfigError::Invalid {
                        name: "VIDGATE_WEBHOOK_MAX_AGE_SECS",
                        reason: format!("{raw:?} is not a number of seconds within 60..=86400"),
                    }
                })?;
            retry.max_age = Duration::from_secs(secs);
        }
        Ok(Self {
            url,
            secret_name: required("VIDGATE_WEBHOOK_SECRET_NAME")?,
            queue: required("VIDGATE_WEBHOOK_QUEUE")?,
            dead_letters: required("VIDGATE_WEBHOOK_DEAD_LETTERS")?,
            retry,
        })
    }
}

/// One signed POST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedDelivery {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: String,
}

impl SignedDelivery {
    /// The request's headers, as the spec names them.
    pub fn headers(&self) -> [(&'static str, String); 4] {
        [
            ("content-type", "application/json".to_owned()),
            ("webhook-id", self.id.clone()),
            ("webhook-timestamp", self.timestamp.to_string()),
            ("webhook-signature", self.signature.clone()),
        ]
    }
}

/// The receiver: answers the HTTP status, or why there was none (a timeout, a refused connection).
#[async_trait]
pub trait Receiver: Send + Sync {
    async fn post(&self, delivery: &SignedDelivery) -> Result<u16, String>;
}

/// Where the active signing secrets are read (Secrets Manager, or the local stack's variable);
/// read again now and then, so a rotation takes effect without a deploy.
#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn active(&self) -> Result<WebhookSecrets, String>;
}

/// A fixed set of secrets (the local stack's `VIDGATE_EVENTS_WEBHOOK_SECRET`; tests).
#[async_trait]
impl SecretSource for WebhookSecrets {
    async fn active(&self) -> Result<WebhookSecrets, String> {
        Ok(self.clone())
    }
}

/// What happened to one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Try again after `wait`.
    Retry { wait: Duration, why: String },
    /// Never delivered: it goes to the dead-letter queue.
    Refused { why: String },
}

#[derive(Deserialize)]
struct Envelope {
    id: String,
    time: Timestamp,
}

/// Delivers one queued event (`body`, EventBridge's envelope), on its `attempt`th receive.
pub async fn deliver(
    receiver: &impl Receiver,
    secrets: &impl SecretSource,
    retry: &RetryPolicy,
    body: &str,
    attempt: u32,
    now: Timestamp,
) -> Outcome {
    let wait = || webhook::backoff(attempt, retry.first, retry.cap, fastrand::f64());
    let envelope: Envelope = match serde_json::from_str(body) {
        Ok(envelope) => envelope,
        Err(e) => return Outcome::Refused { why: format!("not an EventBridge event: {e}") },
    };
    let age = (now - envelope.time).to_std().unwrap_or_default();
    if age > retry.max_age {
        return Outcome::Refused {
            why: format!(
                "the event is {} s old, past the {} s it may wait",
                age.as_secs(),
                retry.max_age.as_secs()
            ),
        };
    }
    let secrets = match secrets.active().await {
        Ok(secrets) => secrets,
        Err(why) => return Outcome::Retry { wait: wait(), why: format!("no signing secret: {why}") },
    };
    let timestamp = now.timestamp();
    let delivery = SignedDelivery {
        signature: secrets.sign(&envelope.id, timestamp, body),
        id: envelope.id,
        timestamp,
        body: body.to_owned(),
    };
    match receiver.post(&delivery).await {
        Ok(status) if (200..300).contains(&status) => Outcome::Delivered,
        Ok(status) if webhook::retried(status) => {
            Outcome::Retry { wait: wait(), why: format!("answered {status}") }
        }
        Ok(status) => Outcome::Refused { why: format!("answered {status}") },
        Err(why) => Outcome::Retry { wait: wait(), why },
    }
}

/// The queue the events wait in: a retried one comes back after its wait (its visibility), a
/// refused one is moved to the dead-letter queue.
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    async fn retry_in(&self, receipt: &str, wait: Duration) -> Result<(), String>;
    async fn dead_letter(&self, body: &str) -> Result<(), String>;
}

/// deliver-webhooks' ports: the receiver, the secrets and the queue.
pub struct Webhook<R, S, Q> {
    pub receiver: R,
    pub secrets: S,
    pub queue: Q,
    pub retry: RetryPolicy,
}

impl<R: Receiver, S: SecretSource, Q: DeliveryQueue> Webhook<R, S, Q> {
    /// Delivers one queued message; `true` when it is done with (delivered, or kept in the
    /// dead-letter queue), `false` when it must come back (its wait is set on the queue).
    pub async fn handle(&self, body: &str, receipt: &str, attempt: u32, now: Timestamp) -> bool {
        match deliver(&self.receiver, &self.secrets, &self.retry, body, attempt, now).await {
            Outcome::Delivered => true,
            Outcome::Retry { wait, why } => {
                tracing::warn!(attempt, why, wait_secs = wait.as_secs(), "webhook delivery failed; retried");
                if let Err(e) = self.queue.retry_in(receipt, wait).await {
                    // It comes back after the queue's visibility timeout instead.
                    tracing::warn!(error = e, "setting the retry's wait");
                }
                false
            }
            Outcome::Refused { why } => {
                tracing::warn!(attempt, why, "webhook delivery refused; dead-lettered");
                match self.queue.dead_letter(body).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!(error = e, "dead-lettering a refused event; it comes back");
                        false
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    struct Answering {
        status: Result<u16, String>,
        seen: Mutex<Vec<SignedDelivery>>,
    }

    impl Answering {
        fn new(status: Result<u16, String>) -> Self {
            Self { status, seen: Mutex::new(Vec::new()) }
        }
    }

    #[async_trait]
    impl Receiver for Answering {
        async fn post(&self, delivery: &SignedDelivery) -> Result<u16, String> {
            self.seen.lock().unwrap().push(delivery.clone());
            self.status.clone()
        }
    }

    struct Unreadable;

    #[async_trait]
    impl SecretSource for Unreadable {
        async fn active(&self) -> Result<WebhookSecrets, String> {
            Err("AccessDenied".into())
        }
    }

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn event(time: &str) -> String {
        format!(
            r#"{{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"Video Uploaded","source":"vidgate","time":"{time}","detail":{{"id":"v1"}}}}"#
        )
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[tokio::test]
    async fn an_event_is_posted_as_it_was_queued_signed_over_its_id_the_time_and_the_body() {
        let receiver = Answering::new(Ok(204));
        let secrets = WebhookSecrets::parse(SECRET).unwrap();
        let body = event("2026-12-07T10:00:00Z");
        let now = at("2026-12-07T10:00:03Z");
        let outcome = deliver(&receiver, &secrets, &RetryPolicy::default(), &body, 1, now).await;
        assert_eq!(outcome, Outcome::Delivered);
        let seen = receiver.seen.lock().unwrap();
        let delivery = &seen[0];
        assert_eq!(delivery.body, body);
        assert_eq!(delivery.id, "6a7e8feb-b491-4cf7-a9f1-bf3703467718");
        assert_eq!(delivery.timestamp, now.timestamp());
        assert_eq!(delivery.signature, secrets.sign(&delivery.id, now.timestamp(), &body));
        let headers = delivery.headers();
        assert_eq!(
            headers.clone().map(|(name, _)| name),
            ["content-type", "webhook-id", "webhook-timestamp", "webhook-signature"]
        );
        assert!(headers[3].1.starts_with("v1,"));
    }

    #[tokio::test]
    async fn what_an_api_destination_retries_comes_back_later_and_other_refusals_are_dead_lettered() {
        let secrets = WebhookSecrets::parse(SECRET).unwrap();
        let body = event("2026-12-07T10:00:00Z");
        let now = at("2026-12-07T10:05:00Z");
        let policy = RetryPolicy::default();
        for (answer, retried) in [
            (Ok(503), true),
            (Ok(429), true),
            (Ok(401), true),
            (Err("connection refused".to_owned()), true),
            (Ok(400), false),
            (Ok(410), false),
        ] {
            let receiver = Answering::new(answer.clone());
            match deliver(&receiver, &secrets, &policy, &body, 4, now).await {
                Outcome::Retry { wait, .. } => {
                    assert!(retried, "{answer:?}");
                    assert!((8..=10).contains(&wait.as_secs()), "{wait:?}");
                }
                Outcome::Refused { why } => {
                    assert!(!retried, "{answer:?}");
                    assert!(why.contains("answered 4"), "{why}");
                }
                Outcome::Delivered => panic!("{answer:?} delivered"),
            }
        }
        // An unreadable secret: nothing is posted unsigned; it comes back.
        let receiver = Answering::new(Ok(200));
        let outcome = deliver(&receiver, &Unreadable, &policy, &body, 1, now).await;
        assert!(
            matches!(outcome, Outcome::Retry { ref why, .. } if why.contains("AccessDenied")),
            "{outcome:?}"
        );
        assert!(receiver.seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_event_past_its_age_and_a_message_that_is_no_event_are_refused_unposted() {
        let secrets = WebhookSecrets::parse(SECRET).unwrap();
        let receiver = Answering::new(Ok(200));
        let policy = RetryPolicy { max_age: Duration::from_secs(3600), ..RetryPolicy::default() };
        let old = event("2026-12-07T08:00:00Z");
        let outcome = deliver(&receiver, &secrets, &policy, &old, 30, at("2026-12-07T10:00:01Z")).await;
        assert!(matches!(outcome, Outcome::Refused { ref why } if why.contains("7201 s old")), "{outcome:?}");
        let outcome = deliver(&receiver, &secrets, &policy, "{}", 1, at("2026-12-07T10:00:01Z")).await;
        assert!(matches!(outcome, Outcome::Refused { ref why } if why.contains("not an EventBridge event")));
        assert!(receiver.seen.lock().unwrap().is_empty());
    }

    #[test]
    fn the_settings_are_read_once_and_a_bad_one_is_named() {
        fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        }
        let full = [
            ("VIDGATE_WEBHOOK_URL", "https://app.example.com/hooks"),
            ("VIDGATE_WEBHOOK_SECRET_NAME", "arn:aws:secretsmanager:us-east-1:1:secret:hook"),
            ("VIDGATE_WEBHOOK_QUEUE", "https://sqs.us-east-1.amazonaws.com/1/hook"),
            ("VIDGATE_WEBHOOK_DEAD_LETTERS", "https://sqs.us-east-1.amazonaws.com/1/dead"),
            ("VIDGATE_WEBHOOK_MAX_AGE_SECS", "3600"),
        ];
        let config = WebhookConfig::from_env(env(&full)).unwrap();
        assert_eq!(config.retry.max_age, Duration::from_secs(3600));
        assert_eq!(config.url, "https://app.example.com/hooks");
        let err = WebhookConfig::from_env(env(&full[1..])).unwrap_err();
        assert!(err.to_string().contains("VIDGATE_WEBHOOK_URL"), "{err}");
        let err = WebhookConfig::from_env(env(&[
            ("VIDGATE_WEBHOOK_URL", "https://x"),
            ("VIDGATE_WEBHOOK_SECRET_NAME", "s"),
            ("VIDGATE_WEBHOOK_QUEUE", "q"),
            ("VIDGATE_WEBHOOK_DEAD_LETTERS", "d"),
            ("VIDGATE_WEBHOOK_MAX_AGE_SECS", "5"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("VIDGATE_WEBHOOK_MAX_AGE_SECS"), "{err}");
    }
}
