//! The STS adapter: `AssumeRole` on the uploader role with an inline session policy.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sts::Client;

use crate::sdk::{Failure, classify};
use vidgate_uploads::credentials::{CredentialError, CredentialIssuer, TempCredentials};

pub struct StsIssuer {
    client: Client,
    role_arn: String,
    region: String,
}

impl StsIssuer {
    pub fn new(sdk: &aws_config::SdkConfig, role_arn: &str) -> Self {
        Self {
            client: Client::new(sdk),
            role_arn: role_arn.to_owned(),
            region: sdk.region().map(ToString::to_string).unwrap_or_else(|| "us-east-1".into()),
        }
    }
}

#[async_trait]
impl CredentialIssuer for StsIssuer {
    async fn issue(
        &self,
        session: &str,
        policy: &str,
        duration: Duration,
    ) -> Result<TempCredentials, CredentialError> {
        let out = self
            .client
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(session)
            .policy(policy)
            .duration_seconds(i32::try_from(duration.as_secs()).unwrap_or(3600))
            .send()
            .await
            .map_err(|e| match classify(&e) {
                Failure::Unavailable(why) => CredentialError::Unavailable(why),
                Failure::Service { code, message } => CredentialError::Other(format!("{code}: {message}")),
                Failure::Other(why) => CredentialError::Other(why),
            })?;
        let c = out
            .credentials
            .ok_or_else(|| CredentialError::Other("AssumeRole returned no credentials".into()))?;
        let expiration = chrono::DateTime::from_timestamp(c.expiration.secs(), 0)
            .ok_or_else(|| CredentialError::Other("AssumeRole returned an invalid expiration".into()))?;
        Ok(TempCredentials {
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            session_token: c.session_token,
            expiration,
        })
    }

    fn region(&self) -> &str {
        &self.region
    }
}
