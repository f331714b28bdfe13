//! An S3 front for moto that does what moto doesn't: refuse presigned requests past their expiry
//! with S3's own answer (403, `AccessDenied`, "Request has expired"). Everything else is passed
//! through unchanged. It also records every part `PUT` it saw, so tests can count what a client
//! sent, and can add latency to them (a slow link, which is when URLs expire in practice).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDateTime, Utc};
use http::StatusCode;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// One part `PUT` as the edge saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartPut {
    pub part_number: u32,
    /// What the client got: 200, or 403 for an expired URL.
    pub status: u16,
}

struct Inner {
    upstream: String,
    latency: Duration,
    http: reqwest::Client,
    puts: Mutex<Vec<PartPut>>,
}

pub struct S3Edge {
    pub endpoint: String,
    inner: Arc<Inner>,
    shutdown: Option<oneshot::Sender<()>>,
}

/// S3's reply to a presigned request past its `X-Amz-Expires`.
const EXPIRED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message><X-Amz-Expires>{expires}</X-Amz-Expires><Expires>{at}</Expires><ServerTime>{now}</ServerTime></Error>";

impl S3Edge {
    /// Fronts `upstream` (moto) on a free port; part `PUT`s wait `latency` after the expiry check.
    pub async fn start(upstream: &str, latency: Duration) -> Self {
        let inner = Arc::new(Inner {
            upstream: upstream.trim_end_matches('/').to_owned(),
            latency,
            http: reqwest::Client::new(),
            puts: Mutex::new(Vec::new()),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let app = axum::Router::new().fallback(forward).with_state(inner.clone());
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        Self { endpoint, inner, shutdown: Some(tx) }
    }

    /// Every part `PUT` so far, in arrival order.
    pub fn puts(&self) -> Vec<PartPut> {
        self.inner.puts.lock().unwrap().clone()
    }

    /// Part numbers `PUT` successfully, from the `from`-th record on.
    pub fn stored_parts_since(&self, from: usize) -> Vec<u32> {
        self.puts().iter().skip(from).filter(|p| p.status == 200).map(|p| p.part_number).collect()
    }
}

impl Drop for S3Edge {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// When a presigned URL stops being valid: `X-Amz-Date` + `X-Amz-Expires`.
fn expiry(query: &str) -> Option<(chrono::DateTime<Utc>, u64)> {
    let date = NaiveDateTime::parse_from_str(query_param(query, "X-Amz-Date")?, "%Y%m%dT%H%M%SZ").ok()?;
    let expires: u64 = query_param(query, "X-Amz-Expires")?.parse().ok()?;
    Some((date.and_utc() + chrono::Duration::seconds(expires as i64), expires))
}

async fn forward(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let query = parts.uri.query().unwrap_or("").to_owned();
    let part_number: Option<u32> = if parts.method == http::Method::PUT {
        query_param(&query, "partNumber").and_then(|n| n.parse().ok())
    } else {
        None
    };
    // Read the whole request first, as S3 does before it answers: an answer sent mid-upload makes
    // the client see a broken connection instead of the 403.
    let body = to_bytes(body, 1 << 30).await.unwrap_or_default();
    if let Some((at, expires)) = expiry(&query) {
        let now = Utc::now();
        if now > at {
            if let Some(part_number) = part_number {
                inner.puts.lock().unwrap().push(PartPut { part_number, status: 403 });
            }
            let body = EXPIRED
                .replace("{expires}", &expires.to_string())
                .replace("{at}", &at.to_rfc3339())
                .replace("{now}", &now.to_rfc3339());
            return (StatusCode::FORBIDDEN, [("content-type", "application/xml")], body).into_response();
        }
    }
    if part_number.is_some() && !inner.latency.is_zero() {
        tokio::time::sleep(inner.latency).await;
    }
    let url = format!("{}{}", inner.upstream, parts.uri.path_and_query().map_or("/", |p| p.as_str()));
    let mut upstream = inner.http.request(parts.method.clone(), url).body(body);
    for (name, value) in &parts.headers {
        if name != http::header::HOST {
            upstream = upstream.header(name, value);
        }
    }
    let response = match upstream.send().await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = response.status();
    if let Some(part_number) = part_number {
        inner.puts.lock().unwrap().push(PartPut { part_number, status: status.as_u16() });
    }
    let mut reply = Response::builder().status(status);
    for (name, value) in response.headers() {
        if name != http::header::TRANSFER_ENCODING && name != http::header::CONNECTION {
            reply = reply.header(name, value);
        }
    }
    let bytes = response.bytes().await.unwrap_or_default();
    reply.body(Body::from(bytes)).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_read_from_the_presigned_query() {
        let (at, expires) =
            expiry("X-Amz-Algorithm=AWS4&X-Amz-Date=20261122T030000Z&X-Amz-Expires=60&x=1").unwrap();
        assert_eq!((at.to_rfc3339().as_str(), expires), ("2026-11-22T03:01:00+00:00", 60));
        assert_eq!(expiry("partNumber=1"), None);
    }
}
