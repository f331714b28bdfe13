//! Expiring uploads still `uploading` past their deadline.
//!
//! Found through the sparse `byExpiry` index shard by shard (never a table scan), in batches of
//! `VIDGATE_EXPIRE_BATCH` per shard. For each: abort whatever S3 holds open for it, then settle the
//! record — `expired` if no object exists, or `uploaded`/`rejected` if the client finished after
//! all. An upload vidgate may complete itself whose parts are all there is completed instead
//! ([`super::autocomplete`]). Safe to run twice at once: S3 aborts are idempotent and every record change is conditional.

use super::UploadError;
use super::autocomplete::{Quiet, completable, complete_quiet};
use super::settle::{abort_open_uploads, settle_counted};
use crate::app::Objects;
use vidgate_domain::video::EXPIRY_SHARDS;
use vidgate_domain::{Change, Status, Video, time};

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Records found past their deadline.
    pub due: usize,
    /// Records this run moved to `expired` (a concurrent run's are not counted).
    pub expired: usize,
    /// Records that turned out to be finished (the object exists).
    pub finished: usize,
    /// S3 multipart uploads aborted.
    pub aborted_in_s3: usize,
    /// Records whose handling failed this run (logged each, retried next run).
    pub failed: usize,
}

pub async fn expire(app: &impl Objects) -> Result<SweepReport, UploadError> {
    let now = time::now();
    let mut report = SweepReport::default();
    for shard in 0..EXPIRY_SHARDS {
        let due = app.videos().list_expired(shard, now, app.config().expire_batch).await?;
        report.due += due.len();
        for video in due {
            // One record's failure is logged and counted, never the end of the run: the oldest
            // record is first in every run, so a poisoned one would stall everybody's expiry.
            // Only a store that is down ends it (every other record would fail the same way).
            match expire_one(app, &video).await {
                Ok((aborted, settled)) => {
                    report.aborted_in_s3 += aborted;
                    match settled {
                        Some(Status::Expired) => report.expired += 1,
                        Some(Status::Uploaded | Status::Rejected) => report.finished += 1,
                        _ => {}
                    }
                }
                Err(e) if e.is_unavailable() => return Err(e),
                Err(e) => {
                    report.failed += 1;
                    tracing::error!(event = "sweep_record_failed", video_id = %video.id, error = %e, "expiring one upload failed; the sweep goes on");
                }
            }
        }
    }
    tracing::info!(
        due = report.due,
        expired = report.expired,
        finished = report.finished,
        failed = report.failed,
        "sweep"
    );
    Ok(report)
}

/// Aborts what S3 holds open for one due upload and settles its record; returns the aborts and
/// the status this run moved it to (a concurrent run's change is not counted).
async fn expire_one(app: &impl Objects, video: &Video) -> Result<(usize, Option<Status>), UploadError> {
    // Parts that make the whole declared object are completed, not thrown away.
    if completable(video)
        && let Quiet::Completed(done) = complete_quiet(app, video).await?
    {
        return Ok((0, Some(done.status)));
    }
    let aborted = abort_open_uploads(app, video).await?;
    let (settled, changed) = settle_counted(app, video, Change::Expire, None).await?;
    Ok((aborted, changed.then_some(settled.status)))
}
