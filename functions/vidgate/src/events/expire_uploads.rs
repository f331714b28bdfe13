//! `expire-uploads`: run on a schedule, it expires uploads still `uploading` past their deadline.
//!
//! Found through the sparse `byExpiry` index shard by shard (never a table scan), in batches of
//! `VIDGATE_EXPIRE_BATCH` per shard. For each: abort whatever S3 holds open for it, then settle the
//! record — `expired` if no object exists, or `uploaded`/`rejected` if the client finished after
//! all. Safe to run twice at once: S3 aborts are idempotent and every record change is conditional.

use crate::App;
use crate::domain::video::EXPIRY_SHARDS;
use crate::domain::{Change, Status, time};
use crate::http::ApiError;
use crate::lifecycle::{abort_open_uploads, settle_counted};

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

pub async fn expire_uploads(app: &App) -> Result<SweepReport, ApiError> {
    let now = time::now();
    let mut report = SweepReport::default();
    for shard in 0..EXPIRY_SHARDS {
        let due = app.videos.list_expired(shard, now, app.config.expire_batch).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time;
    use crate::handlers::testing::Harness;
    use serde_json::json;

    /// Moves an upload's deadline into the past, as if created long ago.
    async fn back_date(h: &Harness, id: &str) {
        let mut video = h.stored(id).await.unwrap();
        video.expires_at = time::now() - chrono::Duration::hours(1);
        h.videos.replace(video);
    }

    #[tokio::test]
    async fn overdue_uploads_are_expired_and_aborted_in_s3_and_others_are_left() {
        let h = Harness::new();
        let old = h.create(json!({"filename": "old.mp4"})).await;
        let fresh = h.create(json!({"filename": "new.mp4"})).await;
        let (old_id, old_upload) = (old["videoId"].as_str().unwrap(), old["uploadId"].as_str().unwrap());
        back_date(&h, old_id).await;

        let report = expire_uploads(&h.app).await.unwrap();
        assert_eq!(report, SweepReport { due: 1, expired: 1, finished: 0, aborted_in_s3: 1 });
        assert_eq!(h.stored(old_id).await.unwrap().status, Status::Expired);
        assert!(!h.objects.has_upload(old_upload));
        assert_eq!(h.stored(fresh["videoId"].as_str().unwrap()).await.unwrap().status, Status::Uploading);

        // Running again (or concurrently) finds nothing more to do.
        assert_eq!(expire_uploads(&h.app).await.unwrap(), SweepReport::default());
    }

    #[tokio::test]
    async fn an_overdue_upload_whose_object_arrived_is_recorded_as_uploaded_not_expired() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "late.mp4", "method": "presigned"})).await;
        let id = created["videoId"].as_str().unwrap();
        let video = h.stored(id).await.unwrap();
        h.objects.put_object(&video.key, crate::objects::memory::video_like(10, 1));
        back_date(&h, id).await;
        let report = expire_uploads(&h.app).await.unwrap();
        assert_eq!(report.finished, 1);
        assert_eq!(h.stored(id).await.unwrap().status, Status::Uploaded);
    }

    #[tokio::test]
    async fn a_store_outage_is_an_error_so_the_schedule_retries() {
        let h = Harness::new();
        h.videos.set_unavailable(true);
        assert!(matches!(expire_uploads(&h.app).await, Err(ApiError::Unavailable(_))));
    }
}
