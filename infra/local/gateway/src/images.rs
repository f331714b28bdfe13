//! Posters and storyboards, locally, along the template's path: `Video Uploaded` (or `Video
//! Images Requested`) on the bus
//! (moto's) → a rule → an SQS queue with a dead-letter queue → the `make-images` function, fed
//! by [`consume`](crate::notifications::consume) as Lambda's event source mapping feeds it, with
//! ffmpeg from Debian's package (`infra/local/setup` installs it) in place of the layer's.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::json;
use vidgate::App;
use vidgate::ffmpeg::{Ffmpeg, FfmpegConfig};

use crate::lifecycle::route_to_queue;
use crate::notifications::{Delivery, Queues, create_queue, queue_arn, sqs_error};

/// The rule on the local bus that sends `Video Uploaded` and `Video Images Requested` to the
/// images queue.
pub const RULE: &str = "vidgate-local-images";
pub const QUEUE: &str = "vidgate-local-images";
pub const DEAD_LETTER_QUEUE: &str = "vidgate-local-images-dead-letters";
/// How long a delivered request stays invisible: the template's, six times make-images' timeout.
pub const VISIBILITY_SECS: u64 = 1800;

/// Creates the queues and the rule. Safe to run again.
pub async fn ensure_images(sdk: &SdkConfig, bus: &str, delivery: Delivery) -> Result<Queues, String> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let dead_letters = create_queue(&sqs, DEAD_LETTER_QUEUE).await?;
    let events = create_queue(&sqs, QUEUE).await?;
    let redrive = json!({
        "deadLetterTargetArn": queue_arn(&sqs, &dead_letters).await?,
        "maxReceiveCount": delivery.max_receives,
    });
    sqs.set_queue_attributes()
        .queue_url(&events)
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .attributes(QueueAttributeName::VisibilityTimeout, VISIBILITY_SECS.to_string())
        .send()
        .await
        .map_err(|e| sqs_error("setting the images queue's redrive policy", e))?;
    let pattern = json!({
        "source": [vidgate::domain::lifecycle::SOURCE],
        "detail-type": [
            vidgate::domain::lifecycle::Lifecycle::Uploaded.detail_type(),
            vidgate::domain::lifecycle::ImagesLifecycle::Requested.detail_type(),
        ],
    });
    let arn = queue_arn(&sqs, &events).await?;
    route_to_queue(&aws_sdk_eventbridge::Client::new(sdk), bus, RULE, &pattern, "images", &arn).await?;
    Ok(Queues { events, dead_letters })
}

/// The decoder make-images runs with, checked: ffmpeg's version line, or why it can't run.
pub async fn ffmpeg(app: &App, config: FfmpegConfig) -> Result<(Arc<Ffmpeg>, String), String> {
    let ffmpeg = Ffmpeg::new(config, app.objects.clone());
    let version = ffmpeg.version().await.map_err(|e| {
        format!("make-images needs ffmpeg ({e}); infra/local/setup installs it, or set VIDGATE_FFMPEG")
    })?;
    Ok((Arc::new(ffmpeg), version))
}

/// Plays the event source mapping on the images queue, forever: one request per batch, as the
/// template's `BatchSize: 1`.
pub async fn run(app: App, ffmpeg: Arc<Ffmpeg>, sdk: SdkConfig, queues: Queues) {
    let app = app.with_frames(ffmpeg);
    crate::notifications::consume(sdk, queues.events, 1, |event| {
        let app = app.clone();
        async move { vidgate::events::make_images(&app, event).await }
    })
    .await
}
