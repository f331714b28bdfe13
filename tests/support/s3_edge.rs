//! A slow link in front of the local S3: it delays part `PUT`s by a latency (which is when URLs
//! expire in practice), can corrupt a part's bytes on the way, and records each `PUT` with the
//! status S3 gave it, so tests can count what a client sent. Requests pass unchanged, `Host` included, so their signatures still verify; the
//! refusals (an expired URL's 403 among them) are the local S3's own.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// One part `PUT` as the edge saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartPut {
    pub part_number: u32,
    /// What the client got: 200, or S3's refusal (403 for an expired URL).
    pub status: u16,
}

struct Inner {
    upstream: String,
    latency: Duration,
    http: reqwest::Client,
    puts: Mutex<Vec<PartPut>>,
    /// Flip one byte of the next `times` `PUT`s of this part (a link that corrupts).
    corrupt: Mutex<Option<(u32, u32)>>,
}

pub struct S3Edge {
    pub endpoint: String,
    inner: Arc<Inner>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl S3Edge {
    /// Fronts `upstream` (the local AWS endpoint) on a free port; part `PUT`s wait `latency`.
    pub async fn start(upstream: &str, latency: Duration) -> Self {
        let inner = Arc::new(Inner {
            upstream: upstream.trim_end_matches('/').to_owned(),
            latency,
            http: reqwest::Client::new(),
            puts: Mutex::new(Vec::new()),
            corrupt: Mutex::new(None),
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

    /// From now on, one byte of each of the next `times` `PUT`s of part `part` is flipped on the
    /// way to S3 (headers, signature and length unchanged).
    pub fn corrupt_part(&self, part: u32, times: u32) {
        *self.inner.corrupt.lock().unwrap() = Some((part, times));
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
    let mut body = to_bytes(body, 1 << 30).await.unwrap_or_default();
    if let Some(n) = part_number
        && let Some((part, times)) = inner.corrupt.lock().unwrap().as_mut()
        && *part == n
        && *times > 0
        && !body.is_empty()
    {
        *times -= 1;
        let mut flipped = body.to_vec();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x20;
        body = flipped.into();
    }
    if part_number.is_some() && !inner.latency.is_zero() {
        tokio::time::sleep(inner.latency).await;
    }
    let url = format!("{}{}", inner.upstream, parts.uri.path_and_query().map_or("/", |p| p.as_str()));
    let mut upstream = inner.http.request(parts.method.clone(), url).body(body);
    for (name, value) in &parts.headers {
        if name != http::header::CONTENT_LENGTH {
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
