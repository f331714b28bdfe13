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
//! - [`handlers`]: one module per route; [`handlers::handle`] is what every binary runs.
//! - [`config`]: typed configuration, parsed once at Init from the environment.
//! - [`aws`]: the one `SdkConfig` (explicit timeouts) and SDK error classification.
//! - [`telemetry`]: tracing setup (JSON under Lambda).

pub mod aws;
pub mod config;
pub mod domain;
pub mod handlers;
pub mod http;
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
        }
    }

    /// The production wiring: DynamoDB and S3 adapters over one shared `SdkConfig`.
    pub fn from_sdk(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        let videos = Arc::new(store::dynamodb::DynamoVideoStore::new(sdk, &config.table));
        let objects = Arc::new(objects::s3::S3ObjectStore::new(
            sdk,
            &config.bucket,
            config.s3_path_style,
        ));
        Self::new(config, videos, objects)
    }
}
