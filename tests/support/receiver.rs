//! A webhook receiver on 127.0.0.1 for lifecycle events: answers what a test tells it to, and
//! keeps what it got. Stopped when dropped.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::Webhook;

/// What the receiver answers and what it got.
#[derive(Default)]
pub struct Received {
    /// Answer this status to the next requests, one each, before answering 200.
    pub failures: Vec<u16>,
    /// Answer this to every request once `failures` is spent (200 when unset).
    pub always: Option<u16>,
    pub events: Vec<Value>,
    pub api_keys: BTreeSet<String>,
    pub requests: usize,
}

pub struct Receiver {
    pub url: String,
    pub state: Arc<Mutex<Received>>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(failures: Vec<u16>, always: Option<u16>) -> Self {
        let state = Arc::new(Mutex::new(Received { failures, always, ..Default::default() }));
        let shared = state.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let state = shared.clone();
                async move {
                    let mut s = state.lock().unwrap();
                    s.requests += 1;
                    if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
                        s.api_keys.insert(key.to_owned());
                    }
                    if !s.failures.is_empty() {
                        let status = s.failures.remove(0);
                        return AxumStatus::from_u16(status).unwrap();
                    }
                    if let Some(status) = s.always {
                        return AxumStatus::from_u16(status).unwrap();
                    }
                    s.events.push(serde_json::from_str(&body).expect("the webhook is sent JSON"));
                    AxumStatus::OK
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, state, server }
    }

    pub fn webhook(&self, attempts: u32) -> Webhook {
        Webhook {
            url: self.url.clone(),
            header: Some(("X-Api-Key".into(), "receiver-secret".into())),
            attempts,
            first_backoff: Duration::from_secs(1),
        }
    }

    pub fn events(&self) -> Vec<Value> {
        self.state.lock().unwrap().events.clone()
    }

    /// Waits until every `(video id, detail-type)` in `wanted` has arrived; returns all events.
    pub async fn wait_for(&self, wanted: &BTreeSet<(String, String)>) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let events = self.events();
            let got: BTreeSet<(String, String)> = events.iter().map(key_of).collect();
            if wanted.is_subset(&got) {
                return events;
            }
            assert!(
                Instant::now() < deadline,
                "waited 90 s for {:?}; got {got:?}",
                wanted.difference(&got).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub fn key_of(event: &Value) -> (String, String) {
    (
        event["detail"]["id"].as_str().unwrap_or_default().to_owned(),
        event["detail-type"].as_str().unwrap_or_default().to_owned(),
    )
}
