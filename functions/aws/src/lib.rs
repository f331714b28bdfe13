//! vidgate's AWS adapters: each port of `vidgate-uploads` over its AWS service, the one
//! `SdkConfig` with explicit timeouts, and the secrets read at Init.
//!
//! # Module map
//! - [`dynamodb`]: upload records ([`vidgate_uploads::store::VideoStore`]);
//! - [`s3`]: objects and presigned URLs ([`vidgate_uploads::objects::ObjectStore`]);
//! - [`sts`]: temporary credentials scoped to one key ([`vidgate_uploads::credentials::CredentialIssuer`]);
//! - [`eventbridge`]: lifecycle events ([`vidgate_uploads::bus::EventBus`]);
//! - [`webhook`]: the webhook's receiver (HTTPS), signing secrets and queue
//!   ([`vidgate_uploads::webhooks`]);
//! - [`secrets`], [`cdn`]: the playback secret and the CloudFront key, from Secrets Manager at Init;
//! - [`sdk`]: the one `SdkConfig` and how SDK failures are classified;
//! - [`AwsApp`]: an [`App`] wired to these adapters, as a function's `main` builds it.

pub mod cdn;
pub mod dynamodb;
pub mod eventbridge;
pub mod s3;
pub mod sdk;
pub mod secrets;
pub mod sts;
pub mod webhook;

use std::sync::Arc;

use aws_credential_types::provider::SharedCredentialsProvider;

use vidgate_uploads::credentials::{self, CredentialIssuer};
use vidgate_uploads::objects::ObjectStore;
use vidgate_uploads::{App, Config, NotWired};

pub use sdk::{load, loader};

/// An [`App`] over AWS: `App::dynamodb(config, &sdk).s3(&sdk).sts(&sdk)` holds exactly the
/// clients a function's use cases reach.
pub trait AwsApp<O, C>: Sized {
    /// Adds the S3 adapter for the configured bucket, presigning with the dedicated signing key
    /// when the config holds one ([`secrets::load_signing_key`]).
    fn s3(self, sdk: &aws_config::SdkConfig) -> App<Arc<dyn ObjectStore>, C>;

    /// Adds STS `AssumeRole` of the uploader role, or the disabled issuer (credentials mode
    /// answers `credentials_not_enabled`) when none is configured.
    fn sts(self, sdk: &aws_config::SdkConfig) -> App<O, Arc<dyn CredentialIssuer>>;
}

impl<O, C> AwsApp<O, C> for App<O, C> {
    fn s3(self, sdk: &aws_config::SdkConfig) -> App<Arc<dyn ObjectStore>, C> {
        let c = &self.config;
        let mut objects =
            s3::S3ObjectStore::with_acceleration(sdk, &c.bucket, c.s3_path_style, c.s3_accelerate);
        if let Some(key) = &c.signing_key {
            let credentials = aws_credential_types::Credentials::new(
                &key.access_key_id,
                &key.secret_access_key,
                None,
                None,
                "vidgate-signing-key",
            );
            objects = objects.signing_with(SharedCredentialsProvider::new(credentials));
        }
        self.with_objects(Arc::new(objects))
    }

    fn sts(self, sdk: &aws_config::SdkConfig) -> App<O, Arc<dyn CredentialIssuer>> {
        let issuer: Arc<dyn CredentialIssuer> = match self.config.uploader_role_arn.as_deref() {
            Some(role) => Arc::new(sts::StsIssuer::new(sdk, role)),
            None => Arc::new(credentials::fixed::Disabled),
        };
        self.with_credentials(issuer)
    }
}

/// Records over DynamoDB: get-video, list-videos, create-playback; the start of every function's
/// [`App`].
pub fn records(config: Config, sdk: &aws_config::SdkConfig) -> App<NotWired, NotWired> {
    let videos =
        dynamodb::DynamoVideoStore::new(sdk, &config.table).purging_after_days(config.purge_after_days);
    App::records(config, Arc::new(videos))
}

/// Every port over AWS: what the local gateway serves every route with.
pub fn app(config: Config, sdk: &aws_config::SdkConfig) -> App {
    records(config, sdk).s3(sdk).sts(sdk)
}
