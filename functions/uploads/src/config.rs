//! Typed configuration, read once at Init.
//!
//! A function that starts with a missing or malformed setting fails its Init with a message naming
//! the variable, instead of failing every request later with something vaguer.

use std::time::Duration;

use vidgate_domain::parts::{GIB, MAX_OBJECT_SIZE, MAX_PART_SIZE, MIN_PART_SIZE, SizeRules};

/// Everything the handlers read from the environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// `VIDGATE_BUCKET`: where videos are uploaded.
    pub bucket: String,
    /// `VIDGATE_TABLE`: the DynamoDB table of upload records.
    pub table: String,
    /// `VIDGATE_PART_URL_TTL_SECS` (default 3600): lifetime of presigned part URLs.
    pub part_url_ttl: Duration,
    /// `VIDGATE_DEFAULT_PART_SIZE` (bytes, default 8 MiB): part size when the client asks for none.
    pub default_part_size: u64,
    /// `VIDGATE_UPLOAD_TTL_SECS` (default 7 days): how long an upload may stay unfinished.
    pub upload_ttl: Duration,
    /// `VIDGATE_S3_PATH_STYLE` (default false): path-style S3 URLs, needed by local S3 stand-ins.
    pub s3_path_style: bool,
    /// `VIDGATE_S3_ACCELERATE` (default false): presigned URLs use S3 Transfer Acceleration.
    pub s3_accelerate: bool,
    /// `VIDGATE_PURGE_AFTER_DAYS` (default 30, 0 = never): DynamoDB's TTL removes aborted and
    /// expired records this long after they ended.
    pub purge_after_days: u64,
    /// `VIDGATE_PLAYBACK_SECRET`: HMAC key of playback tokens (at least 32 characters); required by
    /// the functions that issue or check them, unless they read it from Secrets Manager.
    pub playback_secret: Option<String>,
    /// `VIDGATE_PLAYBACK_SECRET_NAME`: the Secrets Manager secret holding that key, read once at
    /// Init ([`crate::secrets::load_playback_secret`]): what the template sets, so the key never
    /// sits in an environment variable.
    pub playback_secret_name: Option<String>,
    /// `VIDGATE_SIGNING_KEY_SECRET`: the Secrets Manager secret holding the access key of a
    /// dedicated signing identity (`{"accessKeyId", "secretAccessKey"}`), read once at Init by the
    /// functions that presign upload URLs: long-term credentials, so a URL lives its whole TTL (up
    /// to 7 days) instead of dying with the function's role session.
    pub signing_key_secret: Option<String>,
    /// The key itself, once read ([`SigningKey`]); never from an environment variable.
    pub signing_key: Option<SigningKey>,
    /// `VIDGATE_PLAYBACK_TTL_SECS` (default 4 h): lifetime of a playback URL.
    pub playback_ttl: Duration,
    /// `VIDGATE_RANGE_CAP` (bytes, default 4 MiB): the most bytes one stream reply carries. Lambda
    /// replies are limited to 6 MB after base64, so at most 4,500,000.
    pub range_cap: u64,
    /// `VIDGATE_UPLOADER_ROLE_ARN`: the role temporary upload credentials are cut from; without
    /// it, credentials mode is off. Required by issue-credentials.
    pub uploader_role_arn: Option<String>,
    /// `VIDGATE_CREDENTIALS_TTL_SECS` (default 3600, 900–3600: STS's minimum and the role-chaining
    /// maximum): lifetime of temporary credentials.
    pub credentials_ttl: Duration,
    /// `VIDGATE_EXPIRE_BATCH` (default 100): the most uploads one sweeper run expires per shard.
    pub expire_batch: u32,
    /// `VIDGATE_AUTOCOMPLETE_IDLE_SECS` (default 300): how long an upload whose parts are all in
    /// S3 must have been quiet before vidgate completes it itself; the schedule runs the pass
    /// that often.
    pub autocomplete_idle: Duration,
    /// `VIDGATE_PUBLIC_URL` (optional): the API's public base URL for playback links, when it is not
    /// the host the request came to (a custom domain behind a CDN, say).
    pub public_url: Option<String>,
    /// `VIDGATE_MAX_VIDEO_SIZE` (bytes, default [`DEFAULT_MAX_VIDEO_SIZE`], at most S3's largest
    /// object): the largest video an upload may declare or store.
    pub max_video_size: u64,
    /// `VIDGATE_MAX_VIDEO_DURATION_SECS` (default [`DEFAULT_MAX_VIDEO_DURATION_SECS`], 0 = none):
    /// the longest video any upload may be, from its media facts at arrival (a video whose
    /// duration can't be read passes; an upload link's own bound refuses it).
    pub max_video_duration: Option<u64>,
    /// `VIDGATE_UPLOAD_LINK_SCOPE` (default [`DEFAULT_UPLOAD_LINK_SCOPE`]): the OAuth scope a
    /// token must carry to create upload links (the route's authorizer requires it too).
    pub upload_link_scope: String,
    /// `VIDGATE_MAX_OPEN_UPLOADS` (default [`DEFAULT_MAX_OPEN_UPLOADS`]) and
    /// `VIDGATE_MAX_BYTES_IN_FLIGHT` (default that many maximum-size videos): what one owner may
    /// have `uploading` at once; `VIDGATE_MAX_STORED_BYTES` (default [`DEFAULT_MAX_STORED_BYTES`]):
    /// what they may keep in all.
    pub quota: Quota,
    /// `VIDGATE_EVENT_BUS`: the EventBridge bus (name or ARN) lifecycle events are published
    /// to; required by publish-events.
    pub event_bus: Option<String>,
    /// `VIDGATE_MAX_PROBE_BYTES` (default [`DEFAULT_MAX_PROBE_BYTES`]) and `VIDGATE_MAX_PROBE_MS`
    /// (default 2000): what reading one video's header may fetch and parse before the video is
    /// rejected as unreadable.
    pub probe: ProbeLimits,
    /// Playback through CloudFront: `VIDGATE_CDN_URL` and the key that signs its URLs. Without
    /// it, playback URLs are the stream route's.
    pub cdn: Option<CdnSettings>,
}

/// Where playback URLs point and what signs them (see [`vidgate_domain::cdn`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CdnSettings {
    /// `VIDGATE_CDN_URL`: the distribution's base URL (its `*.cloudfront.net` name or the custom
    /// domain); an object's URL is this, `/`, its key.
    pub url: String,
    /// `VIDGATE_CDN_KEY_PAIR_ID`: the id of the CloudFront public key, in the distribution's
    /// trusted key group, whose private half signs.
    pub key_pair_id: String,
    pub private_key: PrivateKeySource,
}

/// Where the signing key is read from at Init.
#[derive(Clone, PartialEq, Eq)]
pub enum PrivateKeySource {
    /// `VIDGATE_CDN_PRIVATE_KEY_SECRET`: a Secrets Manager secret (name or ARN) whose string is
    /// the PEM. What the template sets: the key never sits in a function's environment.
    Secret(String),
    /// `VIDGATE_CDN_PRIVATE_KEY`: the PEM itself, for local stacks and `cargo lambda watch`.
    Pem(String),
}

impl std::fmt::Debug for PrivateKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret(name) => f.debug_tuple("Secret").field(name).finish(),
            Self::Pem(_) => f.write_str("Pem(<redacted>)"),
        }
    }
}

/// The bounds on reading a container's header (see [`vidgate_domain::media`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeLimits {
    pub bytes: u64,
    /// Parser time, measured around each run (the fetches are not counted).
    pub time: Duration,
}

/// 16 MiB: a two-hour 30 fps MP4's `moov` is about 6 MB.
pub const DEFAULT_MAX_PROBE_BYTES: u64 = 16 * 1024 * 1024;

/// The bounds on one owner's uploads in progress, and on all they keep. An upload holds its
/// declared size of the bytes bounds, or the maximum video size when it declared none (that is
/// what it may still store); once uploaded, a video holds its size of `stored` until deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub uploads: u32,
    pub bytes: u64,
    /// `VIDGATE_MAX_STORED_BYTES`: the owner's videos and uploads in progress together.
    pub stored: u64,
}

/// The access key of the dedicated identity that signs upload URLs.
#[derive(Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SigningKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for SigningKey {
    /// The access key id only: a secret never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// 1 TiB: what one owner may keep (uploaded videos and uploads in progress), whatever the path.
pub const DEFAULT_MAX_STORED_BYTES: u64 = 1024 * 1024 * 1024 * 1024;

/// 32 GiB: an hour of a phone's 4K HDR video, with room; S3 itself stores up to 48.8 TiB.
pub const DEFAULT_MAX_VIDEO_SIZE: u64 = 32 * GIB;
pub const DEFAULT_MAX_OPEN_UPLOADS: u64 = 10;
/// 12 hours: far past a phone's longest recording, short of a day-long stream dump.
pub const DEFAULT_MAX_VIDEO_DURATION_SECS: u64 = 12 * 3600;
/// The scope of an app backend's client-credentials token (Cognito: `<resource server>/<scope>`).
pub const DEFAULT_UPLOAD_LINK_SCOPE: &str = "vidgate/upload-links";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Every variable [`Config`] reads. Deployments set all but the local-only
/// `VIDGATE_S3_PATH_STYLE` (tests/template.rs checks template.yaml against this list).
pub const VARIABLES: &[&str] = &[
    "VIDGATE_BUCKET",
    "VIDGATE_TABLE",
    "VIDGATE_PART_URL_TTL_SECS",
    "VIDGATE_DEFAULT_PART_SIZE",
    "VIDGATE_UPLOAD_TTL_SECS",
    "VIDGATE_S3_PATH_STYLE",
    "VIDGATE_S3_ACCELERATE",
    "VIDGATE_PURGE_AFTER_DAYS",
    "VIDGATE_PLAYBACK_SECRET",
    "VIDGATE_PLAYBACK_SECRET_NAME",
    "VIDGATE_SIGNING_KEY_SECRET",
    "VIDGATE_PLAYBACK_TTL_SECS",
    "VIDGATE_RANGE_CAP",
    "VIDGATE_UPLOADER_ROLE_ARN",
    "VIDGATE_CREDENTIALS_TTL_SECS",
    "VIDGATE_EXPIRE_BATCH",
    "VIDGATE_AUTOCOMPLETE_IDLE_SECS",
    "VIDGATE_PUBLIC_URL",
    "VIDGATE_MAX_VIDEO_SIZE",
    "VIDGATE_MAX_VIDEO_DURATION_SECS",
    "VIDGATE_UPLOAD_LINK_SCOPE",
    "VIDGATE_MAX_OPEN_UPLOADS",
    "VIDGATE_MAX_BYTES_IN_FLIGHT",
    "VIDGATE_MAX_STORED_BYTES",
    "VIDGATE_EVENT_BUS",
    "VIDGATE_MAX_PROBE_BYTES",
    "VIDGATE_MAX_PROBE_MS",
    "VIDGATE_CDN_URL",
    "VIDGATE_CDN_KEY_PAIR_ID",
    "VIDGATE_CDN_PRIVATE_KEY_SECRET",
    "VIDGATE_CDN_PRIVATE_KEY",
];

/// Variables a deployment never sets: local-stand-in switches, and the private key itself (the
/// template names a secret instead).
pub const LOCAL_ONLY_VARIABLES: &[&str] =
    &["VIDGATE_S3_PATH_STYLE", "VIDGATE_CDN_PRIVATE_KEY", "VIDGATE_PLAYBACK_SECRET"];

/// The shortest playback secret accepted: 256 bits of base64 or hex is longer.
pub const MIN_PLAYBACK_SECRET_CHARS: usize = 32;

/// `VIDGATE_CDN_*`: all or nothing, so a half-configured CDN fails Init instead of silently
/// falling back to the stream route.
fn cdn_settings(get: &impl Fn(&str) -> Option<String>) -> Result<Option<CdnSettings>, ConfigError> {
    let value = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let (secret, pem) = (value("VIDGATE_CDN_PRIVATE_KEY_SECRET"), value("VIDGATE_CDN_PRIVATE_KEY"));
    let Some(url) = value("VIDGATE_CDN_URL") else {
        if let Some(name) =
            ["VIDGATE_CDN_KEY_PAIR_ID", "VIDGATE_CDN_PRIVATE_KEY_SECRET", "VIDGATE_CDN_PRIVATE_KEY"]
                .into_iter()
                .find(|name| value(name).is_some())
        {
            return Err(ConfigError::Invalid { name, reason: "set without VIDGATE_CDN_URL".into() });
        }
        return Ok(None);
    };
    let parsed = http::Uri::try_from(url.as_str()).ok();
    if !parsed.as_ref().is_some_and(|u| {
        matches!(u.scheme_str(), Some("https" | "http")) && u.host().is_some() && u.query().is_none()
    }) {
        return Err(ConfigError::Invalid {
            name: "VIDGATE_CDN_URL",
            reason: format!("{url:?} is not an http(s) base URL"),
        });
    }
    let key_pair_id =
        value("VIDGATE_CDN_KEY_PAIR_ID").ok_or(ConfigError::Missing("VIDGATE_CDN_KEY_PAIR_ID"))?;
    let private_key = match (secret, pem) {
        (Some(secret), None) => PrivateKeySource::Secret(secret),
        (None, Some(pem)) => PrivateKeySource::Pem(pem),
        (None, None) => return Err(ConfigError::Missing("VIDGATE_CDN_PRIVATE_KEY_SECRET")),
        (Some(_), Some(_)) => {
            return Err(ConfigError::Invalid {
                name: "VIDGATE_CDN_PRIVATE_KEY",
                reason: "set beside VIDGATE_CDN_PRIVATE_KEY_SECRET; name one key".into(),
            });
        }
    };
    Ok(Some(CdnSettings { url: url.trim_end_matches('/').to_owned(), key_pair_id, private_key }))
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Parses settings from any lookup, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required =
            |name: &'static str| get(name).filter(|v| !v.trim().is_empty()).ok_or(ConfigError::Missing(name));
        let number = |name: &'static str, default: u64, min: u64, max: u64| -> Result<u64, ConfigError> {
            let Some(raw) = get(name).filter(|v| !v.trim().is_empty()) else {
                return Ok(default);
            };
            let value: u64 = raw.trim().parse().map_err(|_| ConfigError::Invalid {
                name,
                reason: format!("{raw:?} is not a whole number"),
            })?;
            if !(min..=max).contains(&value) {
                return Err(ConfigError::Invalid {
                    name,
                    reason: format!("{value} is outside {min}..={max}"),
                });
            }
            Ok(value)
        };
        let flag = |name: &'static str| -> Result<bool, ConfigError> {
            match get(name).as_deref().map(str::trim) {
                None | Some("") => Ok(false),
                Some("1" | "true" | "TRUE" | "yes") => Ok(true),
                Some("0" | "false" | "FALSE" | "no") => Ok(false),
                Some(other) => {
                    Err(ConfigError::Invalid { name, reason: format!("{other:?} is not true or false") })
                }
            }
        };

        let max_video_size =
            number("VIDGATE_MAX_VIDEO_SIZE", DEFAULT_MAX_VIDEO_SIZE, MIN_PART_SIZE, MAX_OBJECT_SIZE)?;
        let uploads = number("VIDGATE_MAX_OPEN_UPLOADS", DEFAULT_MAX_OPEN_UPLOADS, 1, 100_000)?;
        // At least one maximum-size video, or an upload of unknown size could never start.
        let bytes = number(
            "VIDGATE_MAX_BYTES_IN_FLIGHT",
            uploads.saturating_mul(max_video_size),
            max_video_size,
            u64::MAX / 2,
        )?;
        // At least one maximum-size video, likewise.
        let stored =
            number("VIDGATE_MAX_STORED_BYTES", DEFAULT_MAX_STORED_BYTES, max_video_size, u64::MAX / 2)?;
        Ok(Self {
            bucket: required("VIDGATE_BUCKET")?,
            table: required("VIDGATE_TABLE")?,
            // SigV4 presigned URLs are valid for at most seven days.
            part_url_ttl: Duration::from_secs(number("VIDGATE_PART_URL_TTL_SECS", 3600, 1, 604_800)?),
            default_part_size: number(
                "VIDGATE_DEFAULT_PART_SIZE",
                8 * 1024 * 1024,
                MIN_PART_SIZE,
                MAX_PART_SIZE,
            )?,
            upload_ttl: Duration::from_secs(number(
                "VIDGATE_UPLOAD_TTL_SECS",
                7 * 24 * 3600,
                60,
                365 * 24 * 3600,
            )?),
            s3_path_style: flag("VIDGATE_S3_PATH_STYLE")?,
            s3_accelerate: flag("VIDGATE_S3_ACCELERATE")?,
            purge_after_days: number("VIDGATE_PURGE_AFTER_DAYS", 30, 0, 3650)?,
            playback_secret: match get("VIDGATE_PLAYBACK_SECRET").filter(|v| !v.is_empty()) {
                Some(secret) if secret.chars().count() < MIN_PLAYBACK_SECRET_CHARS => {
                    return Err(ConfigError::Invalid {
                        name: "VIDGATE_PLAYBACK_SECRET",
                        reason: format!("must be at least {MIN_PLAYBACK_SECRET_CHARS} characters"),
                    });
                }
                other => other,
            },
            playback_secret_name: get("VIDGATE_PLAYBACK_SECRET_NAME").filter(|v| !v.trim().is_empty()),
            signing_key_secret: get("VIDGATE_SIGNING_KEY_SECRET")
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
            signing_key: None,
            playback_ttl: Duration::from_secs(number(
                "VIDGATE_PLAYBACK_TTL_SECS",
                4 * 3600,
                60,
                7 * 24 * 3600,
            )?),
            range_cap: number("VIDGATE_RANGE_CAP", 4 * 1024 * 1024, 1024, 4_500_000)?,
            uploader_role_arn: get("VIDGATE_UPLOADER_ROLE_ARN")
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
            credentials_ttl: Duration::from_secs(number("VIDGATE_CREDENTIALS_TTL_SECS", 3600, 900, 3600)?),
            expire_batch: number("VIDGATE_EXPIRE_BATCH", 100, 1, 1000)? as u32,
            autocomplete_idle: Duration::from_secs(number("VIDGATE_AUTOCOMPLETE_IDLE_SECS", 300, 1, 86_400)?),
            public_url: get("VIDGATE_PUBLIC_URL")
                .map(|v| v.trim().trim_end_matches('/').to_owned())
                .filter(|v| !v.is_empty()),
            max_video_size,
            max_video_duration: Some(number(
                "VIDGATE_MAX_VIDEO_DURATION_SECS",
                DEFAULT_MAX_VIDEO_DURATION_SECS,
                0,
                7 * 24 * 3600,
            )?)
            .filter(|secs| *secs > 0),
            upload_link_scope: get("VIDGATE_UPLOAD_LINK_SCOPE")
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| DEFAULT_UPLOAD_LINK_SCOPE.to_owned()),
            quota: Quota { uploads: uploads as u32, bytes, stored },
            event_bus: get("VIDGATE_EVENT_BUS").map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()),
            probe: ProbeLimits {
                bytes: number(
                    "VIDGATE_MAX_PROBE_BYTES",
                    DEFAULT_MAX_PROBE_BYTES,
                    64 * 1024,
                    1024 * 1024 * 1024,
                )?,
                time: Duration::from_millis(number("VIDGATE_MAX_PROBE_MS", 2000, 10, 60_000)?),
            },
            cdn: cdn_settings(&get)?,
        })
    }

    pub fn size_rules(&self) -> SizeRules {
        SizeRules { default_part_size: self.default_part_size, max_video_size: self.max_video_size }
    }

    /// A configuration for tests of this crate and the crates above it: every function's
    /// settings present (playback secret, uploader role, event bus), path-style URLs.
    #[cfg(any(test, feature = "test-util"))]
    pub fn for_tests() -> Self {
        Self::from_lookup(|name| {
            let value = match name {
                "VIDGATE_BUCKET" => "bucket",
                "VIDGATE_TABLE" => "table",
                "VIDGATE_S3_PATH_STYLE" => "true",
                "VIDGATE_PLAYBACK_SECRET" => "a-test-playback-secret-of-32-chars-or-more",
                "VIDGATE_UPLOADER_ROLE_ARN" => "arn:aws:iam::123456789012:role/vidgate-uploader",
                "VIDGATE_EVENT_BUS" => "vidgate-test-events",
                _ => return None,
            };
            Some(value.to_owned())
        })
        .expect("test settings are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn defaults_apply_when_only_required_settings_are_given() {
        let c = Config::from_lookup(lookup(&[("VIDGATE_BUCKET", "b"), ("VIDGATE_TABLE", "t")])).unwrap();
        assert_eq!(c.part_url_ttl, Duration::from_secs(3600));
        assert_eq!(c.default_part_size, 8 * 1024 * 1024);
        assert_eq!(c.upload_ttl, Duration::from_secs(604_800));
        assert!(!c.s3_path_style);
    }

    #[test]
    fn missing_bucket_names_the_variable() {
        let err = Config::from_lookup(lookup(&[("VIDGATE_TABLE", "t")])).unwrap_err();
        assert!(err.to_string().contains("VIDGATE_BUCKET"), "{err}");
    }

    #[test]
    fn out_of_range_part_size_is_refused() {
        let err = Config::from_lookup(lookup(&[
            ("VIDGATE_BUCKET", "b"),
            ("VIDGATE_TABLE", "t"),
            ("VIDGATE_DEFAULT_PART_SIZE", "1024"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("VIDGATE_DEFAULT_PART_SIZE"), "{err}");
    }

    #[test]
    fn a_short_playback_secret_is_refused() {
        let short =
            lookup(&[("VIDGATE_BUCKET", "b"), ("VIDGATE_TABLE", "t"), ("VIDGATE_PLAYBACK_SECRET", "short")]);
        assert!(Config::from_lookup(short).unwrap_err().to_string().contains("VIDGATE_PLAYBACK_SECRET"));
    }

    #[test]
    fn limits_default_to_ten_maximum_size_uploads_and_bytes_cover_one_video() {
        let base = [("VIDGATE_BUCKET", "b"), ("VIDGATE_TABLE", "t")];
        let c = Config::from_lookup(lookup(&base)).unwrap();
        assert_eq!(c.max_video_size, DEFAULT_MAX_VIDEO_SIZE);
        assert_eq!(
            c.quota,
            Quota { uploads: 10, bytes: 10 * DEFAULT_MAX_VIDEO_SIZE, stored: DEFAULT_MAX_STORED_BYTES }
        );
        let small = Config::from_lookup(lookup(&[
            base[0],
            base[1],
            ("VIDGATE_MAX_VIDEO_SIZE", "10485760"),
            ("VIDGATE_MAX_OPEN_UPLOADS", "3"),
        ]))
        .unwrap();
        assert_eq!(
            small.quota,
            Quota { uploads: 3, bytes: 3 * 10_485_760, stored: DEFAULT_MAX_STORED_BYTES }
        );
        let err = Config::from_lookup(lookup(&[
            base[0],
            base[1],
            ("VIDGATE_MAX_VIDEO_SIZE", "10485760"),
            ("VIDGATE_MAX_BYTES_IN_FLIGHT", "1000"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("VIDGATE_MAX_BYTES_IN_FLIGHT"), "{err}");
        let too_big =
            Config::from_lookup(lookup(&[base[0], base[1], ("VIDGATE_MAX_VIDEO_SIZE", "53687091200001")]));
        assert!(too_big.unwrap_err().to_string().contains("VIDGATE_MAX_VIDEO_SIZE"));
    }

    #[test]
    fn the_cdn_is_all_or_nothing_and_its_key_comes_from_one_place() {
        let base = [("VIDGATE_BUCKET", "b"), ("VIDGATE_TABLE", "t")];
        let with = |extra: &[(&str, &str)]| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(extra);
            Config::from_lookup(lookup(&pairs))
        };
        assert_eq!(with(&[]).unwrap().cdn, None);
        let url = ("VIDGATE_CDN_URL", "https://d111111abcdef8.cloudfront.net/");
        let id = ("VIDGATE_CDN_KEY_PAIR_ID", "K2JCJMDEHXQW5F");
        let secret = ("VIDGATE_CDN_PRIVATE_KEY_SECRET", "vidgate/cdn-key");
        let c = with(&[url, id, secret]).unwrap();
        let cdn = c.cdn.clone().unwrap();
        assert_eq!(cdn.url, "https://d111111abcdef8.cloudfront.net");
        assert_eq!(cdn.private_key, PrivateKeySource::Secret("vidgate/cdn-key".into()));
        let pem = ("VIDGATE_CDN_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----");
        assert!(!format!("{:?}", with(&[url, id, pem]).unwrap()).contains("BEGIN"));
        for (bad, named) in [
            (vec![id], "VIDGATE_CDN_KEY_PAIR_ID"),
            (vec![url, secret], "VIDGATE_CDN_KEY_PAIR_ID"),
            (vec![url, id], "VIDGATE_CDN_PRIVATE_KEY_SECRET"),
            (vec![url, id, secret, pem], "VIDGATE_CDN_PRIVATE_KEY"),
            (vec![("VIDGATE_CDN_URL", "d111111abcdef8.cloudfront.net"), id, secret], "VIDGATE_CDN_URL"),
        ] {
            let err = with(&bad).unwrap_err().to_string();
            assert!(err.contains(named), "{bad:?}: {err}");
        }
    }

    #[test]
    fn malformed_flag_is_refused() {
        let err = Config::from_lookup(lookup(&[
            ("VIDGATE_BUCKET", "b"),
            ("VIDGATE_TABLE", "t"),
            ("VIDGATE_S3_PATH_STYLE", "maybe"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("VIDGATE_S3_PATH_STYLE"), "{err}");
    }
}
