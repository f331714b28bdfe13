//! vidgate's Lambda edge: every function's binary (`src/bin/<verb-noun>.rs`, wiring only) and the
//! translation between API Gateway, S3, the scheduler, the table's stream and the use cases.
//!
//! # Crates, from the edge in (each uses only those below it; the compiler keeps it so)
//! - this crate: [`handlers`] (the HTTP edge: one entry per function picks the operation of the
//!   matched route, [`http::Operation`], and runs one translator — a `/v1` route file, the
//!   Companion module or the Uppy 6 module; no translator uses another), [`events`] (S3
//!   notifications, the schedule, the table's stream, the operator's erasure), [`http`] (the
//!   route table, the caller's identity, [`http::ApiError`] — the one error → JSON mapping — and
//!   reply shapes), [`view`] (a video as callers and events see it), [`function`] (the one list
//!   of functions), [`telemetry`];
//! - `vidgate-aws` ([`aws`]): the AWS adapters of the ports and the one `SdkConfig`;
//! - `vidgate-ffmpeg` ([`ffmpeg`]): the frame decoder, ffmpeg reading videos through bounded
//!   ranged GETs;
//! - `vidgate-uploads` ([`uploads`]): the use cases over narrow ports, [`Config`], [`App`];
//! - `vidgate-domain` ([`domain`]): the rules, with no AWS or Lambda crate.
//!
//! The lower crates are re-exported here, so the local gateway and the tests reach the same code
//! through one name.

pub mod events;
pub mod function;
pub mod handlers;
pub mod http;
pub mod telemetry;
pub mod view;

pub use vidgate_aws as aws;
pub use vidgate_domain as domain;
pub use vidgate_ffmpeg as ffmpeg;
pub use vidgate_uploads as uploads;
pub use vidgate_uploads::{App, Config, app, bus, cdn, config, credentials, objects, store};

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
