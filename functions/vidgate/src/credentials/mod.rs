//! The `CredentialIssuer` port: temporary AWS credentials limited by a session policy.

pub mod fixed;
pub mod sts;

use std::time::Duration;

use async_trait::async_trait;

use crate::domain::time::Timestamp;

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// This deployment has no uploader role configured.
    #[error("temporary credentials are not enabled")]
    Disabled,
    #[error("credential service unavailable: {0}")]
    Unavailable(String),
    #[error("credential service error: {0}")]
    Other(String),
}

/// Credentials as an AWS SDK takes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TempCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: Timestamp,
}

#[async_trait]
pub trait CredentialIssuer: Send + Sync {
    /// Credentials allowed at most what `policy` (IAM JSON) allows, valid for `duration`.
    /// `session` names the session in CloudTrail.
    async fn issue(
        &self,
        session: &str,
        policy: &str,
        duration: Duration,
    ) -> Result<TempCredentials, CredentialError>;

    /// The region the credentials are for (SDKs need it with them).
    fn region(&self) -> &str;
}
