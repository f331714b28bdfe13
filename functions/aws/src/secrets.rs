//! Secrets read once at Init from Secrets Manager, as deployed: the template names each secret,
//! so no key sits in an environment variable or a log. Local stacks pass them as variables.

use vidgate_uploads::config::{Config, MIN_PLAYBACK_SECRET_CHARS, SigningKey};

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

/// `config` with the dedicated signing key read from `VIDGATE_SIGNING_KEY_SECRET`, when named.
/// An unreadable or malformed secret fails Init: URLs signed with the role instead would die
/// long before the `expiresAt` the deployment chose to promise.
pub async fn load_signing_key(
    mut config: Config,
    sdk: &aws_config::SdkConfig,
) -> Result<Config, SecretError> {
    let Some(name) = config.signing_key_secret.clone() else { return Ok(config) };
    let text = read(sdk, &name).await?;
    let key = parse_signing_key(&text).map_err(|reason| SecretError::Unusable { secret: name, reason })?;
    config.signing_key = Some(key);
    Ok(config)
}

fn parse_signing_key(text: &str) -> Result<SigningKey, String> {
    let key: SigningKey = serde_json::from_str(text)
        .map_err(|_| "it must be JSON {\"accessKeyId\": …, \"secretAccessKey\": …}".to_owned())?;
    if key.access_key_id.trim().is_empty() || key.secret_access_key.trim().is_empty() {
        return Err("accessKeyId and secretAccessKey must not be empty".into());
    }
    Ok(key)
}

#[cfg(test)]
mod signing_key_tests {
    use super::parse_signing_key;

    #[test]
    fn the_secret_is_the_keys_json_and_nothing_of_it_is_echoed() {
        let key = parse_signing_key(r#"{"accessKeyId":"AKIAEXAMPLE","secretAccessKey":"s3cr3t"}"#).unwrap();
        assert_eq!(key.access_key_id, "AKIAEXAMPLE");
        assert!(!format!("{key:?}").contains("s3cr3t"));
        for bad in ["", "s3cr3t", r#"{"accessKeyId":"A"}"#, r#"{"accessKeyId":"","secretAccessKey":"x"}"#] {
            let why = parse_signing_key(bad).unwrap_err();
            assert!(!why.contains("s3cr3t"), "{why}");
        }
    }
}
