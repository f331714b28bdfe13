//! An in-memory [`EventBus`] for unit tests: keeps what was published, and can refuse.

use std::sync::Mutex;

use async_trait::async_trait;

use super::{BusError, BusEvent, EventBus, MAX_EVENTS_PER_CALL};

#[derive(Default)]
pub struct MemoryBus {
    published: Mutex<Vec<BusEvent>>,
    /// Entries whose `detail` contains this text are refused (one entry failing in a call).
    refuse: Mutex<Option<String>>,
    unavailable: Mutex<bool>,
}

impl MemoryBus {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn published(&self) -> Vec<BusEvent> {
        self.published.lock().unwrap().clone()
    }

    /// Refuses every entry whose detail contains `text` from now on (`None`: refuse nothing).
    pub fn refuse(&self, text: Option<&str>) {
        *self.refuse.lock().unwrap() = text.map(str::to_owned);
    }

    pub fn set_unavailable(&self, unavailable: bool) {
        *self.unavailable.lock().unwrap() = unavailable;
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn publish(&self, events: &[BusEvent]) -> Result<Vec<Option<String>>, BusError> {
        assert!(events.len() <= MAX_EVENTS_PER_CALL, "{} events in one call", events.len());
        if *self.unavailable.lock().unwrap() {
            return Err(BusError::Unavailable("the memory bus is down".into()));
        }
        let refuse = self.refuse.lock().unwrap().clone();
        let mut published = self.published.lock().unwrap();
        Ok(events
            .iter()
            .map(|event| match &refuse {
                Some(text) if event.detail.contains(text.as_str()) => Some("InternalFailure".to_owned()),
                _ => {
                    published.push(event.clone());
                    None
                }
            })
            .collect())
    }
}
