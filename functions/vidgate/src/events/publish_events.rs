//! `publish-events`: the table's DynamoDB stream, translated into lifecycle events on the bus
//! ([`Lifecycle`]): one per state a video enters, `detail` = the owner's `Video` view plus
//! `owner` and `previousStatus`.
//!
//! Reading the stream, not announcing from each function, is what makes delivery at least once:
//! a function that dies right after its DynamoDB write has still written the stream record, and
//! Lambda keeps handing this function the batch until it says every record is published. The
//! reply names the first record that failed (`ReportBatchItemFailures`); Lambda checkpoints
//! before it and retries from it, so nothing after it is published out of order past a gap.

use aws_lambda_events::event::dynamodb::{Event as DynamoDbEvent, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::Serialize;

use crate::aws::dynamodb::{is_video_id, video_from_image};
use crate::bus::{BusEvent, EventBus, MAX_EVENTS_PER_CALL};
use crate::domain::lifecycle::{ImagesLifecycle, Lifecycle, SOURCE};
use crate::domain::{Status, Video};
use crate::view::VideoView;

/// Retries of a batch whose first record keeps failing before Lambda skips it and reports it to
/// the on-failure queue: the template's `PublishMaxRetries` default.
pub const PUBLISH_MAX_RETRIES: u32 = 10;

/// An event's `detail`: what the owner's `GET /v1/videos/{id}` shows, and whose it is and what
/// it was. Never credentials, tokens or URLs.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleDetail<'a> {
    #[serde(flatten)]
    pub video: VideoView<'a>,
    pub owner: &'a str,
    pub previous_status: Option<Status>,
}

/// The events a stream record means, in order: the state the video entered, and the end of an
/// images run. None for items that are no video (quota and prefix items) and for changes that
/// are neither.
pub fn lifecycle_event(bucket: &str, record: &EventRecord) -> Result<Vec<BusEvent>, String> {
    let change = &record.change;
    let id = match change.keys.get("id") {
        Some(serde_dynamo::AttributeValue::S(id)) => id.as_str(),
        _ => return Err(format!("record {} has no string id key", record.event_id)),
    };
    if !is_video_id(id) {
        return Ok(Vec::new());
    }
    let image = |item: &serde_dynamo::Item| -> Result<Option<Video>, String> {
        if item.is_empty() {
            return Ok(None);
        }
        video_from_image(item.clone()).map(Some).map_err(|e| format!("video {id}: {e}"))
    };
    let old = image(&change.old_image)?;
    let Some(new) = image(&change.new_image)? else { return Ok(Vec::new()) };
    let previous = old.as_ref().map(|v| v.status);
    let status = Lifecycle::of(previous, Some(new.status)).map(Lifecycle::detail_type);
    let images = ImagesLifecycle::of(old.as_ref().and_then(|v| v.images.as_ref()), new.images.as_ref())
        .map(ImagesLifecycle::detail_type);
    let detail = LifecycleDetail {
        video: VideoView::from(&new),
        owner: new.owner.as_str(),
        previous_status: previous,
    };
    let detail = serde_json::to_string(&detail).map_err(|e| format!("video {id}: {e}"))?;
    Ok([status, images]
        .into_iter()
        .flatten()
        .map(|detail_type| BusEvent {
            source: SOURCE,
            detail_type,
            detail: detail.clone(),
            time: new.updated_at,
            resources: vec![format!("arn:aws:s3:::{bucket}/{}", new.key)],
        })
        .collect())
}

fn failure(sequence_number: &str) -> DynamoDbEventResponse {
    let mut failed = DynamoDbBatchItemFailure::default();
    failed.item_identifier = Some(sequence_number.to_owned());
    let mut reply = DynamoDbEventResponse::default();
    reply.batch_item_failures.push(failed);
    reply
}

/// Publishes the events of one batch of stream records, in order; the reply names the first
/// record not published (or none).
pub async fn publish_events(bus: &dyn EventBus, bucket: &str, batch: DynamoDbEvent) -> DynamoDbEventResponse {
    let mut pending: Vec<(String, BusEvent)> = Vec::new();
    // A record that can't be read stops the batch there; Lambda retries it, then hands it to the
    // on-failure destination, where an operator finds it.
    let mut unreadable = None;
    for record in &batch.records {
        let sequence = record.change.sequence_number.clone().unwrap_or_else(|| record.event_id.clone());
        match lifecycle_event(bucket, record) {
            Ok(events) => pending.extend(events.into_iter().map(|e| (sequence.clone(), e))),
            Err(why) => {
                tracing::error!(sequence, error = why, "a stream record that is no video record");
                unreadable = Some(sequence);
                break;
            }
        }
    }
    for chunk in pending.chunks(MAX_EVENTS_PER_CALL) {
        let events: Vec<BusEvent> = chunk.iter().map(|(_, e)| e.clone()).collect();
        match bus.publish(&events).await {
            Ok(results) => {
                if let Some(((sequence, event), why)) =
                    chunk.iter().zip(results).find_map(|(c, r)| r.map(|why| (c, why)))
                {
                    tracing::warn!(
                        sequence,
                        detail_type = event.detail_type,
                        error = why,
                        "not published; retried"
                    );
                    return failure(sequence);
                }
            }
            Err(e) => {
                tracing::warn!(sequence = chunk[0].0, error = %e, "publishing failed; retried");
                return failure(&chunk[0].0);
            }
        }
        for (sequence, event) in chunk {
            tracing::info!(sequence, detail_type = event.detail_type, resource = ?event.resources, "lifecycle event published");
        }
    }
    unreadable.map_or_else(DynamoDbEventResponse::default, |sequence| failure(&sequence))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::memory::MemoryBus;
    use serde_json::{Value, json};

    fn video(status: Status) -> Video {
        let video = crate::domain::fixtures::video("alice");
        let key = crate::domain::keys::object_key(&video.owner, &video.id, ".mp4");
        Video { key, status, ..video }
    }

    /// A stream record as Lambda delivers it, with the images as the DynamoDB adapter writes them.
    fn record(sequence: u64, old: Option<&Video>, new: Option<&Video>) -> Value {
        let image = |v: Option<&Video>| -> Value {
            v.map_or(json!({}), |v| {
                serde_json::to_value(serde_dynamo::to_item::<_, serde_dynamo::Item>(v).unwrap()).unwrap()
            })
        };
        let id = old.or(new).map(|v| v.id.to_string()).unwrap();
        json!({
            "eventID": format!("e{sequence}"),
            "eventName": match (old, new) { (None, _) => "INSERT", (_, None) => "REMOVE", _ => "MODIFY" },
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_764_000_000.0,
                "Keys": {"id": {"S": id}},
                "NewImage": image(new),
                "OldImage": image(old),
                "SequenceNumber": sequence.to_string(),
                "SizeBytes": 100,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            },
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/videos/stream/2026-12-04T00:00:00.000"
        })
    }

    fn batch(records: Vec<Value>) -> DynamoDbEvent {
        serde_json::from_value(json!({ "Records": records })).unwrap()
    }

    fn failed(reply: &DynamoDbEventResponse) -> Vec<String> {
        reply.batch_item_failures.iter().filter_map(|f| f.item_identifier.clone()).collect()
    }

    #[tokio::test]
    async fn each_state_entered_is_one_event_whose_detail_is_the_owners_view() {
        let bus = MemoryBus::new();
        let started = video(Status::Uploading);
        let mut uploaded = started.clone();
        uploaded.status = Status::Uploaded;
        let mut deleted = uploaded.clone();
        deleted.status = Status::Deleted;
        let mut records = vec![
            record(1, None, Some(&started)),
            // The same status rewritten: no event.
            record(2, Some(&started), Some(&started)),
            record(3, Some(&started), Some(&uploaded)),
            record(4, Some(&uploaded), Some(&deleted)),
            // TTL removing the tombstone: no event.
            record(5, Some(&deleted), None),
        ];
        // A quota item's change: no event.
        let mut quota = record(6, None, Some(&started));
        quota["dynamodb"]["Keys"]["id"]["S"] = json!("quota#alice");
        records.push(quota);
        let reply = publish_events(&bus, "videos-bucket", batch(records)).await;
        assert!(failed(&reply).is_empty());
        let published = bus.published();
        let types: Vec<&str> = published.iter().map(|e| e.detail_type).collect();
        assert_eq!(types, ["Video Upload Started", "Video Uploaded", "Video Deleted"]);
        let detail: Value = serde_json::from_str(&published[1].detail).unwrap();
        assert_eq!(detail["id"], started.id.to_string());
        assert_eq!(
            (detail["status"].as_str(), detail["previousStatus"].as_str()),
            (Some("uploaded"), Some("uploading"))
        );
        assert_eq!(detail["owner"], "alice");
        assert_eq!(detail["filename"], "clip.mp4");
        assert!(detail.get("quotaBytes").is_none() && detail.get("metadata").is_some(), "{detail}");
        assert_eq!(published[0].source, "vidgate");
        assert_eq!(published[0].resources, [format!("arn:aws:s3:::videos-bucket/{}", started.key)]);
        assert_eq!(
            serde_json::from_str::<Value>(&published[0].detail).unwrap()["previousStatus"],
            Value::Null
        );
    }

    #[tokio::test]
    async fn an_images_run_ending_is_its_own_event_and_a_rewrite_is_none() {
        use crate::domain::images::{Images, ImagesStatus};
        let bus = MemoryBus::new();
        let started = video(Status::Uploading);
        let uploaded = Video { status: Status::Uploaded, images: Some(Images::pending()), ..started.clone() };
        let ready = Video {
            images: Some(Images { status: ImagesStatus::Ready, ..Images::pending() }),
            ..uploaded.clone()
        };
        let broken = Video {
            images: Some(Images {
                status: ImagesStatus::Failed,
                reason: Some("no".into()),
                ..Images::pending()
            }),
            ..uploaded.clone()
        };
        let records = vec![
            record(1, Some(&started), Some(&uploaded)),
            record(2, Some(&uploaded), Some(&ready)),
            record(3, Some(&ready), Some(&ready)),
            record(4, Some(&uploaded), Some(&broken)),
        ];
        let reply = publish_events(&bus, "videos-bucket", batch(records)).await;
        assert!(failed(&reply).is_empty());
        let published = bus.published();
        let types: Vec<&str> = published.iter().map(|e| e.detail_type).collect();
        assert_eq!(types, ["Video Uploaded", "Video Images Ready", "Video Images Failed"]);
        let detail: Value = serde_json::from_str(&published[1].detail).unwrap();
        assert_eq!(detail["images"]["status"], "ready");
        assert!(detail["images"].get("rev").is_none(), "{detail}");
    }

    #[tokio::test]
    async fn the_first_record_not_published_is_named_so_it_and_all_after_it_come_again() {
        let bus = MemoryBus::new();
        let a = video(Status::Uploading);
        let b = video(Status::Uploading);
        let c = video(Status::Uploading);
        bus.refuse(Some(&b.id.to_string()));
        let reply = publish_events(
            &bus,
            "bucket",
            batch(vec![record(7, None, Some(&a)), record(8, None, Some(&b)), record(9, None, Some(&c))]),
        )
        .await;
        assert_eq!(failed(&reply), ["8"]);
        // a and c went out in the same call; both come again with the retry from b (at least once).
        let ids: Vec<String> = bus
            .published()
            .iter()
            .map(|e| serde_json::from_str::<Value>(&e.detail).unwrap()["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, [a.id.to_string(), c.id.to_string()]);

        // The bus down: the batch's first event is named.
        bus.refuse(None);
        bus.set_unavailable(true);
        let reply = publish_events(&bus, "bucket", batch(vec![record(8, None, Some(&b))])).await;
        assert_eq!(failed(&reply), ["8"]);
        bus.set_unavailable(false);
        let reply =
            publish_events(&bus, "bucket", batch(vec![record(8, None, Some(&b)), record(9, None, Some(&c))]))
                .await;
        assert!(failed(&reply).is_empty());
        assert_eq!(bus.published().len(), 4);
    }

    #[tokio::test]
    async fn an_unreadable_record_stops_the_batch_after_what_came_before_it_is_published() {
        let bus = MemoryBus::new();
        let a = video(Status::Uploading);
        let mut broken = record(11, None, Some(&video(Status::Uploading)));
        broken["dynamodb"]["NewImage"]["status"] = json!({"S": "melted"});
        let reply = publish_events(
            &bus,
            "bucket",
            batch(vec![
                record(10, None, Some(&a)),
                broken,
                record(12, None, Some(&video(Status::Uploading))),
            ]),
        )
        .await;
        assert_eq!(failed(&reply), ["11"]);
        assert_eq!(bus.published().len(), 1);
    }

    #[tokio::test]
    async fn more_than_one_call_worth_of_events_goes_out_in_calls_of_ten() {
        let bus = MemoryBus::new();
        let records: Vec<Value> =
            (0..25).map(|n| record(100 + n, None, Some(&video(Status::Uploading)))).collect();
        let reply = publish_events(&bus, "bucket", batch(records)).await;
        assert!(failed(&reply).is_empty());
        assert_eq!(bus.published().len(), 25);
    }
}
