//! The webhook's adapters ([`vidgate_uploads::webhooks`]): the receiver over HTTPS, the signing
//! secrets from Secrets Manager (read again every minute, so a rotation needs no deploy), and the
//! SQS queue the events wait in.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::Mutex;
use vidgate_domain::webhook::WebhookSecrets;
use vidgate_uploads::webhooks::{DeliveryQueue, REQUEST_TIMEOUT, Receiver, SecretSource, SignedDelivery};

type Https = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// POSTs to the app's URL over the HTTP and TLS stack the SDK already links (hyper, rustls on
/// aws-lc-rs, the system's roots), so the function carries no second client or crypto library.
pub struct HttpReceiver {
    client: hyper_util::client::legacy::Client<Https, http_body_util::Full<bytes::Bytes>>,
    url: http::Uri,
}

impl HttpReceiver {
    pub fn new(url: &str) -> Result<Self, String> {
        let url: http::Uri = url.parse().map_err(|e| format!("the webhook URL: {e}"))?;
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(2)));
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|e| format!("the system's TLS roots: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
        Ok(Self { client, url })
    }
}

#[async_trait]
impl Receiver for HttpReceiver {
    async fn post(&self, delivery: &SignedDelivery) -> Result<u16, String> {
        let mut request = http::Request::post(self.url.clone())
            .header(http::header::USER_AGENT, concat!("vidgate-webhooks/", env!("CARGO_PKG_VERSION")));
        for (name, value) in delivery.headers() {
            request = request.header(name, value);
        }
        let request = request
            .body(http_body_util::Full::new(bytes::Bytes::from(delivery.body.clone())))
            .map_err(|e| format!("building the request: {e}"))?;
        // The reply's status is all that counts; its body is dropped unread (a redirect too: a
        // webhook answers, it does not send the event elsewhere).
        match tokio::time::timeout(REQUEST_TIMEOUT, self.client.request(request)).await {
            Ok(Ok(reply)) => Ok(reply.status().as_u16()),
            Ok(Err(e)) => Err(format!("not reached: {e}")),
            Err(_) => Err(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())),
        }
    }
}

/// How long a read of the secret is used before it is read again.
const SECRET_REFRESH: Duration = Duration::from_secs(60);

/// The active secrets of one Secrets Manager secret; when a refresh fails, the last good read
/// signs on (a rotation that can't be read is not a reason to stop delivering).
pub struct ManagedSecrets {
    sdk: aws_config::SdkConfig,
    name: String,
    cached: Mutex<Option<(Instant, WebhookSecrets)>>,
}

impl ManagedSecrets {
    pub fn new(sdk: &aws_config::SdkConfig, name: &str) -> Self {
        Self { sdk: sdk.clone(), name: name.to_owned(), cached: Mutex::new(None) }
    }
}

#[async_trait]
impl SecretSource for ManagedSecrets {
    async fn active(&self) -> Result<WebhookSecrets, String> {
        let mut cached = self.cached.lock().await;
        if let Some((read_at, secrets)) = cached.as_ref()
            && read_at.elapsed() < SECRET_REFRESH
        {
            return Ok(secrets.clone());
        }
        let read = match crate::secrets::read(&self.sdk, &self.name).await {
            Ok(text) => WebhookSecrets::parse(&text).map_err(|why| format!("secret {}: {why}", self.name)),
            Err(e) => Err(e.to_string()),
        };
        match (read, cached.as_ref()) {
            (Ok(secrets), _) => {
                *cached = Some((Instant::now(), secrets.clone()));
                Ok(secrets)
            }
            (Err(why), Some((_, last))) => {
                tracing::warn!(why, "reading the webhook secret; signing with the last one read");
                Ok(last.clone())
            }
            (Err(why), None) => Err(why),
        }
    }
}

/// The webhook's SQS queue and its dead-letter queue.
#[derive(Clone)]
pub struct SqsDeliveryQueue {
    sqs: aws_sdk_sqs::Client,
    queue: Arc<str>,
    dead_letters: Arc<str>,
}

impl SqsDeliveryQueue {
    /// `queue` and `dead_letters` are queue URLs.
    pub fn new(sdk: &aws_config::SdkConfig, queue: &str, dead_letters: &str) -> Self {
        Self { sqs: aws_sdk_sqs::Client::new(sdk), queue: queue.into(), dead_letters: dead_letters.into() }
    }
}

fn sqs_error<E: std::error::Error + 'static>(e: aws_sdk_sqs::error::SdkError<E>) -> String {
    aws_sdk_sqs::error::DisplayErrorContext(e).to_string()
}

#[async_trait]
impl DeliveryQueue for SqsDeliveryQueue {
    async fn retry_in(&self, receipt: &str, wait: Duration) -> Result<(), String> {
        // SQS takes 0..=12 h.
        let secs = wait.as_secs().min(43_200) as i32;
        self.sqs
            .change_message_visibility()
            .queue_url(&*self.queue)
            .receipt_handle(receipt)
            .visibility_timeout(secs)
            .send()
            .await
            .map(|_| ())
            .map_err(sqs_error)
    }

    async fn dead_letter(&self, body: &str) -> Result<(), String> {
        self.sqs
            .send_message()
            .queue_url(&*self.dead_letters)
            .message_body(body)
            .send()
            .await
            .map(|_| ())
            .map_err(sqs_error)
    }
}
