//! Completing an upload: assembling the object and recording it `uploaded`.
//!
//! Parts are checked against what S3 lists before asking S3 to complete, so a bad part list gets a
//! precise code (`missing_part`, `etag_mismatch`, `part_too_small`, `size_mismatch`) rather than
//! S3's generic `InvalidPart`, and completion (which can't be undone) happens only when it will hold.

use std::collections::HashMap;

use super::settle::{abort_open_uploads, arrived, oversize, record, settle_counted};
use super::{UploadError, not_uploading};
use crate::app::Objects;
use crate::objects::{ObjectError, ObjectInfo, PartRef, UploadedPart, same_etag};
use vidgate_domain::checksum::{Checksum, ChecksumType};
use vidgate_domain::parts::{MAX_PARTS, MIN_PART_SIZE};
use vidgate_domain::{Change, CompletedBy, Status, Video};

/// A part the client names for completion.
pub struct NamedPart {
    pub part_number: u32,
    pub etag: String,
    /// The part's checksum as the client computed it (the upload's algorithm, base64).
    pub checksum: Option<String>,
}

/// Completes the caller's upload `video` with `parts` (all uploaded parts when `None`). With
/// `checksum` (the whole object's, base64, of the upload's CRC algorithm) S3 assembles the object
/// only if its bytes have that checksum; otherwise nothing is final and the upload stays open.
pub async fn finish(
    app: &impl Objects,
    video: Video,
    parts: Option<Vec<NamedPart>>,
    checksum: Option<String>,
) -> Result<Video, UploadError> {
    let full = match (video.status, checksum) {
        (Status::Uploading, Some(value)) => Some(full_checksum(&video, &value)?),
        _ => None,
    };
    match (video.status, video.upload_id.clone()) {
        (Status::Uploading, Some(upload_id)) => {
            complete(app, video, &upload_id, parts, full, Completer::CLIENT).await
        }
        (Status::Uploading, None) => complete_uploaded_object(app, video, parts).await,
        // Completing twice answers the same as the first time.
        (Status::Uploaded, _) => Ok(video),
        (_, _) => Err(finished_error(&video)),
    }
}

/// The whole object's checksum a completion names, checked against what the upload declared.
fn full_checksum(video: &Video, value: &str) -> Result<Checksum, UploadError> {
    let Some(algorithm) = video.checksum_algorithm else {
        return Err(UploadError::invalid(
            "checksum_not_declared",
            "this upload declared no checksumAlgorithm: complete it without a checksum (vidgate still records the one S3 computes)",
        ));
    };
    if algorithm.multipart_type() != ChecksumType::FullObject {
        return Err(UploadError::invalid(
            "invalid_checksum",
            format!(
                "a {} upload is checked part by part (S3's composite checksum): name each part's checksum instead",
                algorithm.as_str()
            ),
        ));
    }
    let value = algorithm.check("checksum", value)?;
    Ok(Checksum { algorithm, kind: ChecksumType::FullObject, value })
}

/// Who asks S3 to assemble an upload's parts, and who assembled them if S3 says it was done
/// already (`None`: [`Video::assembler`] tells).
#[derive(Clone, Copy, Debug)]
pub(super) struct Completer {
    pub by: CompletedBy,
    pub lost_to: Option<CompletedBy>,
}

impl Completer {
    const CLIENT: Completer = Completer { by: CompletedBy::Client, lost_to: None };
}

/// Assembles `video`'s parts (`wanted`, or every part S3 holds) and records what arrived.
pub(super) async fn complete(
    app: &impl Objects,
    video: Video,
    upload_id: &str,
    wanted: Option<Vec<NamedPart>>,
    full: Option<Checksum>,
    completer: Completer,
) -> Result<Video, UploadError> {
    let lost = async |video: &Video| -> Result<Video, UploadError> {
        finished(settle_counted(app, video, Change::Abort, completer.lost_to).await?.0)
    };
    let listed = match app.objects().list_parts(&video.key, upload_id).await {
        Ok(parts) => parts,
        Err(ObjectError::NoSuchUpload) => return lost(&video).await,
        Err(e) => return Err(e.into()),
    };
    let chosen = choose_parts(&listed, wanted)?;
    let total: u64 = chosen.iter().map(|p| p.size).sum();
    if let Some(reason) = oversize(app.config(), &video, "the parts are", total)
        && video.size.is_none()
    {
        // Parts whose URLs could sign no length (Companion's) went past the maximum: nothing is
        // assembled, the parts are deleted, and the record says why.
        abort_open_uploads(app, &video).await?;
        let change = Change::Reject { size: total, etag: String::new(), reason: reason.clone() };
        record(app, &video, &change).await?;
        return Err(UploadError::invalid("video_too_large", reason));
    }
    check_sizes(&video, &chosen)?;

    let refs: Vec<PartRef> = chosen
        .iter()
        .map(|p| PartRef { part_number: p.part_number, etag: p.etag.clone(), checksum: p.checksum.clone() })
        .collect();
    let assembled = match app.objects().complete_multipart(&video.key, upload_id, &refs, full.as_ref()).await
    {
        Ok(assembled) => assembled,
        Err(ObjectError::ChecksumMismatch(why)) => {
            let named = full.map_or_else(String::new, |f| format!(" {} {}", f.algorithm.as_str(), f.value));
            return Err(UploadError::invalid(
                "checksum_mismatch",
                format!(
                    "S3 did not assemble the object: its bytes do not have the checksum{named} ({why}); \
                     the upload is still open — check the file and complete again"
                ),
            ));
        }
        Err(ObjectError::NoSuchUpload) => return lost(&video).await,
        // Something else wrote the key first (its owner's prefix credentials): S3 refused to
        // replace it. The parts go; that object is what arrived, and it is checked as such.
        Err(ObjectError::AlreadyExists) => {
            abort_open_uploads(app, &video).await?;
            return lost(&video).await;
        }
        Err(ObjectError::RejectedParts { code, message }) => {
            let code = match code.as_str() {
                "EntityTooSmall" => "part_too_small",
                "InvalidPartOrder" => "invalid_part_order",
                _ => "invalid_part",
            };
            return Err(UploadError::invalid(code, format!("S3 refused the parts: {message}")));
        }
        Err(e) => return Err(e.into()),
    };
    let size = chosen.iter().map(|p| p.size).sum();
    let object =
        ObjectInfo { size, etag: assembled.etag, checksum: assembled.checksum, version: assembled.version };
    finished(arrived(app, &video, object, completer.by).await?)
}

/// A credentials-mode or single-`PUT` upload: the client wrote the object itself; HeadObject says
/// what arrived.
async fn complete_uploaded_object(
    app: &impl Objects,
    video: Video,
    wanted: Option<Vec<NamedPart>>,
) -> Result<Video, UploadError> {
    if wanted.is_some() {
        return Err(UploadError::invalid(
            "invalid_body",
            "this upload has no server-side multipart upload: complete it without a part list",
        ));
    }
    let Some(object) = app.objects().head(&video.key).await? else {
        return Err(UploadError::conflict(
            "object_not_uploaded",
            "the object is not in S3 yet: finish the upload (the PUT, or the SDK's CompleteMultipartUpload) first",
        ));
    };
    check_declared_size(&video, object.size)?;
    finished(arrived(app, &video, object, CompletedBy::Client).await?)
}

/// The reply once the record is final: uploaded is success, anything else lost a race or was
/// not a video.
fn finished(video: Video) -> Result<Video, UploadError> {
    match video.status {
        Status::Uploaded => Ok(video),
        _ => Err(finished_error(&video)),
    }
}

fn finished_error(video: &Video) -> UploadError {
    match video.status {
        Status::Rejected => {
            UploadError::NotAVideo(video.reject_reason.clone().unwrap_or_else(|| "not a video".into()))
        }
        other => not_uploading(other),
    }
}

/// The parts to complete with: the client's list checked against S3's, or all of S3's.
fn choose_parts(
    listed: &[UploadedPart],
    wanted: Option<Vec<NamedPart>>,
) -> Result<Vec<UploadedPart>, UploadError> {
    let Some(mut wanted) = wanted else {
        if listed.is_empty() {
            return Err(UploadError::invalid("no_parts", "no parts have been uploaded yet"));
        }
        return Ok(listed.to_vec());
    };
    if wanted.is_empty() || wanted.len() > MAX_PARTS as usize {
        return Err(UploadError::invalid("no_parts", format!("parts must list 1 to {MAX_PARTS} parts")));
    }
    wanted.sort_by_key(|p| p.part_number);
    if let Some(dup) = wanted.windows(2).find(|w| w[0].part_number == w[1].part_number) {
        return Err(UploadError::invalid(
            "duplicate_part_number",
            format!("part number {} is listed twice", dup[0].part_number),
        ));
    }
    let by_number: HashMap<u32, &UploadedPart> = listed.iter().map(|p| (p.part_number, p)).collect();
    wanted
        .iter()
        .map(|w| {
            let part = by_number.get(&w.part_number).ok_or_else(|| {
                UploadError::invalid("missing_part", format!("part {} has not been uploaded", w.part_number))
            })?;
            if !same_etag(&part.etag, &w.etag) {
                return Err(UploadError::invalid(
                    "etag_mismatch",
                    format!("part {}: etag {} does not match the uploaded part", w.part_number, w.etag),
                ));
            }
            if let Some(named) = &w.checksum
                && part.checksum.as_deref() != Some(named.trim())
            {
                return Err(UploadError::invalid(
                    "checksum_mismatch",
                    format!(
                        "part {}: checksum {named} does not match the uploaded part's ({})",
                        w.part_number,
                        part.checksum.as_deref().unwrap_or("none")
                    ),
                ));
            }
            Ok((*part).clone())
        })
        .collect()
}

/// S3's rule (every part but the last ≥ 5 MiB) and the size the client declared.
fn check_sizes(video: &Video, parts: &[UploadedPart]) -> Result<(), UploadError> {
    if let Some(small) = parts[..parts.len() - 1].iter().find(|p| p.size < MIN_PART_SIZE) {
        return Err(UploadError::invalid(
            "part_too_small",
            format!(
                "part {} is {} bytes; every part but the last must be at least {MIN_PART_SIZE} bytes",
                small.part_number, small.size
            ),
        ));
    }
    check_declared_size(video, parts.iter().map(|p| p.size).sum())
}

/// Completing is irreversible, so bytes that differ from the declared size are refused first.
fn check_declared_size(video: &Video, uploaded: u64) -> Result<(), UploadError> {
    match video.size {
        Some(declared) if declared != uploaded => Err(UploadError::invalid(
            "size_mismatch",
            format!("{uploaded} bytes were uploaded but the upload declared {declared}"),
        )),
        _ => Ok(()),
    }
}
