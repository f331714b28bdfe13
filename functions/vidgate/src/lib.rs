//! vidgate: direct-to-S3 multipart video uploads behind API Gateway, tracked in DynamoDB.
//!
//! Every Lambda binary in `functions/` and the local gateway in `infra/local/gateway` run the very
//! same code from this crate, so what is tested locally is what is deployed.
//!
//! # Module map
//! - [`domain`]: videos, their states and transitions, part-size arithmetic, input validation.
//!   No AWS types, so the rules can be unit-tested without any service.
//! - [`store`]: the [`store::VideoStore`] port (upload records) with a DynamoDB adapter and an
//!   in-memory fake.
//! - [`objects`]: the [`objects::ObjectStore`] port (S3 multipart, presigning) with an S3 adapter and
//!   an in-memory fake.
//! - [`http`]: the route table, authentication from the authorizer context, the error → JSON mapping
//!   and request/response helpers.
//! - [`handlers`]: one module per route; [`handlers::handle`] is what every HTTP binary runs.
//! - [`lifecycle`]: how an upload ends — recording what arrived (sniffed as video or rejected)
//!   and settling records with what S3 did.
//! - [`credentials`]: the [`credentials::CredentialIssuer`] port (STS `AssumeRole` with a session
//!   policy for one key) with an STS adapter and fakes.
//! - [`events`]: the non-HTTP functions: S3 `ObjectCreated` events and the expiry sweeper.
//! - [`config`]: typed configuration, parsed once at Init from the environment.
//! - [`aws`]: the one `SdkConfig` (explicit timeouts) and SDK error classification.
//! - [`telemetry`]: tracing setup (JSON under Lambda).

pub mod aws;
pub mod config;
pub mod credentials;
pub mod domain;
pub mod events;
pub mod handlers;
pub mod http;
pub mod lifecycle;
pub mod objects;
pub mod store;
pub mod telemetry;

use std::sync::Arc;

pub use config::Config;

/// What a handler needs to serve a request: configuration and the two ports.
///
/// Built once at Init and shared by reference, so no client is ever created per request.
#[derive(Clone)]
pub struct App {
    pub config: Arc<Config>,
    pub videos: Arc<dyn store::VideoStore>,
    pub objects: Arc<dyn objects::ObjectStore>,
    pub credentials: Arc<dyn credentials::CredentialIssuer>,
    /// Uploaded records the stream route has read, kept for the function's lifetime.
    pub uploaded: Arc<store::uploaded::UploadedMemo>,
}

impl App {
    pub fn new(
        config: Config,
        videos: Arc<dyn store::VideoStore>,
        objects: Arc<dyn objects::ObjectStore>,
    ) -> Self {
        Self {
            config: Arc::new(config),
            videos,
            objects,
            credentials: Arc::new(credentials::fixed::Disabled),
            uploaded: Arc::default(),
        }
    }

    /// The same app issuing temporary credentials through `issuer`.
    pub fn with_credentials(mut self, issuer: Arc<dyn credentials::CredentialIssuer>) -> Self {
        self.credentials = issuer;
        self
    }

    /// The production wiring: DynamoDB and S3 adapters over one shared `SdkConfig`.
    pub fn from_sdk(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        let videos = Arc::new(
            store::dynamodb::DynamoVideoStore::new(sdk, &config.table)
                .purging_after_days(config.purge_after_days),
        );
        let objects = Arc::new(objects::s3::S3ObjectStore::with_acceleration(
            sdk,
            &config.bucket,
            config.s3_path_style,
            config.s3_accelerate,
        ));
        let issuer: Option<Arc<dyn credentials::CredentialIssuer>> = config
            .uploader_role_arn
            .as_deref()
            .map(|role| Arc::new(credentials::sts::StsIssuer::new(sdk, role)) as _);
        let app = Self::new(config, videos, objects);
        match issuer {
            Some(issuer) => app.with_credentials(issuer),
            None => app,
        }
    }
}
