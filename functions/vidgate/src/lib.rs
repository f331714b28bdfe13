//! vidgate: direct-to-S3 multipart video uploads behind API Gateway, tracked in DynamoDB.
//!
//! Every Lambda binary in `functions/` and the local gateway in `infra/local/gateway` run the very
//! same code from this crate, so what is tested locally is what is deployed.
//!
//! # Module map
//! From the edges in (a layer uses only the layers below it):
//! - `functions/<verb-noun>/main.rs` (not here): config, the clients that function uses
//!   ([`app::App`]), `run(...)`.
//! - [`handlers`]: the HTTP edge. One entry per function ([`handlers::get_video`], …) picks the
//!   operation of the matched route ([`http::Operation`]) and runs one translator: a `/v1` route
//!   file, the Companion module or the Uppy 6 module. No translator uses another.
//! - [`events`]: the other edge: S3 notifications, the schedule, the table's stream (lifecycle
//!   events) and the operator's erasure, translated into use cases.
//! - [`http`]: the route table, the caller's identity, [`http::ApiError`] (the one error → JSON
//!   mapping) and the reply shapes protocols share.
//! - [`uploads`]: the use cases — start, sign parts, list parts, finish, abort, grant credentials,
//!   sign a client's own S3 request, record an arrived object, expire — over the ports they
//!   need, answering [`uploads::UploadError`].
//! - [`app`]: what a function holds: [`Config`] and exactly the ports it uses, as capabilities
//!   ([`app::Records`], [`app::Objects`], [`app::Credentials`]) the use cases ask for.
//! - [`store`], [`objects`], [`credentials`], [`bus`]: the ports (DynamoDB records, S3, STS,
//!   EventBridge), each with its AWS adapter and an in-memory fake.
//! - [`domain`]: the rules, with no AWS types: videos and their one state machine, part-size
//!   arithmetic, validation, ranges, keys, sniffing, media facts (container headers through
//!   `re_mp4` and `matroska-demuxer`), playback tokens and CloudFront signed URLs, IAM session policies.
//! - [`cdn`]: the CloudFront signing key, read at Init; [`secrets`]: Secrets Manager at Init.
//! - [`function`]: every deployable function (HTTP and event, two types); [`config`]: typed
//!   settings parsed once at Init; [`aws`]: the one `SdkConfig` with explicit timeouts;
//!   [`telemetry`]: tracing (JSON under Lambda).

pub mod app;
pub mod aws;
pub mod bus;
pub mod cdn;
pub mod config;
pub mod credentials;
pub mod domain;
pub mod events;
pub mod function;
pub mod handlers;
pub mod http;
pub mod objects;
pub mod secrets;
pub mod store;
pub mod telemetry;
pub mod uploads;

pub use app::App;
pub use config::Config;

/// The layering the module map states, checked on the source.
#[cfg(test)]
mod layers {
    use std::path::{Path, PathBuf};

    fn sources(dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.extend(sources(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
        files
    }

    fn src() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
    }

    /// The code of a file without its tests and comments.
    fn code(path: &Path) -> String {
        let text = std::fs::read_to_string(path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn no_handler_module_uses_another() {
        let handlers = src().join("handlers");
        let names: Vec<String> = sources(&handlers)
            .iter()
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .filter(|n| n != "mod" && n != "testing")
            .collect();
        for file in sources(&handlers) {
            let me = file.file_stem().unwrap().to_string_lossy().into_owned();
            if me == "mod" {
                continue;
            }
            // Every path through the parent module (`super::x`, `super::{x, y}`, `handlers::x`).
            for statement in
                code(&file).split(';').filter(|s| s.contains("super::") || s.contains("handlers::"))
            {
                let words: Vec<&str> =
                    statement.split(|c: char| !(c.is_alphanumeric() || c == '_')).collect();
                for other in names.iter().filter(|n| **n != me) {
                    assert!(!words.contains(&other.as_str()), "{} uses {other}: {statement}", file.display());
                }
            }
        }
    }

    #[test]
    fn api_error_lives_at_the_http_edge_only() {
        for file in sources(&src()) {
            let rel = file.strip_prefix(src()).unwrap().to_string_lossy().into_owned();
            if rel.starts_with("http/") || rel.starts_with("handlers/") {
                continue;
            }
            assert!(!code(&file).contains("ApiError"), "{rel} uses ApiError");
        }
    }
}
