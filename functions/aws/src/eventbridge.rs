//! The EventBridge adapter of [`EventBus`]: `PutEvents` on one bus.

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::sdk::{Failure, classify};
use vidgate_uploads::bus::{BusError, BusEvent, EventBus};

pub struct EventBridgeBus {
    client: Client,
    bus: String,
}

impl EventBridgeBus {
    /// Publishes to `bus` (a name or an ARN).
    pub fn new(sdk: &aws_config::SdkConfig, bus: &str) -> Self {
        Self { client: Client::new(sdk), bus: bus.to_owned() }
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, events: &[BusEvent]) -> Result<Vec<Option<String>>, BusError> {
        let entries = events
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(e.source)
                    .detail_type(e.detail_type)
                    .detail(&e.detail)
                    .time(DateTime::from_millis(e.time.timestamp_millis()))
                    .set_resources(Some(e.resources.clone()))
                    .build()
            })
            .collect::<Vec<_>>();
        let out =
            self.client.put_events().set_entries(Some(entries)).send().await.map_err(|e| {
                match classify(&e) {
                    Failure::Unavailable(why) => BusError::Unavailable(why),
                    Failure::Service { code, message } => BusError::Other(format!("{code}: {message}")),
                    Failure::Other(why) => BusError::Other(why),
                }
            })?;
        let results = out.entries.unwrap_or_default();
        if results.len() != events.len() {
            // PutEvents answers one result per entry, in order; anything else can't be matched.
            return Err(BusError::Other(format!("{} results for {} events", results.len(), events.len())));
        }
        Ok(results
            .into_iter()
            .map(|r| r.error_code.map(|code| format!("{code}: {}", r.error_message.unwrap_or_default())))
            .collect())
    }
}
