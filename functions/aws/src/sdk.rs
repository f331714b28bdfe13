//! The one `SdkConfig` every client is derived from, and how SDK failures are classified.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// The SDK has no timeouts by default; a hung connection would hold a Lambda until its own
/// timeout. These keep one request well inside API Gateway's 30 s limit, retries included.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .read_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(12))
        .build()
}

/// The standard loader (Lambda's environment, profiles, `AWS_*`) with our timeouts and the
/// standard retry policy; local tools add an endpoint and fixed credentials to it.
pub fn loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
}

/// The `SdkConfig` a function builds once at Init.
pub async fn load() -> SdkConfig {
    loader().load().await
}

/// What kind of failure an SDK call ended in, as far as a caller should care.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Connection refused, timeout, throttling or a 5xx: worth a retry later (→ 503).
    Unavailable(String),
    /// The service answered with an error code (e.g. `NoSuchUpload`).
    Service { code: String, message: String },
    /// Anything else: a bug or a misconfiguration (→ 500).
    Other(String),
}

const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeoutException",
    "ServiceUnavailable",
    "InternalError",
    "InternalServerError",
];

pub fn classify<E>(err: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::TimeoutError(_) => Failure::Unavailable("timed out".into()),
        SdkError::DispatchFailure(e) => Failure::Unavailable(format!("dispatch failure: {e:?}")),
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("Unknown").to_string();
            let message = e.message().unwrap_or_default().to_string();
            if THROTTLING.contains(&code.as_str()) || service.raw().status().is_server_error() {
                Failure::Unavailable(format!("{code}: {message}"))
            } else {
                Failure::Service { code, message }
            }
        }
        SdkError::ResponseError(e) => Failure::Other(format!("unreadable response: {e:?}")),
        other => Failure::Other(format!("{other:?}")),
    }
}
