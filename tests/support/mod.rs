//! The real local stack for integration tests, started per test on free ports and stopped when
//! the test's `Stack` is dropped: the local AWS endpoint (the strict local S3, and moto's server
//! for DynamoDB, STS and SQS as a child process) and the local API gateway, all on 127.0.0.1.

use std::path::PathBuf;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use vidgate::aws::dynamodb::DynamoVideoStore;
use vidgate::aws::s3::S3ObjectStore;
use vidgate::{App, Config};
use vidgate_local::aws::AwsEndpoint;
use vidgate_local::bootstrap;
use vidgate_local::gateway::{self, Gateway};
use vidgate_local::jwt::DevJwt;
use vidgate_local::lifecycle;
pub use vidgate_local::lifecycle::{Webhook, WebhookQueues};
pub use vidgate_local::notifications::{Delivery, Queues};
pub use vidgate_local::throttle::Throttles;

pub mod receiver;
pub mod s3_edge;
use s3_edge::S3Edge;

pub const BUCKET: &str = "vidgate-test";
pub const TABLE: &str = "vidgate-test-videos";
pub const MIB: usize = 1024 * 1024;

/// Which dependency the gateway should find unreachable.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    None,
    S3,
    DynamoDb,
}

pub struct Stack {
    pub api: String,
    pub http: reqwest::Client,
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    jwt: DevJwt,
    app: App,
    s3_endpoint: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    pump: Option<JoinHandle<()>>,
    /// The stream reader and webhook deliverer of [`Stack::publish_lifecycle_events`].
    lifecycle: Vec<JoinHandle<()>>,
    sdk: aws_config::SdkConfig,
    /// Set by [`Stack::start_behind_edge`]: what presigned URLs point at.
    pub edge: Option<S3Edge>,
    _aws: AwsEndpoint,
}

fn moto_program() -> PathBuf {
    std::env::var_os("VIDGATE_MOTO_SERVER").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/moto_server")),
        PathBuf::from,
    )
}

/// An endpoint where nothing listens: connections are refused at once.
async fn dead_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_with(Outage::None).await
    }

    pub async fn start_with(outage: Outage) -> Self {
        Self::start_configured(outage, |_| {}).await
    }

    /// A stack whose functions run with `configure`d settings (the local defaults otherwise).
    pub async fn start_configured(outage: Outage, configure: impl FnOnce(&mut Config)) -> Self {
        Self::start_inner(outage, None, Throttles::default(), configure).await
    }

    /// A stack whose gateway throttles routes with `throttles` (the template's defaults otherwise).
    pub async fn start_throttled(throttles: Throttles) -> Self {
        Self::start_inner(Outage::None, None, throttles, |_| {}).await
    }

    /// A stack whose S3 traffic (and so every presigned URL) goes through an [`S3Edge`] that
    /// enforces URL expiry and delays part `PUT`s by `latency`.
    pub async fn start_behind_edge(
        latency: std::time::Duration,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        Self::start_inner(Outage::None, Some(latency), Throttles::default(), configure).await
    }

    /// A stack whose functions sign upload URLs with credentials that expire `lifetime` after
    /// they are handed out (`VIDGATE_LOCAL_SIGNING_SECS` of `vidgate-local up`).
    pub async fn start_signing_for(
        lifetime: std::time::Duration,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        Self::start_full(Outage::None, None, Throttles::default(), Some(lifetime), configure).await
    }

    async fn start_inner(
        outage: Outage,
        edge_latency: Option<std::time::Duration>,
        throttles: Throttles,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        Self::start_full(outage, edge_latency, throttles, None, configure).await
    }

    async fn start_full(
        outage: Outage,
        edge_latency: Option<std::time::Duration>,
        throttles: Throttles,
        signing: Option<std::time::Duration>,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        // Handler logs (warnings and errors by default) show up beside a failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .try_init();
        let aws = AwsEndpoint::start(&moto_program(), 0, false)
            .await
            .unwrap_or_else(|e| panic!("{e}\n(infra/test installs moto with infra/local/setup)"));
        let sdk = bootstrap::sdk_config(&aws.endpoint()).await;
        bootstrap::ensure_resources(&sdk, BUCKET, TABLE).await.unwrap();

        let edge = match edge_latency {
            Some(latency) => Some(S3Edge::start(&aws.endpoint(), latency).await),
            None => None,
        };
        let s3_sdk = match &edge {
            Some(edge) => bootstrap::sdk_config(&edge.endpoint).await,
            None => sdk.clone(),
        };
        let dead = bootstrap::sdk_config(&dead_endpoint().await).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = format!("http://{}", listener.local_addr().unwrap());
        // As `vidgate-local up` runs: playback through the local CDN, with a development key
        // (tests turn it off with `c.cdn = None`).
        let cdn_keys = vidgate_local::cdn::local_keys(|_| None, &api).unwrap();
        let mut config = vidgate_local::config::for_local(BUCKET, TABLE);
        config.cdn = cdn_keys.as_ref().map(|keys| keys.settings.clone());
        configure(&mut config);
        let signer = vidgate::aws::cdn::load_signer(&config, &sdk).await.unwrap();
        let local_cdn = match (&config.cdn, &cdn_keys) {
            (Some(_), Some(keys)) => {
                Some(vidgate_local::cdn::LocalCdn::new(keys, bootstrap::s3_client(&s3_sdk), BUCKET))
            }
            _ => None,
        };
        let videos = DynamoVideoStore::new(if outage == Outage::DynamoDb { &dead } else { &sdk }, TABLE)
            .purging_after_days(config.purge_after_days);
        let mut objects =
            S3ObjectStore::new(if outage == Outage::S3 { &dead } else { &s3_sdk }, BUCKET, true);
        if let Some(lifetime) = signing {
            let credentials = aws.expiring_credentials(lifetime);
            objects = objects
                .signing_with(aws_credential_types::provider::SharedCredentialsProvider::new(credentials));
        }
        let role = config.uploader_role_arn.clone().expect("the local defaults name an uploader role");
        let credentials = vidgate::aws::sts::StsIssuer::new(&sdk, &role);
        let app = App::new(config, Arc::new(videos), Arc::new(objects))
            .with_credentials(Arc::new(credentials))
            .with_cdn(signer);

        let jwt = DevJwt::new("integration-test-secret");
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(gateway::serve(
            listener,
            Gateway::with_cdn(app.clone(), jwt.clone(), None, throttles, local_cdn),
            async {
                let _ = rx.await;
            },
        ));

        Self {
            api,
            http: reqwest::Client::new(),
            s3: bootstrap::s3_client(&sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            jwt,
            s3_endpoint: aws.endpoint(),
            app,
            shutdown: Some(tx),
            server: Some(server),
            pump: None,
            lifecycle: Vec::new(),
            sdk,
            edge,
            _aws: aws,
        }
    }

    /// From now on, S3 `ObjectCreated` events reach `on-object-created` as in `vidgate-local up`
    /// (local S3 → SQS → the pump, the template's delivery rules); stopped with the stack.
    pub async fn deliver_s3_events(&mut self) {
        let app = self.app.clone();
        self.deliver_s3_events_to(app, Delivery::default()).await;
    }

    /// [`Stack::deliver_s3_events`] to `app`'s functions with `delivery`'s rules (one pump at a
    /// time: a running one is stopped); returns the queues.
    pub async fn deliver_s3_events_to(&mut self, app: App, delivery: Delivery) -> Queues {
        if let Some(pump) = self.pump.take() {
            pump.abort();
        }
        let queues =
            vidgate_local::notifications::ensure_notifications(&self.sdk, BUCKET, delivery).await.unwrap();
        self.pump =
            Some(tokio::spawn(vidgate_local::notifications::pump(app, self.sdk.clone(), queues.clone())));
        queues
    }

    /// From now on, lifecycle events go as in `vidgate-local up`: the table's stream →
    /// `publish-events` → the local bus → `webhook` (when given), with the template's retries;
    /// returns the webhook's queues. Stopped with the stack.
    pub async fn publish_lifecycle_events(&mut self, webhook: Option<Webhook>) -> Option<WebhookQueues> {
        let bus = self.app.config.event_bus.clone().expect("the local defaults name a bus");
        let queues = lifecycle::ensure_bus(&self.sdk, &bus, webhook.as_ref()).await.unwrap();
        let publisher = Arc::new(vidgate::aws::eventbridge::EventBridgeBus::new(&self.sdk, &bus));
        self.lifecycle.push(tokio::spawn(lifecycle::read_stream(
            self.sdk.clone(),
            self._aws.endpoint(),
            TABLE.to_owned(),
            BUCKET.to_owned(),
            publisher,
            lifecycle::Mapping::default(),
        )));
        if let (Some(webhook), Some(queues)) = (webhook, queues.clone()) {
            self.lifecycle.push(tokio::spawn(lifecycle::deliver(self.sdk.clone(), queues, webhook)));
        }
        queues
    }

    /// From now on, uploaded videos get their pictures as in `vidgate-local up`: `Video Uploaded`
    /// on the local bus → the images rule → its queue → `make-images` with Debian's ffmpeg (call
    /// [`Stack::publish_lifecycle_events`] too: the events come from the table's stream). Returns
    /// the images queues. Stopped with the stack.
    pub async fn make_images(&mut self) -> Queues {
        let bus = self.app.config.event_bus.clone().expect("the local defaults name a bus");
        let queues =
            vidgate_local::images::ensure_images(&self.sdk, &bus, Delivery::default()).await.unwrap();
        let config = vidgate::ffmpeg::FfmpegConfig::from_env(|_| None).unwrap();
        let (ffmpeg, _) = vidgate_local::images::ffmpeg(&self.app, config).await.unwrap();
        let run = vidgate_local::images::run(self.app.clone(), ffmpeg, self.sdk.clone(), queues.clone());
        self.lifecycle.push(tokio::spawn(run));
        queues
    }

    /// From now on, the auto-complete pass runs as in `vidgate-local up`: every
    /// `VIDGATE_AUTOCOMPLETE_IDLE_SECS` (the local default unless the test configured another).
    /// Stopped with the stack.
    pub fn complete_quiet_uploads(&mut self) {
        self.lifecycle.push(tokio::spawn(vidgate_local::schedule::auto_complete(self.app.clone())));
    }

    /// The functions' configuration and ports as this stack runs them, with DynamoDB
    /// unreachable (a dead endpoint): for a pump whose every event fails.
    pub async fn app_without_dynamodb(&self) -> App {
        let dead = bootstrap::sdk_config(&dead_endpoint().await).await;
        let videos = DynamoVideoStore::new(&dead, TABLE);
        let mut app = App::new((*self.app.config).clone(), Arc::new(videos), self.app.objects.clone());
        app.cdn = self.app.cdn.clone();
        app
    }

    pub fn sdk(&self) -> &aws_config::SdkConfig {
        &self.sdk
    }

    /// An S3 client holding nothing but the given (vidgate-issued) temporary credentials.
    pub fn s3_client_with(
        &self,
        access_key: &str,
        secret: &str,
        token: &str,
        region: &str,
    ) -> aws_sdk_s3::Client {
        let credentials = aws_sdk_s3::config::Credentials::new(
            access_key,
            secret,
            Some(token.to_owned()),
            None,
            "vidgate-issued",
        );
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_owned()))
            .credentials_provider(credentials)
            .endpoint_url(self.s3_endpoint())
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// The app the gateway serves (same stores), for calling the event functions directly.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The local AWS endpoint (S3, and DynamoDB, STS, SQS through to moto).
    pub fn s3_endpoint(&self) -> &str {
        &self.s3_endpoint
    }

    pub fn token(&self, sub: &str) -> String {
        self.jwt.issue(sub, 600)
    }

    /// An app backend's token: the client-credentials kind, with the upload-link scope.
    pub fn backend_token(&self, sub: &str) -> String {
        self.jwt.issue_scoped(sub, 600, Some(&self.app.config.upload_link_scope))
    }

    /// A well-formed JWT the API refuses (signed with another key), as an expired or foreign
    /// token is refused.
    pub fn refused_token(&self, sub: &str) -> String {
        DevJwt::new("not-this-stacks-secret").issue(sub, 600)
    }

    /// Every key in the bucket and every DynamoDB item's id: what a refused upload must not leave.
    pub async fn stored(&self) -> (Vec<String>, Vec<String>) {
        let listed = self.s3.list_objects_v2().bucket(BUCKET).send().await.unwrap();
        let keys = listed.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();
        let scanned = self.dynamodb.scan().table_name(TABLE).consistent_read(true).send().await.unwrap();
        let ids = scanned.items().iter().map(|item| s(item, "id")).collect();
        (keys, ids)
    }

    /// Calls the API as `sub` (or without a token); returns the status and JSON body (`null` if empty).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        sub: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request =
            self.http.request(Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{path}", self.api));
        if let Some(sub) = sub {
            request = request.bearer_auth(self.token(sub));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {bytes:?}"))
        };
        (status, value)
    }

    /// `PUT`s bytes to a presigned URL as a browser would (no extra headers); returns the ETag.
    pub async fn put_part(&self, url: &str, bytes: Vec<u8>) -> String {
        let response = self.http.put(url).body(bytes).send().await.unwrap();
        assert_eq!(response.status(), 200, "PUT {url}");
        response.headers()["etag"].to_str().unwrap().to_owned()
    }

    /// The stored object's bytes, read straight from S3.
    pub async fn object(&self, key: &str) -> Vec<u8> {
        let out = self.s3.get_object().bucket(BUCKET).key(key).send().await.unwrap();
        out.body.collect().await.unwrap().into_bytes().to_vec()
    }

    /// The raw DynamoDB item of a video.
    pub async fn item(&self, id: &str) -> std::collections::HashMap<String, AttributeValue> {
        self.dynamodb
            .get_item()
            .table_name(TABLE)
            .key("id", AttributeValue::S(id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap_or_else(|| panic!("no item for {id}"))
    }

    /// Uploads `bytes` through the API (create, sign, PUT, complete) as `sub`; returns the video.
    pub async fn upload(&self, sub: &str, filename: &str, bytes: &[u8]) -> Value {
        let (status, created) = self
            .call(
                "POST",
                "/v1/uploads",
                Some(sub),
                Some(&serde_json::json!({"filename": filename, "size": bytes.len()})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["videoId"].as_str().unwrap().to_owned();
        let part_size = created["partSize"].as_u64().unwrap() as usize;
        let numbers: Vec<usize> = (1..=created["partCount"].as_u64().unwrap() as usize).collect();
        let (status, signed) = self
            .call(
                "POST",
                &format!("/v1/uploads/{id}/part-urls"),
                Some(sub),
                Some(&serde_json::json!({"partNumbers": numbers})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{signed}");
        for (i, url) in signed["urls"].as_array().unwrap().iter().enumerate() {
            let chunk = &bytes[i * part_size..((i + 1) * part_size).min(bytes.len())];
            self.put_part(url["url"].as_str().unwrap(), chunk.to_vec()).await;
        }
        let (status, done) = self.call("POST", &format!("/v1/uploads/{id}/complete"), Some(sub), None).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        done["video"].clone()
    }

    /// Multipart uploads S3 still has open under `key`.
    pub async fn open_uploads(&self, key: &str) -> usize {
        let out = self.s3.list_multipart_uploads().bucket(BUCKET).prefix(key).send().await.unwrap();
        out.uploads.unwrap_or_default().len()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let Some(pump) = self.pump.take() {
            pump.abort();
        }
        for task in self.lifecycle.drain(..) {
            task.abort();
        }
    }
}

/// Deterministic pseudo-random bytes behind a real MP4 header (a one-frame H.264 `moov`, then an
/// `mdat` box to the end), so uploads of them are recorded `uploaded`; a failure can be
/// reproduced from the seed. Shorter than the header (796 bytes), they are rejected as truncated.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut out = noise(len, seed);
    let header = vidgate::domain::media::synthetic_prefix();
    let n = header.len().min(len);
    out[..n].copy_from_slice(&header[..n]);
    out
}

/// Deterministic pseudo-random bytes: not a video.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// S3's `<Code>` in an error body.
pub fn s3_error_code(xml: &str) -> &str {
    xml.split("<Code>").nth(1).and_then(|r| r.split("</Code>").next()).unwrap_or("")
}

/// A browser's POST form upload to `url` (what Companion clients do with `/s3/params`): the
/// `fields` in order, then the file, with `origin` when given; the response.
pub async fn post_form(
    http: &reqwest::Client,
    url: &str,
    fields: &Value,
    file: Vec<u8>,
    origin: Option<&str>,
) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields.as_object().expect("fields are an object") {
        form = form.text(name.clone(), value.as_str().expect("field values are text").to_owned());
    }
    form = form.part("file", reqwest::multipart::Part::bytes(file).file_name("clip.mp4"));
    let mut request = http.post(url).multipart(form);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap()
}

pub fn s(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(v)) => v.clone(),
        Some(AttributeValue::N(v)) => v.clone(),
        other => panic!("{name}: {other:?}"),
    }
}
