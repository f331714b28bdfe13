//! Parts of a presigned-mode upload: URLs to `PUT` them, and what S3 holds so far.

use std::collections::{BTreeMap, HashSet};

use super::settle::settle;
use super::{UploadError, not_uploading, presigned_upload, require_uploading};
use crate::app::Objects;
use crate::objects::{ObjectError, PartUpload, UploadedPart};
use vidgate_domain::parts::SizeRules;
use vidgate_domain::time::{self, Timestamp};
use vidgate_domain::{Change, Video};

/// The most URLs one call signs: bounds the reply (~1,000 × 600 bytes) and the work of one call.
pub const MAX_URLS_PER_CALL: usize = 1000;

/// Presigned `PUT` URLs by part number, in the order asked, and when they expire.
pub struct SignedParts {
    pub urls: Vec<SignedPart>,
    pub expires_at: Timestamp,
}

/// One part's presigned URL and the headers its `PUT` must send as given: they are signed (the
/// part's checksum, when the upload declared an algorithm).
#[derive(Debug)]
pub struct SignedPart {
    pub part_number: u32,
    pub url: String,
    pub headers: BTreeMap<String, String>,
}

/// What a client says of the lengths of the parts it is about to send.
pub enum PartLengths {
    /// One length per part number, in the same order (`partSizes` in `/v1`).
    Stated(Vec<u64>),
    /// None: fine when the size was declared (the plan knows every part's length); an upload of
    /// unknown size must state them.
    Unstated,
    /// The client's protocol has no way to state them (Companion's part signing): URLs of an
    /// unknown-size upload then sign no length, and completion checks the total.
    Unsayable,
}

/// Presigned `PUT` URLs for `numbers` of the caller's upload `video`. Each URL signs the part's
/// `Content-Length` whenever it is known — from the declared size, or as the client states it —
/// so S3 refuses a part of any other length before storing it; and, when the upload declared a
/// checksum algorithm, the part's checksum (`checksums`, one per number, base64), so S3 refuses
/// a part whose bytes differ from the ones the client checksummed.
pub async fn sign_parts(
    app: &impl Objects,
    video: &Video,
    numbers: Vec<u32>,
    lengths: PartLengths,
    checksums: Option<Vec<String>>,
) -> Result<SignedParts, UploadError> {
    require_uploading(video)?;
    let upload_id = presigned_upload(video)?;
    if numbers.is_empty() || numbers.len() > MAX_URLS_PER_CALL {
        return Err(UploadError::invalid(
            "invalid_part_numbers",
            format!("partNumbers must list 1 to {MAX_URLS_PER_CALL} part numbers"),
        ));
    }
    let rules = app.config().size_rules();
    let max = video.plan().max_parts(&rules);
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
    let lengths = part_lengths(video, &numbers, lengths, &rules)?;
    let checksums = part_checksums(video, numbers.len(), checksums)?;
    let ttl = app.config().part_url_ttl;
    let expires_at = time::now() + ttl;
    let mut urls = Vec::with_capacity(numbers.len());
    for ((part_number, length), checksum) in numbers.into_iter().zip(lengths).zip(checksums) {
        let checksum = video.checksum_algorithm.zip(checksum.as_deref());
        let url = app
            .objects()
            .presign_part(
                PartUpload { key: &video.key, upload_id, part_number, content_length: length, checksum },
                ttl,
            )
            .await?;
        let headers =
            checksum.map(|(algorithm, value)| (algorithm.header(), value.to_owned())).into_iter().collect();
        urls.push(SignedPart { part_number, url, headers });
    }
    Ok(SignedParts { urls, expires_at })
}

/// The checksum each URL signs, in the order of the part numbers: one per part when the upload
/// declared an algorithm, none otherwise.
fn part_checksums(
    video: &Video,
    count: usize,
    checksums: Option<Vec<String>>,
) -> Result<Vec<Option<String>>, UploadError> {
    match (video.checksum_algorithm, checksums) {
        (None, None) => Ok(vec![None; count]),
        (None, Some(_)) => Err(UploadError::invalid(
            "checksum_not_declared",
            "this upload declared no checksumAlgorithm: create it with one to send partChecksums",
        )),
        (Some(algorithm), None) => Err(UploadError::invalid(
            "part_checksums_required",
            format!(
                "this upload declared checksumAlgorithm {}: give partChecksums, one per part number",
                algorithm.as_str()
            ),
        )),
        (Some(algorithm), Some(given)) => {
            if given.len() != count {
                return Err(UploadError::invalid(
                    "invalid_part_checksums",
                    format!(
                        "partChecksums must list one checksum per part number ({count} numbers, {} checksums)",
                        given.len()
                    ),
                ));
            }
            given
                .iter()
                .enumerate()
                .map(|(i, value)| Ok(Some(algorithm.check(&format!("partChecksums[{i}]"), value)?)))
                .collect()
        }
    }
}

/// The length each URL signs, in the order of `numbers`.
fn part_lengths(
    video: &Video,
    numbers: &[u32],
    lengths: PartLengths,
    rules: &SizeRules,
) -> Result<Vec<Option<u64>>, UploadError> {
    let plan = video.plan();
    if let PartLengths::Stated(stated) = &lengths
        && stated.len() != numbers.len()
    {
        return Err(UploadError::invalid(
            "invalid_part_sizes",
            format!(
                "partSizes must list one size per part number ({} numbers, {} sizes)",
                numbers.len(),
                stated.len()
            ),
        ));
    }
    match (video.size, lengths) {
        (Some(size), lengths) => {
            let expected: Vec<u64> = numbers.iter().map(|&n| plan.length_of(n, size)).collect();
            if let PartLengths::Stated(stated) = lengths
                && let Some(((n, want), got)) =
                    numbers.iter().zip(&expected).zip(&stated).find(|((_, want), got)| want != got)
            {
                return Err(UploadError::invalid(
                    "part_size_mismatch",
                    format!("part {n} of this upload is {want} bytes, not {got}"),
                ));
            }
            Ok(expected.into_iter().map(Some).collect())
        }
        (None, PartLengths::Stated(stated)) => {
            for (&n, &length) in numbers.iter().zip(&stated) {
                plan.check_stated_length(n, length, rules)?;
            }
            Ok(stated.into_iter().map(Some).collect())
        }
        (None, PartLengths::Unstated) => Err(UploadError::invalid(
            "part_sizes_required",
            "this upload declared no size: give partSizes, one per part number, so each URL can sign its length",
        )),
        (None, PartLengths::Unsayable) => Ok(vec![None; numbers.len()]),
    }
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
