//! Upload links: an app's backend asks for one with limits and hands it to someone who has no
//! account (a form, a contest entry, a support ticket). The link's token starts exactly one upload
//! for the owner the backend named, within the link's limits, and can then sign, complete and
//! see that upload — nothing else. The first successful start uses it up.
//!
//! The token is `<linkId>.<secret>`: the id finds the record, the secret (32 random bytes,
//! base64url) is checked against the SHA-256 the record keeps, so the table never holds a usable
//! token.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Invalid;
use super::media::Media;
use super::time::{self, Timestamp};
use super::upload::{self, NewUpload};
use super::video::{Owner, VideoId};

/// How long a link may live: from a minute to a week (a presigned URL's longest life).
pub const MIN_EXPIRES_SECS: u64 = 60;
pub const MAX_EXPIRES_SECS: u64 = 7 * 24 * 3600;
/// The longest duration limit a link may set: a day.
pub const MAX_DURATION_SECS: u64 = 86_400;
pub const MAX_CONTENT_TYPES: usize = 16;
pub const MAX_OWNER_CHARS: usize = 256;
pub const MAX_ORIGIN_CHARS: usize = 256;

/// An upload link's id: a random UUID (v4), so ids say nothing of when or by whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LinkId(Uuid);

impl LinkId {
    /// From 16 random bytes the caller drew (a CSPRNG: the use case's).
    pub fn from_random(bytes: [u8; 16]) -> Self {
        Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }
}

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for LinkId {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match Uuid::try_parse(s) {
            Ok(id) if id.hyphenated().to_string() == s => Ok(Self(id)),
            _ => Err(()),
        }
    }
}

/// What a link allows, checked at start (size, type) and at arrival (type, duration).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Signed into the URLs: S3 refuses more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size_bytes: Option<u64>,
    /// Checked from the media facts at arrival; a video whose duration can't be read is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration_seconds: Option<u64>,
    /// Video types the upload may declare and its bytes may be; empty = any video.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content_types: Vec<String>,
}

/// Whether a link can still start its upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkStatus {
    Open,
    Used,
}

/// An upload link as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadLink {
    pub link_id: LinkId,
    /// Whose video it becomes.
    pub owner: Owner,
    /// The backend that asked for it (its token's `sub`: a client id).
    pub created_by: String,
    pub status: LinkStatus,
    /// SHA-256 of the token's secret, base64url.
    pub secret_hash: String,
    pub limits: Limits,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors_origin: Option<String>,
    #[serde(with = "time")]
    pub created_at: Timestamp,
    #[serde(with = "time")]
    pub link_expires_at: Timestamp,
    /// The upload it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_id: Option<VideoId>,
}

/// The backend's request, as JSON.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkRequest {
    pub owner: Option<String>,
    pub max_size_bytes: Option<u64>,
    pub max_duration_seconds: Option<u64>,
    pub content_types: Option<Vec<String>>,
    pub expires_in_seconds: Option<u64>,
    pub metadata: Option<BTreeMap<String, String>>,
    pub cors_origin: Option<String>,
}

/// A valid request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLink {
    pub owner: Owner,
    pub limits: Limits,
    pub metadata: BTreeMap<String, String>,
    pub cors_origin: Option<String>,
    pub expires_in_secs: u64,
}

/// A link lives a day unless the backend says otherwise.
pub const DEFAULT_EXPIRES_SECS: u64 = 86_400;

impl LinkRequest {
    /// `max_video_size`: the deployment's bound, which a link can only lower.
    pub fn validate(self, max_video_size: u64) -> Result<NewLink, Invalid> {
        let owner = self.owner.map(|o| o.trim().to_owned()).unwrap_or_default();
        if owner.is_empty() || owner.chars().count() > MAX_OWNER_CHARS || owner.chars().any(char::is_control)
        {
            return Err(Invalid::new(
                "invalid_owner",
                format!("owner (whose video it becomes) must be 1 to {MAX_OWNER_CHARS} characters"),
            ));
        }
        if let Some(max) = self.max_size_bytes
            && !(1..=max_video_size).contains(&max)
        {
            return Err(Invalid::new(
                "invalid_max_size",
                format!("maxSizeBytes must be 1 to {max_video_size} (the deployment's maximum video size)"),
            ));
        }
        if let Some(secs) = self.max_duration_seconds
            && !(1..=MAX_DURATION_SECS).contains(&secs)
        {
            return Err(Invalid::new(
                "invalid_max_duration",
                format!("maxDurationSeconds must be 1 to {MAX_DURATION_SECS}"),
            ));
        }
        let content_types = self.content_types.unwrap_or_default();
        if content_types.len() > MAX_CONTENT_TYPES {
            return Err(Invalid::new(
                "invalid_content_types",
                format!("contentTypes may list at most {MAX_CONTENT_TYPES} types"),
            ));
        }
        let mut types = Vec::new();
        for declared in content_types {
            let essence = declared.trim().to_ascii_lowercase();
            if !upload::is_video_type(&essence) {
                return Err(Invalid::new(
                    "invalid_content_types",
                    format!("{declared:?} is not a video type vidgate accepts (e.g. video/mp4, video/webm)"),
                ));
            }
            if !types.contains(&essence) {
                types.push(essence);
            }
        }
        let expires_in_secs = self.expires_in_seconds.unwrap_or(DEFAULT_EXPIRES_SECS);
        if !(MIN_EXPIRES_SECS..=MAX_EXPIRES_SECS).contains(&expires_in_secs) {
            return Err(Invalid::new(
                "invalid_expiry",
                format!("expiresInSeconds must be {MIN_EXPIRES_SECS} to {MAX_EXPIRES_SECS} (a week)"),
            ));
        }
        let metadata = upload::validate_metadata(self.metadata.unwrap_or_default())?;
        let cors_origin = self.cors_origin.map(|o| validate_origin(&o)).transpose()?;
        Ok(NewLink {
            owner: Owner::new(owner),
            limits: Limits {
                max_size_bytes: self.max_size_bytes,
                max_duration_seconds: self.max_duration_seconds,
                content_types: types,
            },
            metadata,
            cors_origin,
            expires_in_secs,
        })
    }
}

/// A browser origin: `https://host[:port]` (or `http://` for localhost and 127.0.0.1), no path.
fn validate_origin(origin: &str) -> Result<String, Invalid> {
    let invalid = || {
        Invalid::new(
            "invalid_cors_origin",
            "corsOrigin must be an origin such as https://app.example.com (no path; http:// only for localhost)",
        )
    };
    let origin = origin.trim().trim_end_matches('/');
    if origin.len() > MAX_ORIGIN_CHARS {
        return Err(invalid());
    }
    let (scheme, rest) = origin.split_once("://").ok_or_else(invalid)?;
    let host = rest.rsplit_once(':').map_or(
        rest,
        |(host, port)| {
            if port.parse::<u16>().is_ok() { host } else { "" }
        },
    );
    let host_ok = !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !host.starts_with('.')
        && !host.ends_with('.');
    let scheme_ok = scheme == "https" || (scheme == "http" && (host == "localhost" || host == "127.0.0.1"));
    if !host_ok || !scheme_ok {
        return Err(invalid());
    }
    Ok(origin.to_ascii_lowercase())
}

/// A token as handed out, and what the record keeps of it.
pub struct IssuedToken {
    pub token: String,
    pub secret_hash: String,
}

/// The token of link `id`, from 32 random bytes the caller drew.
pub fn issue_token(id: &LinkId, secret: &[u8; 32]) -> IssuedToken {
    let encoded = URL_SAFE_NO_PAD.encode(secret);
    IssuedToken { token: format!("{id}.{encoded}"), secret_hash: hash(&encoded) }
}

fn hash(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// The link a token names, and its secret, if it is shaped as one; say nothing more.
pub fn parse_token(token: &str) -> Option<(LinkId, &str)> {
    let (id, secret) = token.split_once('.')?;
    let id = id.parse().ok()?;
    (secret.len() == 43 && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then_some((id, secret))
}

impl UploadLink {
    /// Whether `secret` is this link's, in time that does not depend on where they differ.
    pub fn opens_with(&self, secret: &str) -> bool {
        let (a, b) = (hash(secret), self.secret_hash.as_bytes());
        a.len() == b.len() && a.bytes().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.link_expires_at
    }

    /// Applies the link to an upload its holder asks for: the size and type limits (a refusal
    /// names the limit), the link's metadata over the holder's (the backend's keys win).
    pub fn shape(&self, mut upload: NewUpload) -> Result<NewUpload, Invalid> {
        if let Some(max) = self.limits.max_size_bytes {
            match upload.size {
                None => {
                    return Err(Invalid::new(
                        "size_required",
                        format!("this upload link allows at most {max} bytes: declare the size"),
                    ));
                }
                Some(size) if size > max => {
                    return Err(Invalid::new(
                        "too_large_for_link",
                        format!("the video is {size} bytes; this upload link allows at most {max}"),
                    ));
                }
                Some(_) => {}
            }
        }
        if !self.limits.content_types.is_empty() {
            let essence =
                upload.content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            if !self.limits.content_types.contains(&essence) {
                return Err(Invalid::new(
                    "content_type_not_allowed",
                    format!(
                        "{essence} is not allowed by this upload link (allowed: {})",
                        self.limits.content_types.join(", ")
                    ),
                ));
            }
        }
        for (key, value) in &self.metadata {
            upload.metadata.insert(key.clone(), value.clone());
        }
        upload.metadata = upload::validate_metadata(std::mem::take(&mut upload.metadata))?;
        Ok(upload)
    }
}

/// Why an arrived video breaks its limits (`limits` of its link; `max_duration_secs` the
/// deployment's), if it does; the reason names the limit. `container` is what the bytes are
/// (`media.container` when read, else the sniffed one).
pub fn breaks(
    limits: Option<&Limits>,
    max_duration_secs: Option<u64>,
    container: Option<&str>,
    media: Option<&Media>,
) -> Option<String> {
    let duration_ms = media.and_then(|m| m.duration_ms);
    // The link's own bound first: it is the one its holder was given.
    if let Some(max) = limits.and_then(|l| l.max_duration_seconds) {
        match duration_ms {
            Some(ms) if ms > max * 1000 => {
                return Some(format!(
                    "the video is {:.1} s long, more than the {max} s its upload link allows (maxDurationSeconds)",
                    ms as f64 / 1000.0
                ));
            }
            None => {
                return Some(format!(
                    "the video's duration can't be read, and its upload link allows at most {max} s (maxDurationSeconds)"
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(max) = max_duration_secs
        && let Some(ms) = duration_ms
        && ms > max * 1000
    {
        return Some(format!(
            "the video is {:.1} s long, more than the {max} s this deployment allows (MaxVideoDurationSeconds)",
            ms as f64 / 1000.0
        ));
    }
    let limits = limits?;
    if !limits.content_types.is_empty() {
        let types = container.map(container_types).unwrap_or_default();
        if !types.iter().any(|t| limits.content_types.iter().any(|allowed| allowed == t)) {
            return Some(format!(
                "the bytes are {}, which its upload link does not allow (contentTypes: {})",
                container.map_or("no container vidgate can name".to_owned(), |c| format!("a {c} file")),
                limits.content_types.join(", ")
            ));
        }
    }
    None
}

/// The declared types bytes of a container may be.
fn container_types(container: &str) -> &'static [&'static str] {
    match container {
        "mp4" => &["video/mp4", "video/x-m4v", "video/3gpp", "video/3gpp2"],
        "quicktime" => &["video/quicktime", "video/mp4"],
        "webm" => &["video/webm"],
        // Matroska's signature is WebM's too until its header is read.
        "matroska" => &["video/x-matroska", "video/webm"],
        "avi" => &["video/x-msvideo"],
        "mpeg-ts" => &["video/mp2t"],
        "mpeg-ps" => &["video/mpeg"],
        "ogg" => &["video/ogg"],
        "flv" => &["video/x-flv"],
        "asf" => &["video/x-ms-wmv"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parts::MIB;

    fn request(body: serde_json::Value) -> Result<NewLink, Invalid> {
        serde_json::from_value::<LinkRequest>(body).unwrap().validate(5 * 1024 * MIB)
    }

    #[test]
    fn a_request_is_validated_and_each_bad_field_is_named() {
        let link = request(serde_json::json!({
            "owner": "customer-42", "maxSizeBytes": 50 * MIB, "maxDurationSeconds": 60,
            "contentTypes": ["video/mp4", "VIDEO/QUICKTIME", "video/mp4"], "expiresInSeconds": 3600,
            "metadata": {"ticket": "T-1"}, "corsOrigin": "https://Forms.Example.com/"
        }))
        .unwrap();
        assert_eq!(link.limits.content_types, ["video/mp4", "video/quicktime"]);
        assert_eq!(link.cors_origin.as_deref(), Some("https://forms.example.com"));
        assert_eq!(link.expires_in_secs, 3600);
        assert_eq!(request(serde_json::json!({"owner": "a"})).unwrap().expires_in_secs, DEFAULT_EXPIRES_SECS);
        for (body, code) in [
            (serde_json::json!({}), "invalid_owner"),
            (serde_json::json!({"owner": " "}), "invalid_owner"),
            (serde_json::json!({"owner": "a", "maxSizeBytes": 0}), "invalid_max_size"),
            (serde_json::json!({"owner": "a", "maxSizeBytes": 6 * 1024 * MIB}), "invalid_max_size"),
            (serde_json::json!({"owner": "a", "maxDurationSeconds": 0}), "invalid_max_duration"),
            (serde_json::json!({"owner": "a", "contentTypes": ["image/png"]}), "invalid_content_types"),
            (serde_json::json!({"owner": "a", "expiresInSeconds": 30}), "invalid_expiry"),
            (serde_json::json!({"owner": "a", "expiresInSeconds": 700_000}), "invalid_expiry"),
            (serde_json::json!({"owner": "a", "metadata": {"bad key": "x"}}), "invalid_metadata"),
            (
                serde_json::json!({"owner": "a", "corsOrigin": "https://a.example.com/form"}),
                "invalid_cors_origin",
            ),
            (serde_json::json!({"owner": "a", "corsOrigin": "http://a.example.com"}), "invalid_cors_origin"),
            (serde_json::json!({"owner": "a", "corsOrigin": "*"}), "invalid_cors_origin"),
        ] {
            assert_eq!(request(body.clone()).unwrap_err().code, code, "{body}");
        }
        assert!(request(serde_json::json!({"owner": "a", "corsOrigin": "http://localhost:5173"})).is_ok());
        assert!(
            serde_json::from_value::<LinkRequest>(serde_json::json!({"owner": "a", "maxSize": 1})).is_err()
        );
    }

    #[test]
    fn a_token_opens_its_link_only_and_the_record_keeps_no_token() {
        let id = LinkId::from_random([3u8; 16]);
        let issued = issue_token(&id, &[9u8; 32]);
        assert!(!issued.token.contains(&issued.secret_hash));
        let (parsed, secret) = parse_token(&issued.token).unwrap();
        assert_eq!(parsed, id);
        let link = UploadLink {
            link_id: id,
            owner: Owner::new("o"),
            created_by: "backend".into(),
            status: LinkStatus::Open,
            secret_hash: issued.secret_hash.clone(),
            limits: Limits::default(),
            metadata: BTreeMap::new(),
            cors_origin: None,
            created_at: time::now(),
            link_expires_at: time::now(),
            video_id: None,
        };
        assert!(link.opens_with(secret));
        let other = issue_token(&id, &[8u8; 32]);
        assert!(!link.opens_with(parse_token(&other.token).unwrap().1));
        for bad in ["", "x.y", &format!("{id}"), &format!("{id}.short"), &format!("not-a-uuid.{secret}")] {
            assert!(parse_token(bad).is_none(), "{bad}");
        }
    }

    fn media(duration_ms: Option<u64>, container: &str) -> Media {
        Media { duration_ms, container: container.into(), ..crate::fixtures::media(0) }
    }

    #[test]
    fn an_arrival_past_a_limit_is_refused_with_the_limit_named() {
        let limits = Limits {
            max_size_bytes: None,
            max_duration_seconds: Some(5),
            content_types: vec!["video/mp4".into()],
        };
        let ten = media(Some(10_000), "mp4");
        let why = breaks(Some(&limits), None, Some("mp4"), Some(&ten)).unwrap();
        assert!(why.contains("10.0 s") && why.contains("maxDurationSeconds"), "{why}");
        // Under both bounds, the link's is named.
        assert!(
            breaks(Some(&limits), Some(8), Some("mp4"), Some(&ten)).unwrap().contains("maxDurationSeconds")
        );
        let four = media(Some(4_000), "mp4");
        assert_eq!(breaks(Some(&limits), None, Some("mp4"), Some(&four)), None);
        let unknown = media(None, "mp4");
        assert!(breaks(Some(&limits), None, Some("mp4"), Some(&unknown)).unwrap().contains("can't be read"));
        let webm = media(Some(1_000), "webm");
        let why = breaks(Some(&limits), None, Some("webm"), Some(&webm)).unwrap();
        assert!(why.contains("contentTypes"), "{why}");
        // The deployment's bound holds for every upload; an unknown duration passes it.
        let why = breaks(None, Some(5), Some("mp4"), Some(&ten)).unwrap();
        assert!(why.contains("MaxVideoDurationSeconds"), "{why}");
        assert_eq!(breaks(None, Some(5), Some("mp4"), Some(&unknown)), None);
        assert_eq!(breaks(None, None, Some("mp4"), Some(&ten)), None);
    }
}
