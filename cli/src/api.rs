//! The vidgate HTTP API as typed calls.
//!
//! Every call is retried on network errors, 5xx and 429 (honouring `Retry-After`); any other
//! error answer becomes [`CliError::Api`] with the API's own code and message (a 401,
//! [`CliError::Unauthorized`] with how to get a token). Nothing listening at the address is
//! [`CliError::Unreachable`] after one retry, not after the whole backoff: it is the stack not
//! running far more often than a network blip.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::retry::{Backoff, Verdict, classify};
use crate::{CliError, Result};

/// A video record as the API shows it; the whole JSON is kept for `--json` output.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Video {
    pub id: String,
    pub status: String,
    pub filename: String,
    pub size: Option<u64>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub part_size: u64,
    pub part_count: Option<u32>,
    pub created_at: String,
    /// The algorithm the upload declared (`crc64nvme`), if any.
    #[serde(default)]
    pub checksum_algorithm: Option<String>,
    /// S3's checksum of the stored object.
    #[serde(default)]
    pub checksum: Option<Checksum>,
    #[serde(skip)]
    pub raw: Value,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Checksum {
    pub algorithm: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    pub video_id: String,
    pub part_size: u64,
    pub part_count: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartUrl {
    pub part_number: u32,
    /// `None` when S3 holds the part already (`etag` is then its ETag): nothing to send.
    pub url: Option<String>,
    /// Headers the `PUT` must send as given (the part's checksum).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub etag: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    pub part_number: u32,
    pub etag: String,
    #[serde(default, skip_serializing)]
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Parts {
    parts: Vec<Part>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    videos: Vec<Value>,
    next_cursor: Option<String>,
}

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
    /// An upload link's `uploadUrl` is `base`: no token, and its routes name its one upload.
    link: bool,
    backoff: Backoff,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            http: http_client(),
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            link: false,
            backoff: Backoff::default(),
        }
    }

    /// The API as an upload link's holder: `upload_url` (`…/v1/links/<token>`, what the app's
    /// backend was given) is all it has, and the one upload it starts is all it reaches.
    pub fn for_link(upload_url: &str) -> Result<Self> {
        let url = upload_url.trim().trim_end_matches('/');
        let shaped = (url.starts_with("https://") || url.starts_with("http://"))
            && url
                .rsplit_once("/v1/links/")
                .is_some_and(|(_, token)| !token.is_empty() && !token.contains('/'));
        if !shaped {
            return Err(CliError::Refused(format!(
                "{url:?} is no upload link: give the uploadUrl the app's backend was given (…/v1/links/<token>)"
            )));
        }
        Ok(Self { link: true, ..Self::new(url, "") })
    }

    /// The upload link's URL, when this is one's holder.
    pub fn link_url(&self) -> Option<&str> {
        self.link.then_some(self.base.as_str())
    }

    /// The path of a call: `v1` on the API, `on_link` under an upload link's URL.
    fn path(&self, v1: String, on_link: &str) -> String {
        if self.link { on_link.to_owned() } else { v1 }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The HTTP client, shared with the S3 transfers (one connection pool).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A dev token from the local stack (`POST /local/token`), for `--dev-user`.
    pub async fn dev_token(base: &str, user: &str) -> Result<String> {
        let url = format!("{}/local/token", base.trim_end_matches('/'));
        let response = http_client()
            .post(&url)
            .json(&json!({"sub": user}))
            .send()
            .await
            .map_err(|e| unreachable(base, &e))?;
        if !response.status().is_success() {
            return Err(CliError::Refused(format!(
                "{url} gave no dev token (HTTP {}); --dev-user works only against the local stack",
                response.status()
            )));
        }
        let body: Value = response.json().await.map_err(|e| CliError::Refused(e.to_string()))?;
        body["token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| CliError::Refused("no token in the reply".into()))
    }

    /// One API call; `None` for an empty (204) answer.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<T>> {
        let url = format!("{}{path}", self.base);
        let mut last = String::new();
        let mut asked_wait: Option<Duration> = None;
        for attempt in 0..self.backoff.attempts {
            if attempt > 0 {
                // The server's `Retry-After` if it sent one, else the jittered backoff.
                tokio::time::sleep(self.backoff.delay_or(attempt - 1, asked_wait.take())).await;
            }
            let mut request = self.http.request(method.clone(), &url);
            if !self.link {
                request = request.bearer_auth(&self.token);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) if e.is_connect() && attempt >= CONNECT_ATTEMPTS - 1 => {
                    return Err(unreachable(&self.base, &e));
                }
                Err(e) => {
                    last = format!("{method} {path}: {e}");
                    continue;
                }
            };
            let status = response.status();
            let retry_after = retry_after(&response);
            let bytes = response.bytes().await.unwrap_or_default();
            match classify(status.as_u16(), "") {
                Verdict::Done if status == StatusCode::NO_CONTENT || bytes.is_empty() => return Ok(None),
                Verdict::Done => {
                    return serde_json::from_slice(&bytes).map(Some).map_err(|e| CliError::Api {
                        status: status.as_u16(),
                        code: "unexpected_reply".into(),
                        message: format!("{method} {path}: {e}"),
                    });
                }
                Verdict::Retry => {
                    last = format!("{method} {path}: HTTP {status}");
                    asked_wait = retry_after;
                }
                Verdict::Resign | Verdict::Fail => return Err(api_error(status, &bytes)),
            }
        }
        Err(CliError::Exhausted { attempts: self.backoff.attempts, last })
    }

    async fn call_some<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T> {
        self.call(method.clone(), path, body).await?.ok_or_else(|| CliError::Api {
            status: 204,
            code: "unexpected_reply".into(),
            message: format!("{method} {path} answered with no body"),
        })
    }

    pub async fn create_upload(&self, request: &Value) -> Result<Created> {
        let path = self.path("/v1/uploads".into(), "/upload");
        self.call_some(Method::POST, &path, Some(request)).await
    }

    /// URLs for `numbers`; with `checksums` (one per number) each URL signs its part's.
    pub async fn sign_parts(
        &self,
        id: &str,
        numbers: &[u32],
        checksums: Option<&[String]>,
    ) -> Result<Vec<PartUrl>> {
        #[derive(Deserialize)]
        struct Signed {
            urls: Vec<PartUrl>,
        }
        let mut body = json!({"partNumbers": numbers});
        if let Some(checksums) = checksums {
            body["partChecksums"] = json!(checksums);
        }
        let path = self.path(format!("/v1/uploads/{id}/part-urls"), "/part-urls");
        let signed: Signed = self.call_some(Method::POST, &path, Some(&body)).await?;
        Ok(signed.urls)
    }

    pub async fn list_parts(&self, id: &str) -> Result<Vec<Part>> {
        if self.link {
            return self.arrived_parts().await;
        }
        let parts: Parts = self.call_some(Method::GET, &format!("/v1/uploads/{id}/parts"), None).await?;
        Ok(parts.parts)
    }

    /// An upload link has no parts listing: its plan, signed in pages, says which parts S3 holds.
    async fn arrived_parts(&self) -> Result<Vec<Part>> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Signed {
            urls: Vec<Planned>,
            next: Option<u32>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Planned {
            part_number: u32,
            length: Option<u64>,
            etag: Option<String>,
        }
        let mut parts = Vec::new();
        let mut from = Some(1);
        while let Some(n) = from {
            let page: Signed = self.call_some(Method::POST, "/part-urls", Some(&json!({"from": n}))).await?;
            parts.extend(page.urls.into_iter().filter_map(|p| {
                Some(Part { part_number: p.part_number, etag: p.etag?, size: p.length?, checksum: None })
            }));
            from = page.next;
        }
        Ok(parts)
    }

    /// Completes with `parts`; with `checksum` (the whole file's) S3 assembles only those bytes.
    pub async fn complete(&self, id: &str, parts: &[Part], checksum: Option<&str>) -> Result<Video> {
        let mut body = json!({"parts": parts});
        if let Some(checksum) = checksum {
            body["checksum"] = json!(checksum);
        }
        let path = self.path(format!("/v1/uploads/{id}/complete"), "/complete");
        let done: Value = self.call_some(Method::POST, &path, Some(&body)).await?;
        video(done["video"].clone())
    }

    pub async fn abort(&self, id: &str) -> Result<()> {
        self.call::<Value>(Method::DELETE, &format!("/v1/uploads/{id}"), None).await.map(|_| ())
    }

    /// Deletes a video in any state; deleting it again succeeds again.
    pub async fn delete(&self, id: &str) -> Result<()> {
        self.call::<Value>(Method::DELETE, &format!("/v1/videos/{id}"), None).await.map(|_| ())
    }

    pub async fn video(&self, id: &str) -> Result<Video> {
        if self.link {
            return match self.link_video().await? {
                Some(video) if video.id == id => Ok(video),
                _ => Err(CliError::Api {
                    status: 404,
                    code: "video_not_found".into(),
                    message: format!("video {id} is not this upload link's"),
                }),
            };
        }
        video(self.call_some(Method::GET, &format!("/v1/videos/{id}"), None).await?)
    }

    /// The upload an upload link started, if it started one.
    async fn link_video(&self) -> Result<Option<Video>> {
        let seen: Value = self.call_some(Method::GET, "", None).await?;
        match &seen["video"] {
            Value::Null => Ok(None),
            v => video(v.clone()).map(Some),
        }
    }

    /// Every video of the caller with `status` (all of them when `None`), newest first; under an
    /// upload link, its one upload.
    pub async fn videos(&self, status: Option<&str>, limit: usize) -> Result<Vec<Video>> {
        if self.link {
            let found = self.link_video().await?;
            return Ok(found
                .into_iter()
                .filter(|v| status.is_none_or(|s| v.status == s))
                .take(limit)
                .collect());
        }
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = "/v1/videos?limit=100".to_string();
            if let Some(status) = status {
                path.push_str(&format!("&status={status}"));
            }
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let page: Page = self.call_some(Method::GET, &path, None).await?;
            for v in page.videos {
                out.push(video(v)?);
            }
            match page.next_cursor {
                Some(next) if out.len() < limit => cursor = Some(next),
                _ => break,
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    /// The playback URL: a CloudFront signed URL, or the stream route's with a playback token.
    /// The playback reply: `url`, `expiresAt`, `posterUrl`, `storyboardUrl`.
    pub async fn playback_urls(&self, id: &str) -> Result<Value> {
        self.call_some(Method::POST, &format!("/v1/videos/{id}/playback"), None).await
    }

    /// Asks for the poster at `time_ms`; returns the video (its images `pending`).
    pub async fn set_poster(&self, id: &str, time_ms: u64) -> Result<Video> {
        let body = serde_json::json!({ "timeMs": time_ms });
        video(self.call_some(Method::POST, &format!("/v1/videos/{id}/poster"), Some(&body)).await?)
    }

    pub async fn playback(&self, id: &str) -> Result<String> {
        let reply: Value = self.call_some(Method::POST, &format!("/v1/videos/{id}/playback"), None).await?;
        reply["url"].as_str().map(str::to_owned).ok_or_else(|| CliError::Api {
            status: 200,
            code: "unexpected_reply".into(),
            message: "the playback reply has no url".into(),
        })
    }
}

/// Tries before a refused connection is reported as the API not running.
const CONNECT_ATTEMPTS: u32 = 2;

/// The innermost cause (`Connection refused`), not reqwest's "error sending request".
fn unreachable(base: &str, error: &reqwest::Error) -> CliError {
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    CliError::Unreachable { url: base.trim_end_matches('/').to_owned(), cause: cause.to_string() }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(64)
        .build()
        .expect("a TLS backend is compiled in")
}

fn video(raw: Value) -> Result<Video> {
    let mut video: Video = serde_json::from_value(raw.clone()).map_err(|e| CliError::Api {
        status: 200,
        code: "unexpected_reply".into(),
        message: format!("not a video record: {e}"),
    })?;
    video.raw = raw;
    Ok(video)
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds: u64 =
        response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// The API's `{"error": {"code", "message"}}`, or what there is of it.
fn api_error(status: StatusCode, body: &[u8]) -> CliError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| parsed.as_ref().and_then(|v| v["error"][name].as_str()).map(str::to_owned);
    if status == StatusCode::UNAUTHORIZED {
        return CliError::Unauthorized { message: field("message").unwrap_or_else(|| "unauthorized".into()) };
    }
    CliError::Api {
        status: status.as_u16(),
        code: field("code").unwrap_or_else(|| "http_error".into()),
        message: field("message")
            .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect()),
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A server on 127.0.0.1 answering each connection with the next canned response; returns its
    /// base URL and a handle yielding how many requests it served.
    async fn canned(responses: Vec<&'static str>) -> (String, tokio::task::JoinHandle<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let mut served = 0;
            for response in responses {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await.unwrap();
                socket.write_all(response.as_bytes()).await.unwrap();
                socket.shutdown().await.unwrap();
                served += 1;
            }
            served
        });
        (base, server)
    }

    const VIDEO: &str = r#"{"id":"v1","status":"uploaded","filename":"a.mp4","size":3,"metadata":{},"partSize":5,"partCount":1,"createdAt":"2026-11-22T00:00:00.000Z"}"#;

    #[tokio::test]
    async fn a_503_with_retry_after_and_a_429_are_retried_then_the_answer_is_read() {
        let ok = Box::leak(
            format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{VIDEO}", VIDEO.len())
                .into_boxed_str(),
        );
        let (base, server) = canned(vec![
            "HTTP/1.1 503 Service Unavailable\r\nretry-after: 0\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            "HTTP/1.1 429 Too Many Requests\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            ok,
        ])
        .await;
        let mut api = Api::new(&base, "t");
        api.backoff = Backoff { base: Duration::from_millis(1), cap: Duration::from_millis(5), attempts: 4 };
        let video = api.video("v1").await.unwrap();
        assert_eq!((video.id.as_str(), video.size), ("v1", Some(3)));
        assert_eq!(server.await.unwrap(), 3);
    }

    #[tokio::test]
    async fn an_api_error_is_not_retried_and_keeps_its_code_and_message() {
        let body = r#"{"error":{"code":"video_not_found","message":"video not found"}}"#;
        let response = Box::leak(
            format!(
                "HTTP/1.1 404 Not Found\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let (base, server) = canned(vec![response]).await;
        let error = Api::new(&base, "t").video("v9").await.unwrap_err();
        assert!(
            matches!(&error, CliError::Api { status: 404, code, message } if code == "video_not_found" && message == "video not found"),
            "{error:?}"
        );
        assert_eq!(server.await.unwrap(), 1);
    }
}
