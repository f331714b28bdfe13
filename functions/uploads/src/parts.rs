//! Parts of a presigned-mode upload: URLs to `PUT` them, and what S3 holds so far.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::settle::settle;
use super::{UploadError, not_uploading, presigned_upload, require_uploading};
use crate::app::Objects;
use crate::objects::{ObjectError, PartUpload, UploadedPart};
use crate::store::{Note, StoreError};
use vidgate_domain::parts::SizeRules;
use vidgate_domain::time::{self, Timestamp};
use vidgate_domain::{Change, Video};

/// The most URLs one call signs: bounds the reply (~1,000 × 600 bytes) and the work of one call.
pub const MAX_URLS_PER_CALL: usize = 1000;

/// Presigned `PUT` URLs by part number, in the order asked, and when they expire.
pub struct SignedParts {
    pub urls: Vec<SignedPart>,
    pub expires_at: Timestamp,
    /// The plan's next part number to ask for (`PartChoice::From`), when parts remain.
    pub next: Option<u32>,
}

/// One part: its presigned URL and the headers its `PUT` must send as given (they are signed:
/// the part's checksum, when the upload declared an algorithm) — or, when S3 holds it already,
/// its ETag instead.
#[derive(Debug)]
pub struct SignedPart {
    pub part_number: u32,
    /// Where the part starts in the file and its length, when the plan knows (declared size): a
    /// phone cuts the file into part files by these.
    pub range: Option<(u64, u64)>,
    pub url: Option<String>,
    pub headers: BTreeMap<String, String>,
    /// The ETag of the part S3 already holds with this length (`url` is then `None`).
    pub arrived: Option<String>,
}

/// Which parts to sign.
pub enum PartChoice {
    /// These part numbers, in this order (`partNumbers`).
    Numbers(Vec<u32>),
    /// The plan from this part number on, up to [`MAX_URLS_PER_CALL`] parts (`from`): a
    /// declared-size upload's whole plan in as few calls as the limit allows.
    From(u32),
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

/// Presigned `PUT` URLs for the `choice` of parts of the caller's upload `video`. Each URL signs
/// the part's `Content-Length` whenever it is known — from the declared size, or as the client
/// states it — so S3 refuses a part of any other length before storing it; and, when the upload
/// declared a checksum algorithm, the part's checksum (`checksums`, one per part, base64), so S3
/// refuses a part whose bytes differ from the ones the client checksummed. With `skip_arrived`
/// (one ListParts), a part S3 already holds at that length is answered with its ETag, unsigned.
pub async fn sign_parts(
    app: &impl Objects,
    video: &Video,
    choice: PartChoice,
    lengths: PartLengths,
    checksums: Option<Vec<String>>,
    skip_arrived: bool,
) -> Result<SignedParts, UploadError> {
    require_uploading(video)?;
    let upload_id = presigned_upload(video)?;
    let rules = app.config().size_rules();
    let max = video.plan().max_parts(&rules);
    let (numbers, next) = match choice {
        PartChoice::Numbers(numbers) => (numbers, None),
        PartChoice::From(from) => {
            let Some(count) = video.part_count else {
                return Err(UploadError::invalid(
                    "plan_unknown",
                    "this upload declared no size, so it has no plan to sign from: give partNumbers and partSizes",
                ));
            };
            if !(1..=count).contains(&from) {
                return Err(UploadError::invalid(
                    "part_number_out_of_range",
                    format!("from {from} is outside 1..={count} for this upload"),
                ));
            }
            let last = count.min(from.saturating_add(MAX_URLS_PER_CALL as u32 - 1));
            ((from..=last).collect(), (last < count).then_some(last + 1))
        }
    };
    if numbers.is_empty() || numbers.len() > MAX_URLS_PER_CALL {
        return Err(UploadError::invalid(
            "invalid_part_numbers",
            format!("partNumbers must list 1 to {MAX_URLS_PER_CALL} part numbers"),
        ));
    }
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
    let held: HashMap<u32, UploadedPart> = if skip_arrived {
        match app.objects().list_parts(&video.key, upload_id).await {
            Ok(parts) => parts.into_iter().map(|p| (p.part_number, p)).collect(),
            Err(ObjectError::NoSuchUpload) => {
                return Err(not_uploading(settle(app, video, Change::Abort).await?.status));
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        HashMap::new()
    };
    let (ttl, expires_at) = url_lifetime(app, app.config().part_url_ttl).await?;
    let mut urls = Vec::with_capacity(numbers.len());
    for ((part_number, length), checksum) in numbers.into_iter().zip(lengths).zip(checksums) {
        let range =
            video.size.zip(length).map(|(_, length)| ((part_number as u64 - 1) * video.part_size, length));
        if let Some(part) = held.get(&part_number).filter(|p| length.is_none_or(|l| p.size == l)) {
            let arrived = Some(part.etag.clone());
            urls.push(SignedPart { part_number, range, url: None, headers: BTreeMap::new(), arrived });
            continue;
        }
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
        urls.push(SignedPart { part_number, range, url: Some(url), headers, arrived: None });
    }
    seen_moving(app, video).await?;
    Ok(SignedParts { urls, expires_at, next })
}

/// How long a URL signed now lives, and until when: its TTL, cut to when the credentials that
/// sign it expire (a presigned URL dies with them, whatever it says).
pub(crate) async fn url_lifetime(
    app: &impl Objects,
    ttl: std::time::Duration,
) -> Result<(std::time::Duration, Timestamp), UploadError> {
    let now = time::now();
    let mut until = now + ttl;
    if let Some(expiry) = app.objects().signing_expiry().await? {
        until = until.min(expiry);
    }
    let ttl = (until - now).to_std().unwrap_or_default().max(std::time::Duration::from_secs(1));
    Ok((ttl, until))
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
        Ok(parts) => {
            seen_moving(app, video).await?;
            Ok(parts)
        }
        Err(ObjectError::NoSuchUpload) => Err(not_uploading(settle(app, video, Change::Abort).await?.status)),
        Err(e) => Err(e.into()),
    }
}

/// Notes that the client is still at work on `video` (signing, or asking what arrived), so the
/// auto-complete pass leaves it alone. Written at most once per half idle bound: a client
/// signing part by part costs no write per part.
async fn seen_moving(app: &impl Objects, video: &Video) -> Result<(), UploadError> {
    let now = time::now();
    let half = app.config().autocomplete_idle / 2;
    let due = chrono::Duration::from_std(half).is_ok_and(|half| now - video.quiet_since() >= half);
    if !due || !video.auto_complete {
        return Ok(());
    }
    match app.videos().note(video, Note::Active, now).await {
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
