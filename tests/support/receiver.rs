//! A webhook receiver on 127.0.0.1 for lifecycle events: answers what a test tells it to, keeps
//! what it got, and verifies every delivery's signature with the Standard Webhooks spec's own
//! Rust library, as a receiver written in Rust would. Stopped when dropped.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::Webhook;

/// The receiver's secret, as a Standard Webhooks sender is given it.
pub const SECRET: &str = "whsec_cmVjZWl2ZXItc2VjcmV0LXJlY2VpdmVyLXNlY3JldA==";

/// What the receiver answers and what it got.
#[derive(Default)]
pub struct Received {
    /// Answer this status to the next requests, one each, before answering 200.
    pub failures: Vec<u16>,
    /// Answer this to every request once `failures` is spent (200 when unset).
    pub always: Option<u16>,
    pub events: Vec<Value>,
    /// Deliveries whose signature `standardwebhooks` verified, and why the others failed.
    pub verified: usize,
    pub unverified: Vec<String>,
    /// Every `webhook-id` received, retries included.
    pub ids: Vec<String>,
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
                    match standardwebhooks::Webhook::new(SECRET).unwrap().verify(body.as_bytes(), &headers) {
                        Ok(()) => s.verified += 1,
                        Err(e) => s.unverified.push(e.to_string()),
                    }
                    if let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok()) {
                        s.ids.push(id.to_owned());
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
            secrets: vidgate::domain::webhook::WebhookSecrets::parse(SECRET).unwrap(),
            attempts,
            retry: vidgate::uploads::webhooks::RetryPolicy {
                cap: Duration::from_secs(60),
                ..Default::default()
            },
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
