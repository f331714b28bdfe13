//! Validation of a new upload request.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Invalid;
use super::checksum::ChecksumAlgorithm;
use super::parts::{self, PartPlan, SizeRules};
use super::video::UploadMethod;

/// The body of `POST /v1/uploads`, as the client sent it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadRequest {
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub size: Option<u64>,
    pub part_size: Option<u64>,
    pub metadata: Option<BTreeMap<String, String>>,
    /// `presigned` (default): part URLs from the server; `credentials`: temporary credentials for
    /// the one key, for an AWS SDK's managed uploader.
    pub method: Option<UploadMethod>,
    /// The checksum the client will send with each part and the whole object (presigned
    /// uploads): S3 then refuses any part, and any object, whose bytes differ.
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// `false`: only the client completes the upload. Otherwise (the default) vidgate completes a
    /// presigned upload of declared size itself once every part is in S3 and the client is quiet.
    pub auto_complete: Option<bool>,
}

/// A request that passed every rule, ready to become a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUpload {
    pub filename: String,
    pub content_type: String,
    /// The key's extension, chosen from the content type (`.mp4`).
    pub extension: &'static str,
    pub size: Option<u64>,
    pub plan: PartPlan,
    pub metadata: BTreeMap<String, String>,
    pub method: UploadMethod,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub auto_complete: bool,
}

pub const MAX_FILENAME_CHARS: usize = 255;
/// Longer than any registered media type with parameters; S3 and DynamoDB would refuse far more.
pub const MAX_CONTENT_TYPE_CHARS: usize = 255;
pub const MAX_METADATA_ENTRIES: usize = 32;
pub const MAX_METADATA_KEY_CHARS: usize = 64;
pub const MAX_METADATA_VALUE_CHARS: usize = 1024;

/// Video types we accept: (content type, extensions that imply it, key extension).
const VIDEO_TYPES: &[(&str, &[&str], &str)] = &[
    ("video/mp4", &["mp4", "m4v"], ".mp4"),
    ("video/quicktime", &["mov", "qt"], ".mov"),
    ("video/webm", &["webm"], ".webm"),
    ("video/x-matroska", &["mkv"], ".mkv"),
    ("video/x-m4v", &[], ".m4v"),
    ("video/3gpp", &["3gp"], ".3gp"),
    ("video/3gpp2", &["3g2"], ".3g2"),
    ("video/mp2t", &["ts", "m2ts", "mts"], ".ts"),
    ("video/mpeg", &["mpeg", "mpg"], ".mpg"),
    ("video/ogg", &["ogv"], ".ogv"),
    ("video/x-msvideo", &["avi"], ".avi"),
    ("video/x-flv", &["flv"], ".flv"),
    ("video/x-ms-wmv", &["wmv"], ".wmv"),
];

impl UploadRequest {
    pub fn validate(self, rules: &SizeRules) -> Result<NewUpload, Invalid> {
        let filename = validate_filename(self.filename)?;
        let (content_type, extension) = resolve_content_type(&filename, self.content_type.as_deref())?;
        let metadata = validate_metadata(self.metadata.unwrap_or_default())?;
        let plan = parts::plan(self.size, self.part_size, rules)?;
        let method = self.method.unwrap_or_default();
        if self.checksum_algorithm.is_some() && method != UploadMethod::Presigned {
            return Err(Invalid::new(
                "checksum_not_supported",
                "checksumAlgorithm is for presigned uploads, whose part URLs sign each part's checksum; \
                 a credentials-mode client sets it in its SDK, and vidgate records what S3 stored",
            ));
        }
        Ok(NewUpload {
            filename,
            content_type,
            extension,
            size: self.size,
            plan,
            metadata,
            method,
            checksum_algorithm: self.checksum_algorithm,
            auto_complete: self.auto_complete.unwrap_or(true),
        })
    }
}

fn validate_filename(filename: Option<String>) -> Result<String, Invalid> {
    let filename = filename.ok_or_else(|| Invalid::new("missing_filename", "filename is required"))?;
    let chars = filename.chars().count();
    if filename.trim().is_empty() || chars > MAX_FILENAME_CHARS {
        return Err(Invalid::new(
            "invalid_filename",
            format!("filename must be 1 to {MAX_FILENAME_CHARS} characters"),
        ));
    }
    if filename.chars().any(char::is_control) {
        return Err(Invalid::new("invalid_filename", "filename must not contain control characters"));
    }
    Ok(filename)
}

/// Whether `essence` (lowercase, no parameters) is one of the video types vidgate accepts.
pub fn is_video_type(essence: &str) -> bool {
    VIDEO_TYPES.iter().any(|(ct, _, _)| *ct == essence)
}

/// The video type a filename's extension names (`clip.MOV` → `video/quicktime`).
pub fn video_type_of(filename: &str) -> Option<&'static str> {
    let ext = extension_of(filename)?;
    VIDEO_TYPES.iter().find(|(_, exts, _)| exts.contains(&ext.as_str())).map(|(ct, _, _)| *ct)
}

fn extension_of(filename: &str) -> Option<String> {
    let (stem, ext) = filename.rsplit_once('.')?;
    (!stem.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// The stored content type and key extension, from the declared type and the filename.
///
/// `application/octet-stream` (what many pickers send) and a missing type are accepted only when
/// the filename's extension names a video type, which is then stored instead, so that playback
/// later gets a type a browser can use.
fn resolve_content_type(filename: &str, declared: Option<&str>) -> Result<(String, &'static str), Invalid> {
    let by_extension = || {
        let ext = extension_of(filename)?;
        VIDEO_TYPES.iter().find(|(_, exts, _)| exts.contains(&ext.as_str()))
    };
    let unsupported = |what: &str| {
        Invalid::new(
            "unsupported_content_type",
            format!("{what}; only video types are accepted (e.g. video/mp4, video/webm, video/quicktime)"),
        )
    };

    if declared.is_some_and(|d| d.chars().count() > MAX_CONTENT_TYPE_CHARS) {
        return Err(Invalid::new(
            "invalid_content_type",
            format!("contentType must be at most {MAX_CONTENT_TYPE_CHARS} characters"),
        ));
    }
    let declared = declared.map(str::trim).filter(|d| !d.is_empty());
    let Some(declared) = declared else {
        return by_extension()
            .map(|(ct, _, ext)| (ct.to_string(), *ext))
            .ok_or_else(|| unsupported("contentType is missing and the filename has no video extension"));
    };
    let mime: mime::Mime = declared
        .parse()
        .map_err(|_| Invalid::new("invalid_content_type", "contentType is not a valid media type"))?;
    let essence = mime.essence_str().to_ascii_lowercase();

    if essence == "application/octet-stream" {
        return by_extension()
            .map(|(ct, _, ext)| (ct.to_string(), *ext))
            .ok_or_else(|| unsupported("application/octet-stream needs a filename with a video extension"));
    }
    if mime.type_() != mime::VIDEO {
        return Err(unsupported(&format!("{essence} is not a video type")));
    }
    let extension = VIDEO_TYPES.iter().find(|(ct, _, _)| *ct == essence).map_or("", |(_, _, ext)| *ext);
    // Keep parameters such as `codecs=…`: players use them.
    Ok((mime.to_string(), extension))
}

pub(crate) fn validate_metadata(
    metadata: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, Invalid> {
    if metadata.len() > MAX_METADATA_ENTRIES {
        return Err(Invalid::new(
            "invalid_metadata",
            format!("metadata may have at most {MAX_METADATA_ENTRIES} entries"),
        ));
    }
    for (key, value) in &metadata {
        let key_ok = !key.is_empty()
            && key.len() <= MAX_METADATA_KEY_CHARS
            && key.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !key_ok {
            return Err(Invalid::new(
                "invalid_metadata",
                format!(
                    "metadata keys must be 1 to {MAX_METADATA_KEY_CHARS} characters of A-Z a-z 0-9 - _ ."
                ),
            ));
        }
        if value.chars().count() > MAX_METADATA_VALUE_CHARS || value.chars().any(char::is_control) {
            return Err(Invalid::new(
                "invalid_metadata",
                format!(
                    "metadata value of {key:?} must be at most {MAX_METADATA_VALUE_CHARS} characters, no control characters"
                ),
            ));
        }
    }
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parts::{MAX_OBJECT_SIZE, MIB};

    const RULES: &SizeRules = &SizeRules { default_part_size: 8 * MIB, max_video_size: MAX_OBJECT_SIZE };

    fn request(filename: &str, content_type: Option<&str>) -> UploadRequest {
        UploadRequest {
            filename: Some(filename.into()),
            content_type: content_type.map(Into::into),
            ..Default::default()
        }
    }

    fn code(r: UploadRequest) -> &'static str {
        r.validate(RULES).unwrap_err().code
    }

    #[test]
    fn video_type_is_accepted_with_its_extension() {
        let u = request("holiday.MOV", Some("video/quicktime")).validate(RULES).unwrap();
        assert_eq!(u.content_type, "video/quicktime");
        assert_eq!(u.extension, ".mov");
    }

    #[test]
    fn codecs_parameter_is_kept() {
        let u = request("a.webm", Some("video/webm; codecs=\"vp9,opus\"")).validate(RULES).unwrap();
        assert!(u.content_type.starts_with("video/webm"));
        assert!(u.content_type.contains("vp9"));
    }

    #[test]
    fn octet_stream_is_accepted_only_with_a_video_extension() {
        let u = request("clip.mp4", Some("application/octet-stream")).validate(RULES).unwrap();
        assert_eq!((u.content_type.as_str(), u.extension), ("video/mp4", ".mp4"));
        assert_eq!(code(request("notes.txt", Some("application/octet-stream"))), "unsupported_content_type");
        assert_eq!(code(request("mp4", Some("application/octet-stream"))), "unsupported_content_type");
    }

    #[test]
    fn missing_type_is_inferred_from_the_extension() {
        let u = request("x.webm", None).validate(RULES).unwrap();
        assert_eq!(u.content_type, "video/webm");
        assert_eq!(code(request("x.bin", None)), "unsupported_content_type");
    }

    #[test]
    fn non_video_and_malformed_types_are_refused() {
        assert_eq!(code(request("a.mp4", Some("image/png"))), "unsupported_content_type");
        assert_eq!(code(request("a.mp4", Some("text/html"))), "unsupported_content_type");
        assert_eq!(code(request("a.mp4", Some("video"))), "invalid_content_type");
    }

    #[test]
    fn filenames_are_checked() {
        assert_eq!(code(UploadRequest::default()), "missing_filename");
        assert_eq!(code(request("  ", Some("video/mp4"))), "invalid_filename");
        assert_eq!(code(request(&"a".repeat(256), Some("video/mp4"))), "invalid_filename");
        assert_eq!(code(request("a\nb.mp4", Some("video/mp4"))), "invalid_filename");
        assert!(request("ünïcödé 🎬.mp4", None).validate(RULES).is_ok());
    }

    #[test]
    fn metadata_is_bounded() {
        let mut r = request("a.mp4", None);
        r.metadata = Some([("title".to_string(), "Holiday".to_string())].into());
        assert!(r.clone().validate(RULES).is_ok());
        r.metadata = Some([("bad key".to_string(), "x".to_string())].into());
        assert_eq!(code(r.clone()), "invalid_metadata");
        r.metadata = Some((0..33).map(|i| (format!("k{i}"), "v".to_string())).collect());
        assert_eq!(code(r), "invalid_metadata");
    }

    #[test]
    fn size_rules_come_from_the_part_plan() {
        let mut r = request("a.mp4", None);
        r.size = Some(0);
        assert_eq!(code(r), "invalid_size");
    }
}
