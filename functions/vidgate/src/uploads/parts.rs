//! Parts of a presigned-mode upload: URLs to `PUT` them, and what S3 holds so far.

use std::collections::HashSet;

use super::settle::settle;
use super::{UploadError, not_uploading, presigned_upload, require_uploading};
use crate::app::Objects;
use crate::domain::time::{self, Timestamp};
use crate::domain::{Change, Video};
use crate::objects::{ObjectError, UploadedPart};

/// The most URLs one call signs: bounds the reply (~1,000 × 600 bytes) and the work of one call.
pub const MAX_URLS_PER_CALL: usize = 1000;

/// Presigned `PUT` URLs by part number, in the order asked, and when they expire.
pub struct SignedParts {
    pub urls: Vec<(u32, String)>,
    pub expires_at: Timestamp,
}

/// Presigned `PUT` URLs for `numbers` of the caller's upload `video`.
pub async fn sign_parts(
    app: &impl Objects,
    video: &Video,
    numbers: Vec<u32>,
) -> Result<SignedParts, UploadError> {
    require_uploading(video)?;
    let upload_id = presigned_upload(video)?;
    if numbers.is_empty() || numbers.len() > MAX_URLS_PER_CALL {
        return Err(UploadError::invalid(
            "invalid_part_numbers",
            format!("partNumbers must list 1 to {MAX_URLS_PER_CALL} part numbers"),
        ));
    }
    let max = video.plan().max_parts();
    if let Some(bad) = numbers.iter().find(|n| !(1..=max).contains(*n)) {
        return Err(UploadError::invalid(
            "part_number_out_of_range",
            format!("part number {bad} is outside 1..={max} for this upload"),
        ));
    }
    let mut seen = HashSet::with_capacity(numbers.len());
    if let Some(dup) = numbers.iter().find(|n| !seen.insert(**n)) {
        return Err(UploadError::invalid(
            "duplicate_part_number",
            format!("part number {dup} is listed twice"),
        ));
    }
    let ttl = app.config().part_url_ttl;
    let expires_at = time::now() + ttl;
    let mut urls = Vec::with_capacity(numbers.len());
    for part_number in numbers {
        urls.push((part_number, app.objects().presign_part(&video.key, upload_id, part_number, ttl).await?));
    }
    Ok(SignedParts { urls, expires_at })
}

/// The parts S3 holds for the caller's upload `video`, in part-number order. An upload S3 no
/// longer knows is settled first (a complete or abort got there), and the answer says which.
pub async fn list_parts(app: &impl Objects, video: &Video) -> Result<Vec<UploadedPart>, UploadError> {
    require_uploading(video)?;
    let upload_id = presigned_upload(video)?;
    match app.objects().list_parts(&video.key, upload_id).await {
        Ok(parts) => Ok(parts),
        Err(ObjectError::NoSuchUpload) => Err(not_uploading(settle(app, video, Change::Abort).await?.status)),
        Err(e) => Err(e.into()),
    }
}
