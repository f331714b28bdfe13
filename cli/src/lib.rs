//! The `vidgate` command line: the fastest and most forgiving way to put a video into vidgate.
//!
//! # Module map
//! - [`retry`]: exponential backoff with full jitter, and which failures are worth another try
//!   (network errors, 5xx, 429), which need a fresh URL (S3's "Request has expired") and which
//!   can't succeed (other 4xx).
//! - [`api`]: the vidgate HTTP API as typed calls, retried by [`retry`]'s rules; its JSON errors
//!   become [`CliError::Api`].
//! - [`checksum`]: CRC-64/NVME of each part as it is read, and of the whole file combined from
//!   them; S3 checks both.
//! - [`state`]: what a resumable upload remembers on disk, per file (path, size, modified time),
//!   written atomically.
//! - [`progress`]: a progress bar on a terminal, plain lines otherwise.
//! - [`upload`]: create, sign parts in batches, `PUT` them in parallel straight from disk (memory
//!   bounded by concurrency × part size), complete; resumes from S3's part list.
//! - [`download`]: parallel ranged reads of the playback URL into a file, size and checksum
//!   verified.
//! - [`examine`]: the server's own media reader run on the local file, so a non-video is refused
//!   before a byte is sent.
//!
//! `main.rs` is the clap front end over these.

pub mod api;
pub mod capacity;
pub mod checksum;
pub mod download;
pub mod examine;
pub mod poster;
pub mod progress;
pub mod retry;
pub mod state;
pub mod upload;

use std::path::PathBuf;

/// Everything that can stop a command, each with a message a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The API answered with its JSON error.
    #[error("{message} ({code}, HTTP {status})")]
    Api { status: u16, code: String, message: String },
    /// The API refused the token: missing, expired or from another issuer.
    #[error(
        "{message} (HTTP 401): the token is missing, expired or not one this API accepts. Get a new \
         one from your identity provider and set VIDGATE_TOKEN; against the local stack, \
         `export VIDGATE_TOKEN=$(infra/local/token NAME)` (valid 1 h) or pass --dev-user NAME"
    )]
    Unauthorized { message: String },
    /// Nothing answers at the API's address.
    #[error(
        "can't reach the vidgate API at {url} ({cause}). Is it running? Start the local stack with \
         `infra/local/up`, or point VIDGATE_API_URL (or --api-url) at your deployed API"
    )]
    Unreachable { url: String, cause: String },
    /// S3 refused a request in a way retrying can't fix.
    #[error("S3 refused part {part}: HTTP {status} {detail}")]
    S3 { part: u32, status: u16, detail: String },
    /// The network or the service kept failing after every retry.
    #[error("gave up after {attempts} attempts: {last}")]
    Exhausted { attempts: u32, last: String },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// The command can't run as asked (a changed file, a missing token, …).
    #[error("{0}")]
    Refused(String),
}

/// Exit codes, as `docs/clients.md` lists them.
pub mod exit {
    /// The command failed on the way: the network, the API or S3 (a later rerun may succeed).
    pub const FAILED: i32 = 1;
    /// What the user must change: the arguments, the file, the token, the video's state.
    pub const USAGE: i32 = 2;
    /// Ctrl-C: the upload is kept, and the same command resumes it.
    pub const INTERRUPTED: i32 = 130;
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Refused(_) | CliError::Unauthorized { .. } => exit::USAGE,
            CliError::Api { status, .. } if (400..500).contains(status) => exit::USAGE,
            _ => exit::FAILED,
        }
    }
}

pub type Result<T> = std::result::Result<T, CliError>;

/// Human sizes in binary units: `1.5 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// A video's `media` as a person reads it: `2:41 1920x1080 ↻90 29.97 fps hvc1.1.6.L93.90 + mp4a.40.2`,
/// then its warnings (`not faststart`, `won't play in Chromium, Firefox`). `None` without media.
pub fn media_summary(video: &serde_json::Value) -> Option<String> {
    let m = video.get("media").filter(|m| m.is_object())?;
    let mut out = Vec::new();
    if let Some(ms) = m["durationMs"].as_u64() {
        let s = (ms + 500) / 1000;
        out.push(match s / 3600 {
            0 => format!("{}:{:02}", s / 60, s % 60),
            h => format!("{h}:{:02}:{:02}", s / 60 % 60, s % 60),
        });
    }
    out.push(format!("{}x{}", m["width"], m["height"]));
    if let Some(r) = m["rotation"].as_u64().filter(|&r| r != 0) {
        out.push(format!("rotated {r}°"));
    }
    if let Some(f) = m["frameRate"].as_f64() {
        out.push(format!("{f} fps"));
    }
    let codecs = [m["videoCodec"].as_str(), m["audioCodec"].as_str()];
    out.push(codecs.into_iter().flatten().collect::<Vec<_>>().join(" + "));
    if m["faststart"] == serde_json::Value::Bool(false) {
        out.push("(not faststart: moov after mdat)".into());
    }
    let missing: Vec<&str> = [("chromium", "Chromium"), ("firefox", "Firefox"), ("safari", "Safari")]
        .into_iter()
        .filter(|(key, _)| m["browsers"][key] == serde_json::Value::Bool(false))
        .map(|(_, name)| name)
        .collect();
    if !missing.is_empty() {
        out.push(format!("(won't play in {})", missing.join(", ")));
    }
    Some(out.join(" "))
}

/// Sizes as people type them: `8M`, `16MiB`, `1g`, `5242880`.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 =
        digits.parse().map_err(|_| format!("{text:?} is not a size (e.g. 8M, 16MiB, 5242880)"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => return Err(format!("unknown size unit {other:?} (use K, M, G or T)")),
    };
    number.checked_mul(factor).ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("8M"), Ok(8 << 20));
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("5242880"), Ok(5_242_880));
        assert_eq!(parse_size("2T"), Ok(2 << 40));
        assert!(parse_size("8 parsecs").is_err());
        assert!(parse_size("M").is_err());
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
    }
}

#[cfg(test)]
mod media_tests {
    use super::media_summary;
    use serde_json::json;

    #[test]
    fn a_summary_names_duration_picture_codecs_and_warnings() {
        let video = json!({"media": {
            "container": "quicktime", "durationMs": 161_400, "width": 1920, "height": 1080, "rotation": 90,
            "frameRate": 29.97, "videoCodec": "hvc1.1.6.L93.90", "audioCodec": "mp4a.40.2", "faststart": false,
            "browsers": {"chromium": false, "firefox": false, "safari": true}}});
        assert_eq!(
            media_summary(&video).unwrap(),
            "2:41 1920x1080 rotated 90° 29.97 fps hvc1.1.6.L93.90 + mp4a.40.2 (not faststart: moov after mdat) \
             (won't play in Chromium, Firefox)"
        );
        assert_eq!(media_summary(&json!({"media": null})), None);
    }
}
