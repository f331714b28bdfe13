//! Secrets read once at Init from Secrets Manager, as deployed: the template names each secret,
//! so no key sits in an environment variable or a log. Local stacks pass them as variables.

use vidgate_uploads::config::{Config, MIN_PLAYBACK_SECRET_CHARS};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("can't read secret {secret}: {reason}")]
    Unreadable { secret: String, reason: String },
    #[error("secret {secret} is unusable: {reason}")]
    Unusable { secret: String, reason: String },
}

/// The string of secret `name` (its ARN or name). Never logged, never echoed.
pub async fn read(sdk: &aws_config::SdkConfig, name: &str) -> Result<String, SecretError> {
    let failed = |reason: String| SecretError::Unreadable { secret: name.to_owned(), reason };
    let value = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .map_err(|e| failed(aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string()))?;
    value.secret_string.ok_or_else(|| failed("it holds no string (a binary secret?)".into()))
}

/// `config` with the playback HMAC key read from `VIDGATE_PLAYBACK_SECRET_NAME`, when named. A
/// missing or short key fails Init: a stream route that can't check tokens must not start.
pub async fn load_playback_secret(
    mut config: Config,
    sdk: &aws_config::SdkConfig,
) -> Result<Config, SecretError> {
    let Some(name) = config.playback_secret_name.clone() else { return Ok(config) };
    let secret = read(sdk, &name).await?;
    if secret.chars().count() < MIN_PLAYBACK_SECRET_CHARS {
        return Err(SecretError::Unusable {
            secret: name,
            reason: format!("the key must be at least {MIN_PLAYBACK_SECRET_CHARS} characters"),
        });
    }
    config.playback_secret = Some(secret);
    Ok(config)
}
