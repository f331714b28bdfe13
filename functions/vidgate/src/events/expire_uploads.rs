//! `expire-uploads`: run on a schedule (the event carries nothing it needs), it completes the
//! uploads whose client went away ([`uploads::auto_complete`]), then expires the ones past their
//! deadline ([`uploads::expire`]).

use super::EventError;
use crate::app::Objects;
use crate::uploads::{self, AutoCompletion, SweepReport};

/// What one scheduled run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadsPass {
    pub auto_completed: AutoCompletion,
    pub swept: SweepReport,
}

/// The scheduled run: the auto-complete pass, then the sweep.
pub async fn settle_uploads(app: &impl Objects) -> Result<UploadsPass, EventError> {
    let auto_completed = auto_complete_uploads(app).await?;
    let swept = expire_uploads(app).await?;
    Ok(UploadsPass { auto_completed, swept })
}

pub async fn auto_complete_uploads(app: &impl Objects) -> Result<AutoCompletion, EventError> {
    Ok(uploads::auto_complete(app).await?)
}

pub async fn expire_uploads(app: &impl Objects) -> Result<SweepReport, EventError> {
    Ok(uploads::expire(app).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Status;
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
        assert_eq!(report, SweepReport { due: 1, expired: 1, finished: 0, aborted_in_s3: 1, failed: 0 });
        assert_eq!(h.stored(old_id).await.unwrap().status, Status::Expired);
        assert!(!h.objects.has_upload(old_upload));
        assert_eq!(h.stored(fresh["videoId"].as_str().unwrap()).await.unwrap().status, Status::Uploading);

        // Running again (or concurrently) finds nothing more to do.
        assert_eq!(expire_uploads(&h.app).await.unwrap(), SweepReport::default());
    }

    #[tokio::test]
    async fn a_poisoned_record_is_counted_and_logged_and_the_sweep_expires_the_others() {
        let h = Harness::new();
        let poisoned = h.create(json!({"filename": "poison.mp4", "method": "put", "size": 28})).await;
        let unreadable = h.create(json!({"filename": "ssec.mp4", "method": "put", "size": 28})).await;
        let others: Vec<_> = (0..3).map(|i| format!("other{i}.mp4")).collect();
        let mut other_ids = Vec::new();
        for name in &others {
            other_ids.push(h.create(json!({"filename": name})).await["videoId"].as_str().unwrap().to_owned());
        }
        let (poison_id, ssec_id) =
            (poisoned["videoId"].as_str().unwrap(), unreadable["videoId"].as_str().unwrap());
        // The oldest first: both poisoned records come before the others in every run.
        for id in [poison_id, ssec_id].into_iter().chain(other_ids.iter().map(String::as_str)) {
            back_date(&h, id).await;
        }
        let poison_key = h.stored(poison_id).await.unwrap().key;
        h.objects.poison(&poison_key, false);
        let ssec_key = h.stored(ssec_id).await.unwrap().key;
        h.objects.put_object(&ssec_key, b"bytes S3 will not serve back".to_vec());
        h.objects.poison(&ssec_key, true);

        let report = expire_uploads(&h.app).await.unwrap();
        assert_eq!((report.due, report.failed, report.expired, report.finished), (5, 1, 3, 1), "{report:?}");
        for id in &other_ids {
            assert_eq!(h.stored(id).await.unwrap().status, Status::Expired);
        }
        // S3 won't read it back: rejected with S3's reason, and the object is gone.
        let ssec = h.stored(ssec_id).await.unwrap();
        assert_eq!(ssec.status, Status::Rejected);
        assert!(ssec.reject_reason.unwrap().contains("can't read the object back"));
        assert!(h.objects.versions(&ssec_key).is_empty());
        // The poisoned one stays due, and fails again alone next run.
        assert_eq!(h.stored(poison_id).await.unwrap().status, Status::Uploading);
        let again = expire_uploads(&h.app).await.unwrap();
        assert_eq!((again.due, again.failed, again.expired), (1, 1, 0));
    }

    #[tokio::test]
    async fn an_overdue_upload_whose_object_arrived_is_recorded_as_uploaded_not_expired() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "late.mp4", "method": "presigned"})).await;
        let id = created["videoId"].as_str().unwrap();
        let video = h.stored(id).await.unwrap();
        h.objects.put_object(&video.key, crate::objects::memory::video_like(1000, 1));
        back_date(&h, id).await;
        let report = expire_uploads(&h.app).await.unwrap();
        assert_eq!(report.finished, 1);
        let stored = h.stored(id).await.unwrap();
        assert_eq!(stored.status, Status::Uploaded);
        // The sweeper's path reads the header too (the synthetic one-frame 64x36 H.264 header).
        let media = stored.media.expect("media facts recorded by the sweeper");
        assert_eq!((media.width, media.height, media.video_codec.as_str()), (64, 36, "avc1.42C00A"));
    }

    #[tokio::test]
    async fn a_store_outage_is_an_error_so_the_schedule_retries() {
        let h = Harness::new();
        h.videos.set_unavailable(true);
        assert!(matches!(expire_uploads(&h.app).await, Err(e) if e.0.is_unavailable()));
    }
}
