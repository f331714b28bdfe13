//! The CloudFront signing key, read once at Init: from Secrets Manager as deployed (the template
//! names the secret, so the key never sits in an environment variable), or as PEM in
//! `VIDGATE_CDN_PRIVATE_KEY` for local stacks.

use vidgate_uploads::cdn::UrlSigner;
use vidgate_uploads::config::{Config, PrivateKeySource};

#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("can't read the CDN signing key from secret {secret}: {reason}")]
    Secret { secret: String, reason: String },
    #[error("the CDN signing key ({source_name}) is unusable: {reason}")]
    Key { source_name: &'static str, reason: String },
}

/// The URL signer `config` asks for, if any. An unreadable or malformed key fails Init: a
/// create-playback that can't sign must not start answering with unplayable URLs.
pub async fn load_signer(
    config: &Config,
    sdk: &aws_config::SdkConfig,
) -> Result<Option<UrlSigner>, SignerError> {
    let Some(cdn) = &config.cdn else { return Ok(None) };
    let (pem, source_name) = match &cdn.private_key {
        PrivateKeySource::Pem(pem) => (pem.clone(), "VIDGATE_CDN_PRIVATE_KEY"),
        PrivateKeySource::Secret(secret) => {
            let pem = crate::secrets::read(sdk, secret).await.map_err(|e| SignerError::Secret {
                secret: secret.clone(),
                reason: match e {
                    crate::secrets::SecretError::Unreadable { reason, .. }
                    | crate::secrets::SecretError::Unusable { reason, .. } => reason,
                },
            })?;
            (pem, "VIDGATE_CDN_PRIVATE_KEY_SECRET")
        }
    };
    UrlSigner::from_pem(&cdn.key_pair_id, &pem)
        .map(Some)
        .map_err(|e| SignerError::Key { source_name, reason: e.to_string() })
}
