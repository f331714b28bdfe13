//! `on-object-created`: S3 `ObjectCreated:*` notifications, delivered through an SQS queue in
//! batches, translated into [`uploads::record_arrival`] per record (see there for what it records
//! and why it is idempotent and order-free: a redelivered or reordered message is harmless).
//!
//! The queue is what keeps an event from being lost: the answer names each message whose
//! handling failed (`ReportBatchItemFailures`), only those come back after the visibility
//! timeout, and after `maxReceiveCount` deliveries SQS moves them to the dead-letter queue, where
//! an operator replays them once the cause is fixed. The local stack feeds this same function the
//! same batch shape.

use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};

use crate::app::Objects;
use crate::domain::VideoId;
use crate::uploads::{self, Arrival, UploadError};

/// What happened to each record of an event, for logs and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectReport {
    /// The record moved to this status.
    Recorded { id: VideoId, status: &'static str },
    /// Nothing to do, and why.
    Ignored { key: String, why: &'static str },
}

/// S3 event keys are URL-encoded, with `+` for spaces.
fn decode_key(raw: &str) -> String {
    let plus_decoded = raw.replace('+', " ");
    form_urlencoded::parse(format!("k={}", plus_decoded.replace('&', "%26")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or(plus_decoded)
}

/// The deliveries the event source mapping of the template (and the local pump) makes before a
/// message moves to the dead-letter queue: the `EventMaxReceives` parameter's default.
pub const MAX_RECEIVES: u32 = 5;

/// One SQS batch: every message handled on its own; the reply names those that failed.
pub async fn on_object_created(app: &impl Objects, batch: SqsEvent) -> SqsBatchResponse {
    let mut reply = SqsBatchResponse::default();
    for message in batch.records {
        let id = message.message_id.clone().unwrap_or_default();
        let receives = message.attributes.get("ApproximateReceiveCount").map_or("?", String::as_str);
        let body = message.body.as_deref().unwrap_or_default();
        let event = match serde_json::from_str::<S3Event>(body) {
            Ok(event) => event,
            // S3's `s3:TestEvent`, sent when the notification is set up, carries no records.
            Err(_) if is_test_event(body) => continue,
            Err(e) => {
                // Kept (it will reach the dead-letter queue) for someone to look at.
                tracing::error!(message_id = id, error = %e, "a queue message that is no S3 event");
                reply.add_failure(id);
                continue;
            }
        };
        match on_s3_event(app, event).await {
            Ok(reports) => tracing::info!(message_id = id, ?reports, "S3 event handled"),
            Err(e) => {
                tracing::warn!(message_id = id, receives, error = %e, "S3 event failed; it will come back");
                reply.add_failure(id);
            }
        }
    }
    reply
}

fn is_test_event(body: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(body).is_ok_and(|v| v["Event"] == "s3:TestEvent")
}

/// One S3 notification's records. An unavailable store is an error: the message comes back.
pub async fn on_s3_event(app: &impl Objects, event: S3Event) -> Result<Vec<ObjectReport>, UploadError> {
    let mut reports = Vec::new();
    for record in event.records {
        let Some(raw_key) = record.s3.object.key.as_deref() else { continue };
        let key = decode_key(raw_key);
        let ignored = |why| ObjectReport::Ignored { key: key.clone(), why };
        if record.s3.bucket.name.as_deref() != Some(app.config().bucket.as_str()) {
            reports.push(ignored("another bucket"));
            continue;
        }
        if !record.event_name.as_deref().unwrap_or_default().starts_with("ObjectCreated:") {
            reports.push(ignored("not an ObjectCreated event"));
            continue;
        }
        let version = record.s3.object.version_id.as_deref().filter(|v| !v.is_empty() && *v != "null");
        reports.push(match uploads::record_arrival(app, &key, version).await? {
            Arrival::Recorded { id, status } => ObjectReport::Recorded { id, status: status.as_str() },
            Arrival::Ignored(why) => ignored(why),
        });
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Status;
    use crate::domain::keys::video_id_of;
    use crate::handlers::testing::Harness;
    use crate::objects::memory::video_like;
    use serde_json::json;

    /// events/s3-object-created.json (an S3 notification as S3 sends it) for this object.
    pub fn event(bucket: &str, key: &str, size: u64) -> S3Event {
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/s3-object-created.json");
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
        let reports = on_s3_event(&h.app, event("bucket", &video.key, 1000)).await.unwrap();
        assert_eq!(reports, vec![ObjectReport::Recorded { id: video.id, status: "uploaded" }]);
        let stored = h.stored(&video.id.to_string()).await.unwrap();
        assert_eq!((stored.status, stored.size), (Status::Uploaded, Some(1000)));

        let again = on_s3_event(&h.app, event("bucket", &video.key, 1000)).await.unwrap();
        assert!(matches!(again[0], ObjectReport::Ignored { why: "the upload is already final", .. }));
        assert_eq!(h.stored(&video.id.to_string()).await.unwrap(), stored);
    }

    #[tokio::test]
    async fn non_video_bytes_are_rejected_with_a_reason() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4"})).await;
        let video = h.stored(created["videoId"].as_str().unwrap()).await.unwrap();
        h.objects.put_object(&video.key, b"%PDF-1.7 definitely not a video".to_vec());
        let reports = on_s3_event(&h.app, event("bucket", &video.key, 31)).await.unwrap();
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
            let reports = on_s3_event(&h.app, event(bucket, key, 1)).await.unwrap();
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
        let reports = on_s3_event(&h.app, event("bucket", &key, 4000)).await.unwrap();
        assert!(matches!(reports[0], ObjectReport::Ignored { .. }), "{reports:?}");

        h.videos.remember_prefix(&prefix, &Owner::new("alice")).await.unwrap();
        let reports = on_s3_event(&h.app, event("bucket", &key, 4000)).await.unwrap();
        let id = VideoId::for_untracked_key(&key);
        assert_eq!(reports, vec![ObjectReport::Recorded { id, status: "uploaded" }]);
        let stored = h.stored(&id.to_string()).await.unwrap();
        assert_eq!(stored.owner.as_str(), "alice");
        assert_eq!((stored.key.as_str(), stored.filename.as_str()), (key.as_str(), "clip.MOV"));
        assert_eq!((stored.content_type.as_str(), stored.size), ("video/quicktime", Some(4000)));

        let again = on_s3_event(&h.app, event("bucket", &key, 4000)).await.unwrap();
        assert!(matches!(again[0], ObjectReport::Ignored { why: "the upload is already final", .. }));
        assert_eq!(h.stored(&id.to_string()).await.unwrap(), stored);
    }

    /// The event of one version of an object.
    fn versioned(key: &str, size: u64, version: &str) -> S3Event {
        let mut event = event("bucket", key, size);
        event.records[0].s3.object.version_id = Some(version.to_owned());
        event
    }

    #[tokio::test]
    async fn bytes_written_over_a_checked_video_are_deleted_and_never_served() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4"})).await;
        let (id, upload) = (created["videoId"].as_str().unwrap(), created["uploadId"].as_str().unwrap());
        let original = video_like(1000, 1);
        h.objects.put_part_bytes(upload, 1, original.clone()).unwrap();
        let (status, done) = crate::handlers::testing::call(
            &h.app,
            crate::http::HttpFunction::CompleteUpload,
            h.raw("POST", &format!("/v1/uploads/{id}/complete"), ""),
        )
        .await;
        assert_eq!(status, 200, "{done}");
        let video = h.stored(id).await.unwrap();
        let checked = video.version_id.clone().expect("the checked version is recorded");

        // Credentials still valid write an HTML page over it: S3 keeps it as the current version.
        h.objects.put_object(&video.key, b"<html><script>alert(1)</script></html>".to_vec());
        let written = h.objects.versions(&video.key)[1].clone();
        let (subscriber, logs) = crate::telemetry::capture::json("INFO");
        let reports = {
            let _logging = tracing::subscriber::set_default(subscriber);
            on_s3_event(&h.app, versioned(&video.key, 38, &written)).await.unwrap()
        };
        // What template.yaml's ForeignWritesMetric counts: `{ $.fields.event = "foreign_write" }`.
        let named: Vec<_> =
            logs.lines().into_iter().filter(|l| l["fields"]["event"] == "foreign_write").collect();
        assert_eq!(named.len(), 1, "{:?}", logs.lines());
        assert_eq!(named[0]["level"], "WARN");
        assert!(
            matches!(
                reports[0],
                ObjectReport::Ignored { why: "bytes written after the upload was final; deleted", .. }
            ),
            "{reports:?}"
        );
        assert_eq!(h.objects.versions(&video.key), std::slice::from_ref(&checked));
        assert_eq!(h.stored(id).await.unwrap(), video, "the record is untouched");
        // Reads name the checked version, whatever is current.
        h.objects.put_object(&video.key, vec![0; 1000]);
        let read = h.app.objects.get_range(&video.key, Some(&checked), 0, 999).await.unwrap();
        assert_eq!(read, original);
        // Its event may be lost: the next event of the key still removes every foreign version.
        let again = on_s3_event(&h.app, versioned(&video.key, 1000, &checked)).await.unwrap();
        assert!(matches!(again[0], ObjectReport::Ignored { .. }));
        assert_eq!(h.objects.versions(&video.key), [checked]);
    }

    #[tokio::test]
    async fn rejected_bytes_and_bytes_after_an_abort_are_deleted() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4", "method": "put", "size": 31})).await;
        let video = h.stored(created["videoId"].as_str().unwrap()).await.unwrap();
        h.objects.put_object(&video.key, b"%PDF-1.7 definitely not a video".to_vec());
        let reports = on_s3_event(&h.app, event("bucket", &video.key, 31)).await.unwrap();
        assert_eq!(reports, vec![ObjectReport::Recorded { id: video.id, status: "rejected" }]);
        assert!(h.objects.versions(&video.key).is_empty(), "the reason is kept, the bytes are not");

        // Aborted, then its still-valid URL writes: the bytes go.
        let created = h.create(json!({"filename": "b.mp4", "method": "put", "size": 1000})).await;
        let id = created["videoId"].as_str().unwrap();
        let (status, _) = crate::handlers::testing::call(
            &h.app,
            crate::http::HttpFunction::AbortUpload,
            h.raw("DELETE", &format!("/v1/uploads/{id}"), ""),
        )
        .await;
        assert_eq!(status, 204);
        let video = h.stored(id).await.unwrap();
        h.objects.put_object(&video.key, video_like(1000, 1));
        on_s3_event(&h.app, event("bucket", &video.key, 1000)).await.unwrap();
        assert!(h.objects.versions(&video.key).is_empty());
        assert_eq!(h.stored(id).await.unwrap().status, Status::Aborted);
    }

    #[tokio::test]
    async fn prefix_writes_past_the_quota_are_rejected_with_the_reason_and_deleted() {
        use crate::domain::{Owner, keys::owner_prefix};
        use crate::store::VideoStore;
        let mut config = crate::Config::for_tests();
        config.quota.uploads = 2;
        let h = Harness::with_config(config);
        let prefix = owner_prefix(&Owner::new("alice"));
        h.videos.remember_prefix(&prefix, &Owner::new("alice")).await.unwrap();
        // Two uploads in progress hold the quota; a third object arrives through the prefix.
        h.create(json!({"filename": "a.mp4"})).await;
        h.create(json!({"filename": "b.mp4"})).await;
        let key = format!("{prefix}flood.mp4");
        h.objects.put_object(&key, video_like(4000, 1));
        let reports = on_s3_event(&h.app, event("bucket", &key, 4000)).await.unwrap();
        let id = VideoId::for_untracked_key(&key);
        assert_eq!(reports, vec![ObjectReport::Recorded { id, status: "rejected" }]);
        let stored = h.stored(&id.to_string()).await.unwrap();
        assert!(stored.reject_reason.unwrap().contains("uploads in progress"), "the quota is named");
        assert!(h.objects.versions(&key).is_empty());
    }

    /// An SQS batch as the event source mapping delivers it, one message per body.
    fn batch(bodies: &[String]) -> SqsEvent {
        let records: Vec<serde_json::Value> = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| {
                json!({"messageId": format!("m{i}"), "receiptHandle": format!("r{i}"), "body": body,
                       "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs",
                       "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"})
            })
            .collect();
        serde_json::from_value(json!({"Records": records})).unwrap()
    }

    fn failed(reply: &SqsBatchResponse) -> Vec<&str> {
        reply.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect()
    }

    #[tokio::test]
    async fn a_batch_reports_only_the_message_that_failed_and_redelivery_is_harmless() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4"})).await;
        let video = h.stored(created["videoId"].as_str().unwrap()).await.unwrap();
        h.objects.put_object(&video.key, video_like(1000, 1));
        let good = serde_json::to_string(&event("bucket", &video.key, 1000)).unwrap();
        let test_event = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"bucket"}"#.to_owned();
        let reply = on_object_created(&h.app, batch(&[good.clone(), "not json".into(), test_event])).await;
        assert_eq!(failed(&reply), ["m1"]);
        let stored = h.stored(&video.id.to_string()).await.unwrap();
        assert_eq!(stored.status, Status::Uploaded);
        // The same message again (a redelivery) changes nothing and fails nothing.
        assert!(failed(&on_object_created(&h.app, batch(&[good])).await).is_empty());
        assert_eq!(h.stored(&video.id.to_string()).await.unwrap(), stored);
    }

    #[tokio::test]
    async fn an_unreachable_table_fails_every_message_so_each_comes_back() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4"})).await;
        let video = h.stored(created["videoId"].as_str().unwrap()).await.unwrap();
        h.objects.put_object(&video.key, video_like(1000, 1));
        let body = serde_json::to_string(&event("bucket", &video.key, 1000)).unwrap();
        h.videos.set_unavailable(true);
        let reply = on_object_created(&h.app, batch(&[body.clone(), body])).await;
        assert_eq!(failed(&reply), ["m0", "m1"]);
        h.videos.set_unavailable(false);
        assert_eq!(h.stored(&video.id.to_string()).await.unwrap().status, Status::Uploading);
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
