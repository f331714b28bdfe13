//! Completing uploads whose client went away: a phone's background session, a closed tab.
//!
//! A presigned upload of declared size knows every part's length, so once S3 holds exactly those
//! parts nothing is left for the client to decide. A pass ([`auto_complete`], on the schedule
//! every `VIDGATE_AUTOCOMPLETE_IDLE_SECS`) lists the uploads quiet for at least that long — no
//! part URL signed, no newer part seen — and asks S3 for each one's parts, once. If they cover
//! the plan exactly (numbers 1..=n, each the planned length, so every part but the last is at
//! least 5 MiB), vidgate completes the upload with the same checks as `complete`, the whole
//! object's checksum combined from the parts' when the upload declared a CRC; the record says
//! `completedBy: server`. A part missing waits for the next pass; a part of another length
//! is never completed (the upload expires at its deadline, as before).
//!
//! Cost: one query page per shard per pass (the sparse index holds only uploads in progress),
//! one ListParts per quiet upload per pass, nothing for uploads vidgate saw move within the
//! bound. The expiry sweep tries the same before it expires an upload, so complete parts are
//! never thrown away at the deadline.

use super::UploadError;
use super::finish::{Completer, complete};
use super::settle::settle;
use crate::app::Objects;
use crate::objects::{ObjectError, UploadedPart};
use crate::store::{Note, StoreError};
use vidgate_domain::checksum::{self, Checksum, ChecksumType};
use vidgate_domain::video::EXPIRY_SHARDS;
use vidgate_domain::{Change, CompletedBy, Status, UploadMethod, Video, time};

/// The most quiet uploads one pass takes from each shard (the oldest deadlines first); the next
/// pass takes the rest.
pub const AUTOCOMPLETE_BATCH: u32 = 500;

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoCompletion {
    /// Quiet uploads examined: one ListParts each.
    pub listed: usize,
    /// Uploads this pass completed (`uploaded`, `completedBy: server`).
    pub completed: usize,
    /// Uploads still missing a part.
    pub waiting: usize,
    /// Uploads whose parts S3 holds but that can't be completed as declared (never completed).
    pub refused: usize,
    /// Uploads that turned out settled already (a client's complete or abort got there).
    pub settled: usize,
    /// Uploads whose handling failed this pass (logged each, retried next pass).
    pub failed: usize,
}

/// What one quiet upload came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Quiet {
    /// vidgate completed it: the record now.
    Completed(Video),
    /// A part is missing; it waits.
    Waiting,
    /// Its parts can't make the declared object, and why; it is left to expire.
    Refused(String),
    /// It was already final (a client's complete or abort won): the record now.
    Settled(Video),
}

/// Whether vidgate may complete `video` itself: a presigned upload of declared size that did not
/// opt out, still in progress.
pub fn completable(video: &Video) -> bool {
    video.status == Status::Uploading
        && video.auto_complete
        && video.method == UploadMethod::Presigned
        && video.upload_id.is_some()
        && video.part_count.is_some()
}

/// One pass over every shard: completes the quiet uploads whose parts are all in S3.
pub async fn auto_complete(app: &impl Objects) -> Result<AutoCompletion, UploadError> {
    let now = time::now();
    let idle = chrono::Duration::from_std(app.config().autocomplete_idle).unwrap_or(chrono::Duration::MAX);
    let mut report = AutoCompletion::default();
    for shard in 0..EXPIRY_SHARDS {
        for video in app.videos().list_quiet(shard, now - idle, AUTOCOMPLETE_BATCH).await? {
            report.listed += 1;
            match complete_quiet(app, &video).await {
                Ok(Quiet::Completed(_)) => report.completed += 1,
                Ok(Quiet::Waiting) => report.waiting += 1,
                Ok(Quiet::Refused(_)) => report.refused += 1,
                Ok(Quiet::Settled(_)) => report.settled += 1,
                // Only a store that is down ends the pass: every other upload would fail alike.
                Err(e) if e.is_unavailable() => return Err(e),
                Err(e) => {
                    report.failed += 1;
                    tracing::error!(event = "autocomplete_failed", video_id = %video.id, error = %e, "completing one quiet upload failed; the pass goes on");
                }
            }
        }
    }
    tracing::info!(
        listed = report.listed,
        completed = report.completed,
        waiting = report.waiting,
        refused = report.refused,
        settled = report.settled,
        failed = report.failed,
        "autocomplete"
    );
    Ok(report)
}

/// Lists one upload's parts (one ListParts) and completes it if they cover its plan exactly.
pub async fn complete_quiet(app: &impl Objects, video: &Video) -> Result<Quiet, UploadError> {
    let (Some(upload_id), true) = (video.upload_id.as_deref(), completable(video)) else {
        return Ok(Quiet::Refused("not an upload vidgate completes itself".into()));
    };
    let parts = match app.objects().list_parts(&video.key, upload_id).await {
        Ok(parts) => parts,
        Err(ObjectError::NoSuchUpload) => {
            return Ok(Quiet::Settled(settle(app, video, Change::Abort).await?));
        }
        Err(e) => return Err(e.into()),
    };
    match coverage(video, &parts) {
        Coverage::Whole => {}
        Coverage::Missing => {
            // Parts still arriving: remember the newest, so the next passes leave the upload
            // alone until it has been quiet for the whole bound.
            let newest = parts.iter().filter_map(|p| p.last_modified).max();
            if let Some(newest) = newest.filter(|at| *at > video.quiet_since()) {
                note(app, video, Note::Active, newest).await?;
            }
            return Ok(Quiet::Waiting);
        }
        Coverage::Wrong(why) => {
            tracing::warn!(event = "autocomplete_refused", video_id = %video.id, why, "parts don't make the declared object");
            return Ok(Quiet::Refused(why));
        }
    }
    let full = whole_checksum(video, &parts);
    // Said before S3 is asked, so a path that finds the object assembled knows who did it; a
    // mark already there is an earlier pass's, which may have assembled it.
    let marked_before = video.server_completing_at.is_some();
    let now = time::now();
    if !note(app, video, Note::ServerCompleting, now).await? {
        let current = app.videos().get(&video.id).await?.ok_or(UploadError::Vanished(video.id))?;
        return Ok(Quiet::Settled(current));
    }
    let mut marked = video.clone();
    marked.server_completing_at = Some(now);
    let lost_to = if marked_before { CompletedBy::Server } else { CompletedBy::Client };
    let completer = Completer { by: CompletedBy::Server, lost_to: Some(lost_to) };
    match complete(app, marked, upload_id, None, full, completer).await {
        Ok(done) if done.completed_by == Some(CompletedBy::Server) => {
            tracing::info!(event = "autocompleted", video_id = %video.id, "completed without its client");
            Ok(Quiet::Completed(done))
        }
        Ok(done) => Ok(Quiet::Settled(done)),
        Err(UploadError::Invalid(why)) => {
            tracing::warn!(event = "autocomplete_refused", video_id = %video.id, code = why.code, why = %why.message, "S3 or the checks refused");
            Ok(Quiet::Refused(why.message))
        }
        Err(UploadError::Conflict { .. } | UploadError::NotAVideo(_)) => {
            let current = app.videos().get(&video.id).await?.ok_or(UploadError::Vanished(video.id))?;
            Ok(Quiet::Settled(current))
        }
        Err(e) => Err(e),
    }
}

/// Writes `note`; `false` when the record is no longer `uploading`.
async fn note(
    app: &impl Objects,
    video: &Video,
    note: Note,
    at: vidgate_domain::time::Timestamp,
) -> Result<bool, UploadError> {
    match app.videos().note(video, note, at).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

enum Coverage {
    Whole,
    Missing,
    Wrong(String),
}

/// Whether `parts` are exactly the plan's: numbers 1..=n, each of its planned length.
fn coverage(video: &Video, parts: &[UploadedPart]) -> Coverage {
    let (Some(size), Some(count)) = (video.size, video.part_count) else {
        return Coverage::Wrong("the upload declared no size".into());
    };
    let plan = video.plan();
    for part in parts {
        if part.part_number == 0 || part.part_number > count {
            return Coverage::Wrong(format!("part {} is outside the plan's 1..={count}", part.part_number));
        }
        let want = plan.length_of(part.part_number, size);
        if part.size != want {
            return Coverage::Wrong(format!(
                "part {} is {} bytes; the plan's is {want}",
                part.part_number, part.size
            ));
        }
    }
    if parts.len() < count as usize { Coverage::Missing } else { Coverage::Whole }
}

/// The whole object's checksum combined from its parts' (CRCs), for S3 to check as it assembles.
fn whole_checksum(video: &Video, parts: &[UploadedPart]) -> Option<Checksum> {
    let algorithm = video.checksum_algorithm?;
    if algorithm.multipart_type() != ChecksumType::FullObject {
        return None;
    }
    let sums: Option<Vec<(&str, u64)>> =
        parts.iter().map(|p| p.checksum.as_deref().map(|c| (c, p.size))).collect();
    let value = checksum::combine(algorithm, &sums?)?;
    Some(Checksum { algorithm, kind: ChecksumType::FullObject, value })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::objects::memory::{MemoryObjectStore, video_like};
    use crate::store::memory::MemoryVideoStore;
    use crate::{App, Config, Started, abort, finish, start};
    use vidgate_domain::checksum::ChecksumAlgorithm::Crc64nvme;
    use vidgate_domain::parts::MIB;
    use vidgate_domain::{Owner, UploadRequest};

    fn ports() -> (App, Arc<MemoryObjectStore>, Arc<MemoryVideoStore>) {
        let objects = Arc::new(MemoryObjectStore::new());
        let videos = Arc::new(MemoryVideoStore::new());
        let app = App::new(Config::for_tests(), videos.clone(), objects.clone());
        (app, objects, videos)
    }

    /// A 12 MiB upload in 5 MiB parts (5, 5, 2), as `body` adds to it.
    async fn started(app: &App, body: serde_json::Value) -> Video {
        let mut request = serde_json::json!({"filename": "phone.mp4", "size": 12 * MIB, "partSize": 5 * MIB});
        request.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
        let upload = serde_json::from_value::<UploadRequest>(request)
            .unwrap()
            .validate(&app.config.size_rules())
            .unwrap();
        let Started { video, .. } = start(app, &Owner::new("alice"), upload).await.unwrap();
        video
    }

    /// The file's bytes, part by part as the plan cuts them.
    fn part(n: u32) -> Vec<u8> {
        let len = if n < 3 { 5 * MIB } else { 2 * MIB };
        video_like(len, n)
    }

    #[tokio::test]
    async fn an_upload_whose_parts_all_arrived_is_completed_by_the_server_and_one_missing_waits() {
        let (app, objects, _) = ports();
        let video = started(&app, serde_json::json!({})).await;
        let upload_id = video.upload_id.clone().unwrap();
        for n in [3, 1] {
            objects.put_part_bytes(&upload_id, n, part(n)).unwrap();
        }
        assert_eq!(complete_quiet(&app, &video).await.unwrap(), Quiet::Waiting);
        // The newest part is noted: the pass leaves it alone until it has been quiet again.
        let noted = app.videos.get(&video.id).await.unwrap().unwrap();
        assert_eq!((noted.status, noted.active_at.is_some()), (Status::Uploading, true));

        objects.put_part_bytes(&upload_id, 2, part(2)).unwrap();
        let Quiet::Completed(done) = complete_quiet(&app, &noted).await.unwrap() else { panic!() };
        assert_eq!(
            (done.status, done.completed_by, done.size),
            (Status::Uploaded, Some(CompletedBy::Server), Some(12 * MIB))
        );
        let whole: Vec<u8> = (1..=3).flat_map(part).collect();
        assert_eq!(objects.bytes(&video.key).unwrap(), whole);
        assert!(!objects.has_upload(&upload_id));
        // The client calling complete afterwards gets the same record.
        let again = finish(&app, video, None, None).await.unwrap();
        assert_eq!(again.completed_by, Some(CompletedBy::Server));
    }

    #[tokio::test]
    async fn a_part_of_another_length_an_opt_out_or_an_undeclared_size_is_never_completed() {
        let (app, objects, _) = ports();
        let video = started(&app, serde_json::json!({})).await;
        let upload_id = video.upload_id.clone().unwrap();
        objects.put_part_bytes(&upload_id, 1, part(1)).unwrap();
        objects.put_part_bytes(&upload_id, 2, video_like(4 * MIB, 2)).unwrap();
        objects.put_part_bytes(&upload_id, 3, part(3)).unwrap();
        let Quiet::Refused(why) = complete_quiet(&app, &video).await.unwrap() else { panic!() };
        assert!(why.contains("part 2"), "{why}");
        assert!(objects.has_upload(&upload_id));
        assert_eq!(app.videos.get(&video.id).await.unwrap().unwrap().status, Status::Uploading);

        let opted_out = started(&app, serde_json::json!({"autoComplete": false})).await;
        assert!(!opted_out.auto_complete && !completable(&opted_out));
        for n in 1..=3 {
            objects.put_part_bytes(opted_out.upload_id.as_deref().unwrap(), n, part(n)).unwrap();
        }
        assert!(matches!(complete_quiet(&app, &opted_out).await.unwrap(), Quiet::Refused(_)));
        let unknown_size = started(&app, serde_json::json!({"size": null})).await;
        assert!(!completable(&unknown_size));
        // Neither is listed by the pass, however long quiet.
        let later = time::now() + chrono::Duration::days(1);
        for shard in 0..EXPIRY_SHARDS {
            let quiet = app.videos.list_quiet(shard, later, 100).await.unwrap();
            assert!(quiet.iter().all(|v| v.id == video.id), "{quiet:?}");
        }
        assert_eq!(app.videos.get(&opted_out.id).await.unwrap().unwrap().status, Status::Uploading);
    }

    #[tokio::test]
    async fn a_declared_crc_is_combined_from_the_parts_and_checked_as_s3_assembles() {
        let (app, objects, _) = ports();
        let video = started(&app, serde_json::json!({"checksumAlgorithm": "crc64nvme"})).await;
        for n in 1..=3 {
            objects.put_part_bytes(video.upload_id.as_deref().unwrap(), n, part(n)).unwrap();
        }
        let Quiet::Completed(done) = complete_quiet(&app, &video).await.unwrap() else { panic!() };
        let whole: Vec<u8> = (1..=3).flat_map(part).collect();
        let recorded = done.checksum.unwrap();
        assert_eq!(
            (recorded.kind, recorded.value),
            (ChecksumType::FullObject, checksum::of(Crc64nvme, &whole))
        );
    }

    #[tokio::test]
    async fn the_pass_lists_only_uploads_quiet_for_the_bound_and_signing_keeps_one_active() {
        let (app, objects, videos) = ports();
        let quiet = started(&app, serde_json::json!({})).await;
        let busy = started(&app, serde_json::json!({})).await;
        for video in [&quiet, &busy] {
            for n in 1..=3 {
                objects.put_part_bytes(video.upload_id.as_deref().unwrap(), n, part(n)).unwrap();
            }
        }
        // Both created an hour ago; one client signed a URL just now.
        let hour = chrono::Duration::hours(1);
        for video in [&quiet, &busy] {
            let mut old = app.videos.get(&video.id).await.unwrap().unwrap();
            old.created_at -= hour;
            videos.replace(old);
        }
        let busy_now = app.videos.get(&busy.id).await.unwrap().unwrap();
        crate::sign_parts(
            &app,
            &busy_now,
            crate::PartChoice::Numbers(vec![1]),
            crate::PartLengths::Unstated,
            None,
            true,
        )
        .await
        .unwrap();

        let report = auto_complete(&app).await.unwrap();
        assert_eq!((report.listed, report.completed), (1, 1), "{report:?}");
        let quiet_now = app.videos.get(&quiet.id).await.unwrap().unwrap();
        assert_eq!((quiet_now.status, quiet_now.completed_by), (Status::Uploaded, Some(CompletedBy::Server)));
        assert_eq!(app.videos.get(&busy.id).await.unwrap().unwrap().status, Status::Uploading);
    }

    #[tokio::test]
    async fn the_expiry_sweep_completes_complete_parts_instead_of_throwing_them_away() {
        let (app, objects, videos) = ports();
        let video = started(&app, serde_json::json!({})).await;
        for n in 1..=3 {
            objects.put_part_bytes(video.upload_id.as_deref().unwrap(), n, part(n)).unwrap();
        }
        let mut due = app.videos.get(&video.id).await.unwrap().unwrap();
        due.expires_at = time::now() - chrono::Duration::minutes(1);
        videos.replace(due);
        let report = crate::expire(&app).await.unwrap();
        assert_eq!((report.due, report.finished, report.expired), (1, 1, 0), "{report:?}");
        let after = app.videos.get(&video.id).await.unwrap().unwrap();
        assert_eq!((after.status, after.completed_by), (Status::Uploaded, Some(CompletedBy::Server)));
    }

    #[tokio::test]
    async fn auto_complete_racing_a_client_complete_and_an_abort_leaves_one_outcome() {
        for round in 0..30 {
            let (app, objects, _) = ports();
            let video = started(&app, serde_json::json!({})).await;
            for n in 1..=3 {
                objects.put_part_bytes(video.upload_id.as_deref().unwrap(), n, part(n)).unwrap();
            }
            let (server, client, aborted) = tokio::join!(
                complete_quiet(&app, &video),
                finish(&app, video.clone(), None, None),
                abort(&app, video.clone()),
            );
            let record = app.videos.get(&video.id).await.unwrap().unwrap();
            match record.status {
                Status::Uploaded => {
                    assert!(record.completed_by.is_some(), "round {round}");
                    assert!(objects.bytes(&video.key).is_some());
                    assert!(aborted.is_err(), "round {round}: the abort can't have won");
                    assert_eq!(client.unwrap().status, Status::Uploaded);
                }
                Status::Aborted => {
                    assert_eq!(record.completed_by, None);
                    assert!(objects.bytes(&video.key).is_none(), "round {round}");
                    assert!(client.is_err());
                    assert!(!matches!(server, Ok(Quiet::Completed(_))), "round {round}");
                }
                other => panic!("round {round}: {other}"),
            }
            assert!(!objects.has_upload(video.upload_id.as_deref().unwrap()));
        }
    }
}
