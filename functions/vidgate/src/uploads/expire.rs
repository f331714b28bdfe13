//! Expiring uploads still `uploading` past their deadline.
//!
//! Found through the sparse `byExpiry` index shard by shard (never a table scan), in batches of
//! `VIDGATE_EXPIRE_BATCH` per shard. For each: abort whatever S3 holds open for it, then settle the
//! record — `expired` if no object exists, or `uploaded`/`rejected` if the client finished after
//! all. Safe to run twice at once: S3 aborts are idempotent and every record change is conditional.

use super::UploadError;
use super::settle::{abort_open_uploads, settle_counted};
use crate::app::Objects;
use crate::domain::video::EXPIRY_SHARDS;
use crate::domain::{Change, Status, time};

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
}

pub async fn expire(app: &impl Objects) -> Result<SweepReport, UploadError> {
    let now = time::now();
    let mut report = SweepReport::default();
    for shard in 0..EXPIRY_SHARDS {
        let due = app.videos().list_expired(shard, now, app.config().expire_batch).await?;
        report.due += due.len();
        for video in due {
            report.aborted_in_s3 += abort_open_uploads(app, &video).await?;
            // Only what this run changed counts: a concurrent run may have settled it first.
            match settle_counted(app, &video, Change::Expire).await? {
                (settled, true) if settled.status == Status::Expired => report.expired += 1,
                (settled, true) if matches!(settled.status, Status::Uploaded | Status::Rejected) => {
                    report.finished += 1
                }
                _ => {}
            }
        }
    }
    tracing::info!(due = report.due, expired = report.expired, finished = report.finished, "sweep");
    Ok(report)
}
