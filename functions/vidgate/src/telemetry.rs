//! Tracing setup.
//!
//! Under Lambda, logs are JSON lines (CloudWatch Logs Insights can query the fields) without ANSI
//! colours or timestamps of our own (Lambda adds them). `RUST_LOG` / `AWS_LAMBDA_LOG_LEVEL` pick the
//! level of vidgate's own logs only: every dependency stays at `warn` whatever the level, because
//! below it they log what must never reach a log — the Lambda runtime the raw event at TRACE (its
//! `Authorization` header, a playback `?token=`), the SDK's signer canonical requests with session
//! tokens, HTTP clients whole URLs (presigned ones).

use tracing_subscriber::EnvFilter;

/// The crates whose logs follow the chosen level: vidgate's own.
const OWN: &[&str] = &["vidgate", "vidgate_local", "vidgate_cli"];

fn directives(level: &str) -> String {
    let level = match level.to_ascii_lowercase().as_str() {
        level @ ("trace" | "debug" | "info" | "warn" | "error" | "off") => level.to_owned(),
        // Lambda's FATAL, or anything else: the level named is no finer than error.
        _ => "error".to_owned(),
    };
    let own: Vec<String> = OWN.iter().map(|c| format!("{c}={level}")).collect();
    // Dependencies at warn, or coarser if the chosen level is.
    let rest = if matches!(level.as_str(), "error" | "off") { level.as_str() } else { "warn" };
    format!("{rest},{}", own.join(","))
}

fn filter() -> EnvFilter {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    EnvFilter::try_new(directives(&level)).unwrap_or_else(|_| EnvFilter::new("warn"))
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

/// Logs as Lambda writes them (JSON lines, the functions' filter), captured for tests that check
/// what reaches a log and that the template's metric filters match it.
#[cfg(test)]
pub(crate) mod capture {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    pub(crate) struct Captured(pub(crate) Arc<Mutex<Vec<u8>>>);

    impl Captured {
        /// Each captured line, parsed.
        pub(crate) fn lines(&self) -> Vec<serde_json::Value> {
            let bytes = self.0.lock().unwrap().clone();
            String::from_utf8(bytes).unwrap().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
        }
    }

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// A JSON subscriber as `init_lambda` makes it, at `level`, writing to the returned capture.
    pub(crate) fn json(level: &str) -> (impl tracing::Subscriber + Send + Sync, Captured) {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_env_filter(tracing_subscriber::EnvFilter::new(super::directives(level)))
            .with_current_span(false)
            .without_time()
            .with_target(false)
            .with_writer(captured.clone())
            .finish();
        (subscriber, captured)
    }
}

#[cfg(test)]
mod tests {
    use super::capture::Captured;
    use super::*;

    /// At TRACE, what the Lambda runtime, the signer and an HTTP client log below warn (the raw
    /// event with its JWT and playback token, a session token, a presigned URL) stays out, and
    /// vidgate's own trace logs come through.
    #[test]
    fn at_trace_no_dependency_logs_a_token_or_a_presigned_url() {
        let (subscriber, captured): (_, Captured) = super::capture::json("TRACE");
        tracing::subscriber::with_default(subscriber, || {
            let jwt = "Bearer eyJhbGciOiJSUzI1NiJ9.secret-jwt";
            tracing::trace!(target: "lambda_runtime::layers::api_response", body = %format!(r#"{{"headers":{{"authorization":"{jwt}"}},"rawQueryString":"token=1700000000.playback-token"}}"#), "raw JSON event received from Lambda");
            tracing::debug!(target: "aws_sigv4::http_request::sign", canonical_request = "X-Amz-Security-Token=session-token-value", "signing");
            tracing::trace!(target: "reqwest::connect", url = "https://b.s3.amazonaws.com/k?X-Amz-Signature=presigned-signature", "GET");
            tracing::trace!(target: "vidgate::uploads", video_id = "v1", "own trace");
            tracing::warn!(target: "aws_smithy_runtime", "a dependency's warning");
        });
        let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        for secret in ["secret-jwt", "playback-token", "session-token-value", "presigned-signature", "X-Amz-"]
        {
            assert!(!logs.contains(secret), "{secret} reached the logs:\n{logs}");
        }
        assert!(logs.contains("own trace") && logs.contains("a dependency's warning"), "{logs}");
        assert_eq!(directives("FATAL"), "error,vidgate=error,vidgate_local=error,vidgate_cli=error");
    }
}
