//! The `EventBus` port: where lifecycle events are published (EventBridge in AWS and locally,
//! through moto), with an in-memory fake for unit tests.

#[cfg(any(test, feature = "test-util"))]
pub mod memory;

use async_trait::async_trait;

use vidgate_domain::time::Timestamp;

/// One event to publish; the bus adds the envelope (`id`, `account`, `region`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusEvent {
    pub source: &'static str,
    pub detail_type: &'static str,
    /// The `detail` object, as JSON text.
    pub detail: String,
    /// The envelope's `time`: when the change happened, not when it was published.
    pub time: Timestamp,
    pub resources: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The bus can't be reached or is throttling: nothing is known to be published.
    #[error("event bus unavailable: {0}")]
    Unavailable(String),
    #[error("event bus error: {0}")]
    Other(String),
}

/// At most this many events go in one call (EventBridge's `PutEvents` limit).
pub const MAX_EVENTS_PER_CALL: usize = 10;

#[async_trait]
pub trait EventBus: Send + Sync {
    /// Publishes up to [`MAX_EVENTS_PER_CALL`] events; answers, for each in order, `None` when it
    /// was published or why it was not (a call can succeed for some entries only).
    async fn publish(&self, events: &[BusEvent]) -> Result<Vec<Option<String>>, BusError>;
}
