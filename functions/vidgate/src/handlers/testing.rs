//! Handler test support: memory fakes behind an `App`, and requests built as API Gateway events.

use std::sync::Arc;

use lambda_http::Request;
use serde_json::{Map, Value, json};

use crate::domain::{Video, VideoId};
use crate::http::HttpFunction;
use crate::http::event::Event;
use crate::http::routes::Router;
use crate::objects::memory::MemoryObjectStore;
use crate::store::memory::MemoryVideoStore;
use crate::{App, Config};

pub struct Harness {
    pub app: App,
    pub videos: Arc<MemoryVideoStore>,
    pub objects: Arc<MemoryObjectStore>,
}

impl Harness {
    /// Who the harness's requests are signed in as.
    pub const OWNER: &'static str = "alice";

    pub fn new() -> Self {
        Self::with_config(Config::for_tests())
    }

    /// A harness whose stream replies carry at most `cap` bytes.
    pub fn with_range_cap(cap: u64) -> Self {
        Self::with_config(Config { range_cap: cap, ..Config::for_tests() })
    }

    /// A harness whose playback goes through a CDN at `url`, signing with `pem` (key pair `K1`).
    pub fn with_cdn(url: &str, pem: &str) -> Self {
        let cdn = crate::config::CdnSettings {
            url: url.to_owned(),
            key_pair_id: "K1".into(),
            private_key: crate::config::PrivateKeySource::Pem(pem.to_owned()),
        };
        let mut harness = Self::with_config(Config { cdn: Some(cdn), ..Config::for_tests() });
        let signer = crate::cdn::UrlSigner::from_pem("K1", pem).expect("a valid test key");
        harness.app = harness.app.with_cdn(Some(signer));
        harness
    }

    pub fn with_config(config: Config) -> Self {
        let videos = Arc::new(MemoryVideoStore::new());
        let objects = Arc::new(MemoryObjectStore::new());
        let app = App::new(config, videos.clone(), objects.clone());
        Self { app, videos, objects }
    }

    /// A request as API Gateway would pass it, signed in as `sub` (or anonymous).
    pub fn request(&self, method: &str, path_and_query: &str, body: &str, sub: Option<&str>) -> Request {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let (route, params) =
            Router::default().find(method, path).unwrap_or_else(|e| panic!("{method} {path}: {e:?}"));
        let claims: Option<Map<String, Value>> = sub.map(|s| json!({"sub": s}).as_object().unwrap().clone());
        Event {
            route: &route,
            path,
            raw_query: query,
            headers: &[("content-type".into(), "application/json".into())],
            path_params: &params,
            claims: claims.as_ref(),
            body: body.as_bytes(),
            request_id: "test-request",
            source_ip: "127.0.0.1",
        }
        .to_request()
        .expect("test events parse")
    }

    /// A request from an app backend: a token with these OAuth `scope`s (space-separated).
    pub fn scoped(&self, method: &str, path: &str, body: Value, sub: &str, scope: &str) -> Request {
        let (route, params) =
            Router::default().find(method, path).unwrap_or_else(|e| panic!("{method} {path}: {e:?}"));
        let claims = json!({"sub": sub, "scope": scope}).as_object().unwrap().clone();
        let body = body.to_string();
        Event {
            route: &route,
            path,
            raw_query: "",
            headers: &[("content-type".into(), "application/json".into())],
            path_params: &params,
            claims: Some(&claims),
            body: body.as_bytes(),
            request_id: "test-request",
            source_ip: "127.0.0.1",
        }
        .to_request()
        .expect("test events parse")
    }

    pub fn raw(&self, method: &str, path: &str, body: &str) -> Request {
        self.request(method, path, body, Some("alice"))
    }

    pub fn post(&self, path: &str, body: Value) -> Request {
        self.raw("POST", path, &body.to_string())
    }

    pub fn get(&self, path: &str) -> Request {
        self.raw("GET", path, "")
    }

    pub fn delete(&self, path: &str) -> Request {
        self.raw("DELETE", path, "")
    }

    pub async fn stored(&self, id: &str) -> Option<Video> {
        let id: VideoId = id.parse().ok()?;
        self.app.videos.get(&id).await.unwrap()
    }

    /// Creates an upload for alice; returns the create reply.
    pub async fn create(&self, body: Value) -> Value {
        self.create_as(Self::OWNER, body).await
    }

    /// Creates an upload for `sub`; returns the create reply.
    pub async fn create_as(&self, sub: &str, body: Value) -> Value {
        let request = self.request("POST", "/v1/uploads", &body.to_string(), Some(sub));
        let (status, reply) = call(&self.app, HttpFunction::CreateUpload, request).await;
        assert_eq!(status, 201, "{reply}");
        reply
    }
}

/// Runs `function` on `req`; returns the status and the JSON body (`null` when empty).
pub async fn call(app: &App, function: HttpFunction, req: Request) -> (u16, Value) {
    let response = super::handle(app, function, req).await.unwrap();
    let status = response.status().as_u16();
    let body: &[u8] = response.body().as_ref();
    let value =
        if body.is_empty() { Value::Null } else { serde_json::from_slice(body).expect("responses are JSON") };
    (status, value)
}
