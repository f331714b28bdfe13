//! The decoder's bounds, from the environment at Init (the template's `Images*` parameters).

use std::path::PathBuf;
use std::time::Duration;

/// Where ffmpeg is and how far one video's run may go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FfmpegConfig {
    /// `VIDGATE_FFMPEG`: the layer's `/opt/bin/ffmpeg` in Lambda; `ffmpeg` on `PATH` elsewhere.
    pub program: PathBuf,
    /// `VIDGATE_IMAGES_SECONDS` (120): one video's whole run, every ffmpeg process in it.
    pub time: Duration,
    /// `VIDGATE_IMAGES_MAX_READ_BYTES` (512 MiB): what one run may read from S3.
    pub max_read_bytes: u64,
    /// `VIDGATE_IMAGES_MEMORY_MB` (640): the memory one ffmpeg process may write to
    /// (`RLIMIT_DATA`), leaving room in a 1,024 MB function for the function and its read cache.
    pub memory_mb: u64,
}

/// Every variable [`FfmpegConfig::from_env`] reads.
pub const VARIABLES: [&str; 4] =
    ["VIDGATE_FFMPEG", "VIDGATE_IMAGES_SECONDS", "VIDGATE_IMAGES_MAX_READ_BYTES", "VIDGATE_IMAGES_MEMORY_MB"];

/// The layer puts ffmpeg here (`/opt` is where Lambda mounts layers).
pub const LAYER_FFMPEG: &str = "/opt/bin/ffmpeg";

impl Default for FfmpegConfig {
    fn default() -> Self {
        Self {
            program: if std::path::Path::new(LAYER_FFMPEG).exists() {
                LAYER_FFMPEG.into()
            } else {
                "ffmpeg".into()
            },
            time: Duration::from_secs(120),
            max_read_bytes: 512 << 20,
            memory_mb: 640,
        }
    }
}

impl FfmpegConfig {
    /// The settings in the environment `get` reads, failing on the first one that is no number
    /// in its range (naming it).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut config = Self::default();
        if let Some(program) = get("VIDGATE_FFMPEG").filter(|p| !p.trim().is_empty()) {
            config.program = program.trim().into();
        }
        let number = |name: &str, range: std::ops::RangeInclusive<u64>| -> Result<Option<u64>, String> {
            get(name)
                .map(|raw| {
                    raw.trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|n| range.contains(n))
                        .ok_or_else(|| format!("{name}={raw:?} is not a whole number within {range:?}"))
                })
                .transpose()
        };
        if let Some(secs) = number("VIDGATE_IMAGES_SECONDS", 5..=900)? {
            config.time = Duration::from_secs(secs);
        }
        if let Some(bytes) = number("VIDGATE_IMAGES_MAX_READ_BYTES", 1 << 20..=1 << 40)? {
            config.max_read_bytes = bytes;
        }
        if let Some(mb) = number("VIDGATE_IMAGES_MEMORY_MB", 128..=10_240)? {
            config.memory_mb = mb;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fit_a_1024_mb_function_and_the_environment_overrides_them() {
        let none = FfmpegConfig::from_env(|_| None).unwrap();
        assert_eq!(
            (none.time, none.max_read_bytes, none.memory_mb),
            (Duration::from_secs(120), 512 << 20, 640)
        );
        let set = FfmpegConfig::from_env(|k| match k {
            "VIDGATE_FFMPEG" => Some("/usr/bin/ffmpeg".into()),
            "VIDGATE_IMAGES_SECONDS" => Some("30".into()),
            "VIDGATE_IMAGES_MAX_READ_BYTES" => Some("10485760".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(set.program, PathBuf::from("/usr/bin/ffmpeg"));
        assert_eq!((set.time.as_secs(), set.max_read_bytes), (30, 10 << 20));
        let err =
            FfmpegConfig::from_env(|k| (k == "VIDGATE_IMAGES_MEMORY_MB").then(|| "lots".into())).unwrap_err();
        assert!(err.contains("VIDGATE_IMAGES_MEMORY_MB"), "{err}");
    }
}
