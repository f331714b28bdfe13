//! Issuers without STS: one that refuses (no uploader role configured) and one for unit tests
//! that records the policies it was asked for.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::{CredentialError, CredentialIssuer, TempCredentials};
use vidgate_domain::time;

/// For deployments without an uploader role: credentials mode answers that it is not enabled.
pub struct Disabled;

#[async_trait]
impl CredentialIssuer for Disabled {
    async fn issue(&self, _: &str, _: &str, _: Duration) -> Result<TempCredentials, CredentialError> {
        Err(CredentialError::Disabled)
    }

    fn region(&self) -> &str {
        "us-east-1"
    }
}

/// Hands out made-up credentials and remembers each (session, policy) it was asked for.
#[derive(Default)]
pub struct Recording {
    pub issued: Mutex<Vec<(String, String)>>,
}

#[async_trait]
impl CredentialIssuer for Recording {
    async fn issue(
        &self,
        session: &str,
        policy: &str,
        duration: Duration,
    ) -> Result<TempCredentials, CredentialError> {
        let mut issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        issued.push((session.to_owned(), policy.to_owned()));
        Ok(TempCredentials {
            access_key_id: format!("ASIAFAKE{:08}", issued.len()),
            secret_access_key: "fake-secret".into(),
            session_token: "fake-token".into(),
            expiration: time::now() + duration,
        })
    }

    fn region(&self) -> &str {
        "us-east-1"
    }
}
