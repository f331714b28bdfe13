//! The `CredentialIssuer` port: temporary AWS credentials limited by a session policy.

pub mod fixed;

use std::time::Duration;

use async_trait::async_trait;

use vidgate_domain::time::Timestamp;

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

/// Credentials as an AWS SDK takes them. `Debug` shows the key id and expiry only: a `{:?}` in a
/// log or an error must never carry a secret or a session token.
#[derive(Clone, PartialEq, Eq)]
pub struct TempCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: Timestamp,
}

impl std::fmt::Debug for TempCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TempCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("expiration", &self.expiration)
            .finish()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_secret_and_no_session_token() {
        let credentials = TempCredentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI-secret".into(),
            session_token: "FwoGZXIvYXdzEJr-session".into(),
            expiration: vidgate_domain::time::now(),
        };
        let shown = format!("{credentials:?} {credentials:#?}");
        assert!(shown.contains("ASIAEXAMPLE"), "{shown}");
        assert!(!shown.contains("wJalrXUtnFEMI") && !shown.contains("FwoGZXIvYXdzEJr"), "{shown}");
    }
}
