//! Tracing setup.
//!
//! Under Lambda, logs are JSON lines (CloudWatch Logs Insights can query the fields) without ANSI
//! colours or timestamps of our own (Lambda adds them). `RUST_LOG` / `AWS_LAMBDA_LOG_LEVEL` pick the
//! level; the SDK's own chatter is kept at `warn`.

use tracing_subscriber::EnvFilter;

fn filter() -> EnvFilter {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into())
        .to_ascii_lowercase();
    EnvFilter::try_new(format!("{level},aws_config=warn,aws_smithy_runtime=warn,hyper=warn"))
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// JSON logs for a Lambda function.
pub fn init_lambda() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter())
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .init();
}

/// Human-readable logs for local tools.
pub fn init_local() {
    tracing_subscriber::fmt().with_env_filter(filter()).with_target(false).init();
}
