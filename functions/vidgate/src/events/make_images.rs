//! `make-images`: requests for a video's pictures, delivered through an SQS queue in batches,
//! translated into [`uploads::make_images`] per message (see there for why a redelivered or
//! overtaken request is harmless).
//!
//! A request is a lifecycle event the bus's rule sends to the queue in EventBridge's envelope —
//! `Video Uploaded`, or `Video Images Requested` (an owner asking for another poster) — or
//! `{"videoId": …}` (an operator's replay).
//! As with S3 events, the reply names the messages whose handling failed
//! (`ReportBatchItemFailures`); they come back after the visibility timeout, and after
//! `maxReceiveCount` deliveries SQS moves them to the dead-letter queue. A video ffmpeg can't
//! decode is no failure: its images say `failed` and why.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde::Deserialize;

use crate::app::Imaging;
use crate::domain::VideoId;
use crate::uploads::{self, ImagesRun};

/// A queue message: the lifecycle event's envelope, or a request naming the video.
#[derive(Deserialize)]
#[serde(untagged)]
enum Request {
    Event {
        #[serde(rename = "detail-type")]
        detail_type: String,
        detail: Detail,
    },
    Direct {
        #[serde(rename = "videoId")]
        video_id: String,
    },
}

#[derive(Deserialize)]
struct Detail {
    id: String,
}

/// The video a message asks pictures of, or why it asks nothing.
fn video_of(body: &str) -> Result<VideoId, String> {
    let id = match serde_json::from_str::<Request>(body).map_err(|e| format!("not a request: {e}"))? {
        Request::Event { detail_type, detail }
            if detail_type == "Video Uploaded" || detail_type == "Video Images Requested" =>
        {
            detail.id
        }
        Request::Event { detail_type, .. } => {
            return Err(format!("a {detail_type:?} event asks for no images"));
        }
        Request::Direct { video_id } => video_id,
    };
    id.parse().map_err(|_| format!("{id:?} is not a video id"))
}

/// One SQS batch: every message handled on its own; the reply names those that failed.
pub async fn make_images(app: &impl Imaging, batch: SqsEvent) -> SqsBatchResponse {
    let mut reply = SqsBatchResponse::default();
    for message in batch.records {
        let message_id = message.message_id.clone().unwrap_or_default();
        let id = match video_of(message.body.as_deref().unwrap_or_default()) {
            Ok(id) => id,
            Err(why) => {
                // Kept (it will reach the dead-letter queue) for someone to look at.
                tracing::error!(message_id, why, "a queue message that asks for no images");
                reply.add_failure(message_id);
                continue;
            }
        };
        match uploads::make_images(app, &id).await {
            Ok(ImagesRun::Done(video)) => {
                let status = video.images.as_ref().map(|i| i.status);
                tracing::info!(message_id, video = %id, ?status, "images run ended");
            }
            Ok(ImagesRun::Ignored(why)) => tracing::info!(message_id, video = %id, why, "no images run"),
            Err(e) => {
                tracing::warn!(message_id, video = %id, error = %e, "images run failed; it will come back");
                reply.add_failure(message_id);
            }
        }
    }
    reply
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::images::{Images, ImagesStatus};
    use crate::domain::{Status, Video};
    use crate::store::VideoStore;
    use crate::uploads::frames::memory::{PaintedFrames, Painting};
    use crate::uploads::objects::memory::MemoryObjectStore;
    use crate::uploads::store::memory::MemoryVideoStore;
    use crate::{App, Config};
    use serde_json::json;

    fn batch(bodies: &[String]) -> SqsEvent {
        let records: Vec<serde_json::Value> = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| json!({"messageId": format!("m{i}"), "body": body, "attributes": {}, "messageAttributes": {}}))
            .collect();
        serde_json::from_value(json!({ "Records": records })).unwrap()
    }

    #[tokio::test]
    async fn the_uploaded_event_and_a_direct_request_make_images_and_nonsense_is_kept_for_an_operator() {
        let videos = Arc::new(MemoryVideoStore::new());
        let objects = Arc::new(MemoryObjectStore::new());
        videos.set_unavailable(false);
        let painting = Painting { duration_ms: 10_000, keyframe_ms: 1000, dark_until_ms: 0 };
        let app = App::new(Config::for_tests(), videos.clone(), objects)
            .with_frames(Arc::new(PaintedFrames::new(painting)));
        let mut video = crate::domain::fixtures::video("alice");
        video.status = Status::Uploaded;
        video.media = Some(Box::new(crate::domain::fixtures::media(10_000)));
        video.images = Some(Images::pending());
        videos.insert(&video).await.unwrap();
        let other = Video { id: VideoId::new(), ..video.clone() };
        videos.insert(&other).await.unwrap();

        let envelope = json!({"version": "0", "detail-type": "Video Uploaded", "source": "vidgate",
            "detail": {"id": video.id.to_string(), "status": "uploaded"}});
        let bodies = [
            envelope.to_string(),
            json!({"videoId": other.id.to_string()}).to_string(),
            json!({"detail-type": "Video Deleted", "detail": {"id": video.id.to_string()}}).to_string(),
            "not json".to_string(),
        ];
        let reply = make_images(&app, batch(&bodies)).await;
        let failed: Vec<&str> =
            reply.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(failed, ["m2", "m3"]);
        for id in [video.id, other.id] {
            let images = videos.get(&id).await.unwrap().unwrap().images.unwrap();
            assert_eq!(images.status, ImagesStatus::Ready);
        }
        // The store down: the message comes back.
        videos.set_unavailable(true);
        let reply = make_images(&app, batch(&bodies[..1])).await;
        assert_eq!(reply.batch_item_failures.len(), 1);
    }
}
