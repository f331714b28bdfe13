//! `on-object-created`: S3 `ObjectCreated:*` notifications mark the matching upload `uploaded`
//! (or `rejected` when its first bytes are no video), so credentials-mode and single-`PUT`
//! clients — and clients that crash before calling complete — need not call complete at all.
//!
//! An object under an owner's prefix that has no record (written with the prefix-scoped
//! credentials of `GET /s3/sts`) gets one here, owned by whoever the prefix belongs to.
//!
//! Idempotent and order-free: the record moves only out of `uploading`, with what S3 holds now
//! (HeadObject), not what an old or duplicate event says; keys that are not ours are ignored.

use aws_lambda_events::event::s3::S3Event;

use crate::App;
use crate::domain::keys::{prefix_of, video_id_of};
use crate::domain::upload::video_type_of;
use crate::domain::{Status, UploadMethod, Video, VideoId, time};
use crate::http::ApiError;
use crate::lifecycle::arrived;
use crate::objects::ObjectInfo;
use crate::store::StoreError;

/// What happened to each record of an event, for logs and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectReport {
    /// The record moved to this status.
    Recorded { id: VideoId, status: &'static str },
    /// Nothing to do, and why.
    Ignored { key: String, why: &'static str },
}

/// The record of `key`: the one the server made for it, or (for an object written under an
/// owner's prefix without one) a new record of its owner, created once whatever the number of
/// events. `None` when the key is not ours or its prefix belongs to no known owner.
async fn record_for(app: &App, key: &str, object: &ObjectInfo) -> Result<Option<Video>, ApiError> {
    if let Some(id) = video_id_of(key)
        && let Some(video) = app.videos.get(&id).await?.filter(|v| v.key == key)
    {
        return Ok(Some(video));
    }
    let id = VideoId::for_untracked_key(key);
    if let Some(video) = app.videos.get(&id).await? {
        return Ok(Some(video));
    }
    let Some(prefix) = prefix_of(key) else { return Ok(None) };
    let Some(owner) = app.videos.prefix_owner(prefix).await? else { return Ok(None) };
    let filename = key.rsplit('/').next().unwrap_or(key).to_owned();
    let now = time::now();
    let video = Video {
        id,
        owner,
        status: Status::Uploading,
        content_type: video_type_of(&filename).unwrap_or("application/octet-stream").to_owned(),
        filename,
        size: Some(object.size),
        key: key.to_owned(),
        method: UploadMethod::Credentials,
        upload_id: None,
        part_size: app.config.default_part_size,
        part_count: None,
        metadata: Default::default(),
        etag: None,
        reject_reason: None,
        created_at: now,
        updated_at: now,
        completed_at: None,
        expires_at: now + app.config.upload_ttl,
    };
    match app.videos.insert(&video).await {
        Ok(()) => Ok(Some(video)),
        // A duplicate event got there first.
        Err(StoreError::ConditionFailed) => Ok(app.videos.get(&id).await?),
        Err(e) => Err(e.into()),
    }
}

/// S3 event keys are URL-encoded, with `+` for spaces.
fn decode_key(raw: &str) -> String {
    let plus_decoded = raw.replace('+', " ");
    form_urlencoded::parse(format!("k={}", plus_decoded.replace('&', "%26")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or(plus_decoded)
}

pub async fn on_object_created(app: &App, event: S3Event) -> Result<Vec<ObjectReport>, ApiError> {
    let mut reports = Vec::new();
    for record in event.records {
        let Some(raw_key) = record.s3.object.key.as_deref() else { continue };
        let key = decode_key(raw_key);
        let ignored = |why| ObjectReport::Ignored { key: key.clone(), why };
        if record.s3.bucket.name.as_deref() != Some(app.config.bucket.as_str()) {
            reports.push(ignored("another bucket"));
            continue;
        }
        if !record.event_name.as_deref().unwrap_or_default().starts_with("ObjectCreated:") {
            reports.push(ignored("not an ObjectCreated event"));
            continue;
        }
        if prefix_of(&key).is_none() {
            reports.push(ignored("not a vidgate key"));
            continue;
        }
        // Unavailable stores return Err: Lambda retries the event.
        let Some(object) = app.objects.head(&key).await? else {
            reports.push(ignored("the object is gone"));
            continue;
        };
        let Some(video) = record_for(app, &key, &object).await? else {
            reports.push(ignored("no upload record for this key and no owner for its prefix"));
            continue;
        };
        if video.status.is_final() {
            reports.push(ignored("the upload is already final"));
            continue;
        }
        let updated = arrived(app, &video, object).await?;
        tracing::info!(video_id = %video.id, status = updated.status.as_str(), "object created");
        reports.push(ObjectReport::Recorded { id: video.id, status: updated.status.as_str() });
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Status;
    use crate::handlers::testing::Harness;
    use crate::objects::memory::video_like;
    use serde_json::json;

    /// events/on-object-created.json (an S3 notification as S3 sends it) for this object.
    pub fn event(bucket: &str, key: &str, size: u64) -> S3Event {
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/on-object-created.json");
        let mut event: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
        let s3 = &mut event["Records"][0]["s3"];
        s3["bucket"]["name"] = json!(bucket);
        s3["bucket"]["arn"] = json!(format!("arn:aws:s3:::{bucket}"));
        s3["object"]["key"] = json!(key);
        s3["object"]["size"] = json!(size);
        serde_json::from_value(event).unwrap()
    }

    #[tokio::test]
    async fn an_event_for_a_credentials_upload_marks_it_uploaded_and_repeats_change_nothing() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4", "method": "presigned"})).await;
        let video = h.stored(created["videoId"].as_str().unwrap()).await.unwrap();
        h.objects.put_object(&video.key, video_like(1000, 1));
        let reports = on_object_created(&h.app, event("bucket", &video.key, 1000)).await.unwrap();
        assert_eq!(reports, vec![ObjectReport::Recorded { id: video.id, status: "uploaded" }]);
        let stored = h.stored(&video.id.to_string()).await.unwrap();
        assert_eq!((stored.status, stored.size), (Status::Uploaded, Some(1000)));

        let again = on_object_created(&h.app, event("bucket", &video.key, 1000)).await.unwrap();
        assert!(matches!(again[0], ObjectReport::Ignored { why: "the upload is already final", .. }));
        assert_eq!(h.stored(&video.id.to_string()).await.unwrap(), stored);
    }

    #[tokio::test]
    async fn non_video_bytes_are_rejected_with_a_reason() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4"})).await;
        let video = h.stored(created["videoId"].as_str().unwrap()).await.unwrap();
        h.objects.put_object(&video.key, b"%PDF-1.7 definitely not a video".to_vec());
        let reports = on_object_created(&h.app, event("bucket", &video.key, 31)).await.unwrap();
        assert_eq!(reports, vec![ObjectReport::Recorded { id: video.id, status: "rejected" }]);
        let stored = h.stored(&video.id.to_string()).await.unwrap();
        assert!(stored.reject_reason.unwrap().contains("not a known video container"));
    }

    #[tokio::test]
    async fn foreign_keys_buckets_and_missing_records_are_ignored() {
        let h = Harness::new();
        let stranger = format!("videos/{}/{}.mp4", "0".repeat(32), VideoId::new());
        for (bucket, key) in
            [("bucket", "uploads/x.mp4"), ("other", "videos/a/b"), ("bucket", stranger.as_str())]
        {
            let reports = on_object_created(&h.app, event(bucket, key, 1)).await.unwrap();
            assert!(matches!(reports[0], ObjectReport::Ignored { .. }), "{bucket} {key}: {reports:?}");
        }
    }

    #[tokio::test]
    async fn an_object_under_a_known_prefix_without_a_record_gets_one_once() {
        use crate::domain::{Owner, keys::owner_prefix};
        use crate::store::VideoStore;
        let h = Harness::new();
        let prefix = owner_prefix(&Owner::new("alice"));
        let key = format!("{prefix}holiday/clip.MOV");
        h.objects.put_object(&key, video_like(4000, 1));
        // Nobody has claimed the prefix yet: nothing to attribute the object to.
        let reports = on_object_created(&h.app, event("bucket", &key, 4000)).await.unwrap();
        assert!(matches!(reports[0], ObjectReport::Ignored { .. }), "{reports:?}");

        h.videos.remember_prefix(&prefix, &Owner::new("alice")).await.unwrap();
        let reports = on_object_created(&h.app, event("bucket", &key, 4000)).await.unwrap();
        let id = VideoId::for_untracked_key(&key);
        assert_eq!(reports, vec![ObjectReport::Recorded { id, status: "uploaded" }]);
        let stored = h.stored(&id.to_string()).await.unwrap();
        assert_eq!(stored.owner.as_str(), "alice");
        assert_eq!((stored.key.as_str(), stored.filename.as_str()), (key.as_str(), "clip.MOV"));
        assert_eq!((stored.content_type.as_str(), stored.size), ("video/quicktime", Some(4000)));

        let again = on_object_created(&h.app, event("bucket", &key, 4000)).await.unwrap();
        assert!(matches!(again[0], ObjectReport::Ignored { why: "the upload is already final", .. }));
        assert_eq!(h.stored(&id.to_string()).await.unwrap(), stored);
    }

    #[test]
    fn keys_decode_and_parse() {
        let id = VideoId::new();
        assert_eq!(video_id_of(&format!("videos/{}/{id}.mp4", "a".repeat(32))), Some(id));
        assert_eq!(video_id_of(&format!("videos/{}/{id}", "a".repeat(32))), Some(id));
        assert_eq!(video_id_of("videos/short/x.mp4"), None);
        assert_eq!(decode_key("videos/a+b%2Bc.mp4"), "videos/a b+c.mp4");
    }
}
