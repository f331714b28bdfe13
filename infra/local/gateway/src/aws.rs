//! The local stack's one AWS endpoint. A request signed for `s3` — or not signed at all, as a
//! browser's preflight or an anonymous GET — goes to the strict local S3 ([`crate::s3`] behind
//! `s3s`, which verifies SigV4); anything signed for another service (DynamoDB, STS, SQS) is passed
//! to moto's server, which runs on a port of its own. Credentials moto's STS issues are read off
//! its replies as they pass, so the local S3 accepts exactly the temporary credentials the local
//! STS handed out — with their session token, until they expire, within the session policy they
//! were issued with — and the local keys (`test`/`test`), and nothing else.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http::{HeaderMap, Method, StatusCode};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{S3Result, s3_error};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower::ServiceExt as _;

use crate::moto::MotoServer;
use crate::s3::{LocalS3, Notifier, cors};

/// The long-lived local credentials every local client uses.
pub const ACCESS_KEY: &str = "test";
pub const SECRET_KEY: &str = "test";

/// What a body moto is sent may weigh (DynamoDB's largest request is 16 MB).
const MAX_PROXIED_BODY: usize = 32 * 1024 * 1024;

#[derive(Clone, Debug)]
struct Key {
    secret: String,
    token: Option<String>,
    expires: Option<DateTime<Utc>>,
    /// The session policy of AssumeRole / GetFederationToken, which bounds what the
    /// credentials may do (the role's own policy is not modelled locally: it allows all).
    policy: Option<serde_json::Value>,
}

/// The credentials the local S3 accepts: the local keys and what the local STS issued.
#[derive(Clone, Debug, Default)]
pub struct Keys(Arc<Mutex<HashMap<String, Key>>>);

impl Keys {
    fn with_local_keys() -> Self {
        let keys = Self::default();
        keys.insert(ACCESS_KEY, Key { secret: SECRET_KEY.into(), token: None, expires: None, policy: None });
        keys
    }

    fn insert(&self, access_key: &str, key: Key) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(access_key.to_owned(), key);
    }

    fn get(&self, access_key: &str) -> Option<Key> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(access_key).cloned()
    }

    /// Remembers the credentials in an STS reply (AssumeRole, GetFederationToken, …), with the
    /// session policy the request (`request`, a form) asked for.
    fn learn_from_sts(&self, request: &[u8], body: &[u8]) {
        #[derive(serde::Deserialize)]
        struct Reply {
            #[serde(
                alias = "AssumeRoleResult",
                alias = "GetFederationTokenResult",
                alias = "GetSessionTokenResult",
                alias = "AssumeRoleWithWebIdentityResult"
            )]
            result: Option<Issued>,
        }
        #[derive(serde::Deserialize)]
        struct Issued {
            #[serde(rename = "Credentials")]
            credentials: Option<Credentials>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Credentials {
            access_key_id: String,
            secret_access_key: String,
            session_token: String,
            expiration: String,
        }
        let Ok(text) = std::str::from_utf8(body) else { return };
        let Ok(reply) = quick_xml::de::from_str::<Reply>(text) else { return };
        if let Some(c) = reply.result.and_then(|r| r.credentials) {
            let expires = DateTime::parse_from_rfc3339(&c.expiration).ok().map(|t| t.with_timezone(&Utc));
            let policy = form_urlencoded::parse(request)
                .find(|(k, _)| k == "Policy")
                .and_then(|(_, v)| serde_json::from_str(&v).ok());
            let key = Key { secret: c.secret_access_key, token: Some(c.session_token), expires, policy };
            self.insert(&c.access_key_id, key);
        }
    }
}

#[async_trait::async_trait]
impl S3Auth for Keys {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        let key = self.get(access_key).ok_or_else(|| {
            s3_error!(InvalidAccessKeyId, "The AWS Access Key Id you provided does not exist in our records.")
        })?;
        if key.expires.is_some_and(|at| at <= Utc::now()) {
            return Err(s3_error!(ExpiredToken, "The provided token has expired."));
        }
        Ok(SecretKey::from(key.secret))
    }
}

/// The session token a request carries, in its headers or (presigned) its query.
fn session_token(headers: &HeaderMap, uri: &http::Uri) -> Option<String> {
    headers.get("x-amz-security-token").and_then(|v| v.to_str().ok()).map(str::to_owned).or_else(|| {
        form_urlencoded::parse(uri.query()?.as_bytes())
            .find(|(k, _)| k.eq_ignore_ascii_case("X-Amz-Security-Token"))
            .map(|(_, v)| v.into_owned())
    })
}

#[async_trait::async_trait]
impl S3Access for Keys {
    /// Signed by a known key (s3s has checked the signature), and — for temporary credentials —
    /// with the session token they were issued with, as S3 requires.
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(credentials) = cx.credentials() else {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        };
        let key = self.get(&credentials.access_key).ok_or_else(|| s3_error!(InvalidAccessKeyId))?;
        let sent = session_token(cx.headers(), cx.uri());
        match (&key.token, sent) {
            (None, None) => {}
            (Some(expected), Some(sent)) if *expected == sent => {}
            (Some(_), None) => {
                return Err(s3_error!(
                    InvalidToken,
                    "The provided token is malformed or otherwise invalid. (Temporary credentials need their session token.)"
                ));
            }
            _ => {
                return Err(s3_error!(InvalidToken, "The provided token is malformed or otherwise invalid."));
            }
        }
        match &key.policy {
            None => Ok(()),
            Some(policy) => {
                let (action, resource) = action_and_resource(cx.s3_op().name(), cx.s3_path());
                if crate::policy::allows(policy, &action, &resource) {
                    Ok(())
                } else {
                    Err(s3_error!(
                        AccessDenied,
                        "Access Denied (the session policy does not allow {action} on {resource})"
                    ))
                }
            }
        }
    }
}

/// The IAM action and resource ARN an S3 operation is authorized as.
fn action_and_resource(operation: &str, path: &s3s::path::S3Path) -> (String, String) {
    use s3s::path::S3Path;
    let action = match operation {
        "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" => "PutObject",
        "ListParts" => "ListMultipartUploadParts",
        "HeadObject" => "GetObject",
        "ListObjectsV2" | "ListObjects" | "HeadBucket" => "ListBucket",
        "ListMultipartUploads" => "ListBucketMultipartUploads",
        "ListBuckets" => "ListAllMyBuckets",
        "PutBucketCors" | "GetBucketCors" | "DeleteBucketCors" => {
            if operation.starts_with("Get") {
                "GetBucketCORS"
            } else {
                "PutBucketCORS"
            }
        }
        "PutBucketNotificationConfiguration" => "PutBucketNotification",
        "GetBucketNotificationConfiguration" => "GetBucketNotification",
        other => other,
    };
    let resource = match path {
        S3Path::Root => "*".to_owned(),
        S3Path::Bucket { bucket } => format!("arn:aws:s3:::{bucket}"),
        S3Path::Object { bucket, key } => format!("arn:aws:s3:::{bucket}/{key}"),
    };
    (format!("s3:{action}"), resource)
}

/// The service a request is signed for: the fourth field of its SigV4 credential scope
/// (`AKID/20261203/us-east-1/s3/aws4_request`), from `Authorization` or a presigned query.
fn signed_service(headers: &HeaderMap, uri: &http::Uri) -> Option<String> {
    let scope = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1))
        .map(|c| c.split([',', ' ']).next().unwrap_or_default().to_owned())
        .or_else(|| {
            form_urlencoded::parse(uri.query()?.as_bytes())
                .find(|(k, _)| k.eq_ignore_ascii_case("X-Amz-Credential"))
                .map(|(_, v)| v.into_owned())
        })?;
    scope.split('/').nth(3).map(str::to_owned)
}

struct Front {
    s3: LocalS3,
    service: S3Service,
    keys: Keys,
    moto: String,
    http: reqwest::Client,
    /// Held while moto answers a DynamoDB request. moto serves requests on threads and applies a
    /// conditional write or a transaction without a lock, so two at once could both pass one
    /// condition; DynamoDB applies each atomically. One at a time makes moto as strict (and
    /// infra/local/python/vidgate_moto_patch.py makes a cancelled transaction write nothing).
    dynamodb: tokio::sync::Mutex<()>,
}

async fn route(State(front): State<Arc<Front>>, request: Request) -> Response {
    match signed_service(request.headers(), request.uri()).as_deref() {
        Some("s3") | None if !request.uri().path().starts_with("/moto-api") => to_s3(&front, request).await,
        Some("dynamodb") => {
            let _one_at_a_time = front.dynamodb.lock().await;
            to_moto(&front, request, false).await
        }
        service => {
            let sts = service == Some("sts");
            to_moto(&front, request, sts).await
        }
    }
}

/// What S3 refuses in a presigned URL's query before it looks at the signature, and `s3s` answers
/// otherwise: a negative `X-Amz-Expires` is S3's 403 `AuthorizationQueryParametersError`.
fn refuse_query_parameters(uri: &http::Uri) -> Option<http::Response<s3s::Body>> {
    let expires = form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case("X-Amz-Expires"))
        .map(|(_, v)| v.into_owned())?;
    if !expires.trim_start().starts_with('-') {
        return None;
    }
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AuthorizationQueryParametersError</Code>\
                <Message>X-Amz-Expires must be non-negative</Message></Error>";
    http::Response::builder()
        .status(StatusCode::FORBIDDEN)
        .header(http::header::CONTENT_TYPE, "application/xml")
        .body(s3s::Body::from(body.to_owned()))
        .ok()
}

async fn to_s3(front: &Front, request: Request) -> Response {
    let bucket =
        request.uri().path().trim_start_matches('/').split('/').next().unwrap_or_default().to_owned();
    let rules = front.s3.cors_rules(&bucket);
    if request.method() == Method::OPTIONS {
        return cors::preflight(rules.as_deref(), request.headers()).map(Body::new).into_response();
    }
    let method = request.method().clone();
    let origin = request.headers().get("origin").and_then(|v| v.to_str().ok()).map(str::to_owned);
    if let Some(mut refused) = refuse_query_parameters(request.uri()) {
        cors::decorate(rules.as_deref(), &method, origin.as_deref(), &mut refused);
        return refused.into_response();
    }
    let (parts, body) = request.into_parts();
    let body = Unread::new(body);
    match front.service.clone().oneshot(Request::from_parts(parts, body.clone())).await {
        Ok(mut response) => {
            if response.status().is_client_error() {
                body.drain().await;
            }
            cors::decorate(rules.as_deref(), &method, origin.as_deref(), &mut response);
            response.map(Body::new).into_response()
        }
        Err(e) => {
            tracing::error!(error = ?e, "local S3");
            (StatusCode::INTERNAL_SERVER_ERROR, "local S3 failed").into_response()
        }
    }
}

/// A request body the front can finish reading after s3s refused the request without reading it
/// (a bad signature is known from the headers). A client still sending would otherwise see the
/// connection close under it instead of the refusal; reading the rest first lets it read S3's
/// error, as SDKs and curl do from S3.
#[derive(Clone)]
struct Unread(Arc<std::sync::Mutex<Option<Body>>>);

/// The most of a refused body read before giving up on it (the connection then closes).
const MAX_DRAINED_BYTES: u64 = 64 * 1024 * 1024;

impl Unread {
    fn new(body: Body) -> Self {
        Self(Arc::new(std::sync::Mutex::new(Some(body))))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Body>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn drain(&self) {
        let Some(mut body) = self.lock().take() else { return };
        let mut read = 0u64;
        let reading = async {
            while let Some(Ok(frame)) =
                std::future::poll_fn(|cx| http_body::Body::poll_frame(std::pin::Pin::new(&mut body), cx))
                    .await
            {
                read += frame.data_ref().map_or(0, |d| d.len() as u64);
                if read > MAX_DRAINED_BYTES {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(30), reading).await;
    }
}

impl http_body::Body for Unread {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        match self.lock().as_mut() {
            Some(body) => std::pin::Pin::new(body).poll_frame(cx),
            None => std::task::Poll::Ready(None),
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.lock().as_ref().map_or_else(|| http_body::SizeHint::with_exact(0), http_body::Body::size_hint)
    }

    fn is_end_stream(&self) -> bool {
        self.lock().as_ref().is_none_or(http_body::Body::is_end_stream)
    }
}

/// Hop-by-hop headers, and the length the client recomputes.
fn passes(name: &http::HeaderName) -> bool {
    !matches!(name.as_str(), "connection" | "transfer-encoding" | "content-length" | "keep-alive" | "upgrade")
}

async fn to_moto(front: &Front, request: Request, sts: bool) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_PROXIED_BODY).await {
        Ok(body) => body,
        Err(e) => return (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response(),
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let body_copy = body.clone();
    let mut forward = front.http.request(parts.method, format!("{}{path}", front.moto)).body(body);
    for (name, value) in parts.headers.iter().filter(|(n, _)| passes(n)) {
        forward = forward.header(name, value);
    }
    let request_body = if sts { body_copy } else { bytes::Bytes::new() };
    let reply = match forward.send().await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!(error = %e, "moto did not answer");
            return (StatusCode::BAD_GATEWAY, "the local AWS stand-in did not answer").into_response();
        }
    };
    let status = reply.status();
    let headers = reply.headers().clone();
    let bytes = reply.bytes().await.unwrap_or_default();
    if sts && status.is_success() {
        front.keys.learn_from_sts(&request_body, &bytes);
    }
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in headers.iter().filter(|(n, _)| passes(n)) {
        response.headers_mut().append(name, value.clone());
    }
    response
}

/// moto and the strict S3 in front of it, on one port; both stop when this is dropped.
pub struct AwsEndpoint {
    port: u16,
    s3: LocalS3,
    keys: Keys,
    shutdown: Option<oneshot::Sender<()>>,
    _moto: MotoServer,
}

impl AwsEndpoint {
    /// Starts moto on a free port and the endpoint on 127.0.0.1:`port` (0 picks a free one).
    pub async fn start(moto_program: &Path, port: u16, echo: bool) -> Result<Self, String> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| format!("can't listen on 127.0.0.1:{port}: {e} (set VIDGATE_AWS_PORT)"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let moto = MotoServer::start(moto_program, 0, echo)?;
        let sdk = crate::bootstrap::sdk_config(&moto.endpoint()).await;
        let s3 = LocalS3::in_temp_dir(Some(Notifier::new(aws_sdk_sqs::Client::new(&sdk))))
            .map_err(|e| format!("can't make the local S3's directory: {e}"))?;
        let keys = Keys::with_local_keys();
        let mut builder = S3ServiceBuilder::new(s3.clone());
        builder.set_auth(keys.clone());
        builder.set_access(keys.clone());
        let front = Arc::new(Front {
            s3: s3.clone(),
            service: builder.build(),
            keys: keys.clone(),
            moto: moto.endpoint(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .map_err(|e| e.to_string())?,
            dynamodb: tokio::sync::Mutex::new(()),
        });
        let app = axum::Router::new().fallback(route).with_state(front);
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = served.await {
                tracing::error!(error = %e, "the local AWS endpoint stopped");
            }
        });
        Ok(Self { port, s3, keys, shutdown: Some(tx), _moto: moto })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The local S3 itself, for tests that look at what it holds.
    pub fn s3(&self) -> &LocalS3 {
        &self.s3
    }

    /// Temporary credentials this endpoint accepts for `lifetime` from when they are handed
    /// out, then refuses (`ExpiredToken`), as S3 refuses expired STS credentials: what the
    /// local functions sign URLs with when `VIDGATE_LOCAL_SIGNING_SECS` is set, so URLs die
    /// with their signing credentials here as they do in AWS.
    pub fn expiring_credentials(&self, lifetime: std::time::Duration) -> ExpiringCredentials {
        ExpiringCredentials { keys: self.keys.clone(), lifetime, current: Arc::new(Mutex::new(None)) }
    }
}

/// A credentials provider minting temporary keys the local S3 accepts until they expire; like
/// the SDK's cache, it hands out the same ones until less than half their life is left.
#[derive(Clone, Debug)]
pub struct ExpiringCredentials {
    keys: Keys,
    lifetime: std::time::Duration,
    current: Arc<Mutex<Option<aws_credential_types::Credentials>>>,
}

impl ExpiringCredentials {
    fn credentials(&self) -> aws_credential_types::Credentials {
        let mut current = self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::SystemTime::now();
        let fresh = current.as_ref().filter(|c| {
            c.expiry().and_then(|at| at.duration_since(now).ok()).is_some_and(|left| left > self.lifetime / 2)
        });
        if let Some(credentials) = fresh {
            return credentials.clone();
        }
        let id = uuid::Uuid::now_v7().simple().to_string().to_uppercase();
        let (access, secret, token) =
            (format!("ASIA{}", &id[16..]), id.clone(), format!("local-session-{id}"));
        let expires = now + self.lifetime;
        self.keys.insert(
            &access,
            Key {
                secret: secret.clone(),
                token: Some(token.clone()),
                expires: Some(DateTime::<Utc>::from(expires)),
                policy: None,
            },
        );
        let credentials = aws_credential_types::Credentials::new(
            access,
            secret,
            Some(token),
            Some(expires),
            "vidgate-local",
        );
        *current = Some(credentials.clone());
        credentials
    }
}

impl aws_credential_types::provider::ProvideCredentials for ExpiringCredentials {
    fn provide_credentials<'a>(&'a self) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::ready(Ok(self.credentials()))
    }
}

impl Drop for AwsEndpoint {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_service_is_read_from_either_place_a_signature_can_be() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            "AWS4-HMAC-SHA256 Credential=test/20261203/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00"
                .parse()
                .unwrap(),
        );
        assert_eq!(signed_service(&headers, &"/".parse().unwrap()).as_deref(), Some("dynamodb"));
        let presigned: http::Uri =
            "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20261203%2Fus-east-1%2Fs3%2Faws4_request"
                .parse()
                .unwrap();
        assert_eq!(signed_service(&HeaderMap::new(), &presigned).as_deref(), Some("s3"));
        assert_eq!(signed_service(&HeaderMap::new(), &"/b/k".parse().unwrap()), None);
    }

    #[test]
    fn credentials_in_an_sts_reply_are_remembered_with_token_and_expiry() {
        let keys = Keys::default();
        keys.learn_from_sts(b"Action=AssumeRole&Policy=%7B%22Statement%22%3A%5B%5D%7D", br#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>s3cr3t</SecretAccessKey><SessionToken>tok</SessionToken><Expiration>2030-01-01T00:00:00.000Z</Expiration></Credentials><AssumedRoleUser><Arn>a</Arn><AssumedRoleId>b</AssumedRoleId></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>"#);
        let key = keys.get("ASIAX").expect("learned");
        assert_eq!((key.secret.as_str(), key.token.as_deref()), ("s3cr3t", Some("tok")));
        assert_eq!(key.expires.unwrap().to_rfc3339(), "2030-01-01T00:00:00+00:00");
        assert_eq!(key.policy, Some(serde_json::json!({"Statement": []})));
        keys.learn_from_sts(b"", b"<ErrorResponse><Error><Code>x</Code></Error></ErrorResponse>");
        assert_eq!(keys.0.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn unknown_and_expired_keys_are_refused_as_s3_refuses_them() {
        let keys = Keys::with_local_keys();
        let past = Some(Utc::now() - chrono::Duration::seconds(1));
        keys.insert(
            "ASIAOLD",
            Key { secret: "s".into(), token: Some("t".into()), expires: past, policy: None },
        );
        assert!(keys.get_secret_key(ACCESS_KEY).await.is_ok());
        assert_eq!(keys.get_secret_key("nobody").await.unwrap_err().code().as_str(), "InvalidAccessKeyId");
        assert_eq!(keys.get_secret_key("ASIAOLD").await.unwrap_err().code().as_str(), "ExpiredToken");
    }

    #[test]
    fn operations_are_authorized_as_the_iam_actions_s3_documents() {
        use s3s::path::S3Path;
        let object = S3Path::Object { bucket: "b".into(), key: "videos/a.mp4".into() };
        assert_eq!(
            action_and_resource("UploadPart", &object),
            ("s3:PutObject".into(), "arn:aws:s3:::b/videos/a.mp4".into())
        );
        assert_eq!(action_and_resource("ListParts", &object).0, "s3:ListMultipartUploadParts");
        let bucket = S3Path::Bucket { bucket: "b".into() };
        assert_eq!(
            action_and_resource("ListObjectsV2", &bucket),
            ("s3:ListBucket".into(), "arn:aws:s3:::b".into())
        );
    }
}
