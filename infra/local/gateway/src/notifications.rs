//! S3 event notifications, locally, as the template deploys them: the local S3 notifies an SQS
//! queue (moto's) of every `ObjectCreated`; a pump plays Lambda's event source mapping, handing
//! batches of up to 10 messages to the `on-object-created` function in the very SQS event shape
//! Lambda sends, and deleting all but the messages the function names as failed
//! (`ReportBatchItemFailures`). A failed message comes back after the visibility timeout; after
//! `max_receives` deliveries SQS moves it to the dead-letter queue, from which [`redrive`] replays
//! it (what `aws sqs start-message-move-task` does in AWS).

use std::time::Duration;

use aws_config::SdkConfig;
use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use vidgate::App;

/// The queue the local S3 sends the bucket's `ObjectCreated` events to, and its dead-letter queue.
pub const QUEUE: &str = "vidgate-local-object-created";
pub const DEAD_LETTER_QUEUE: &str = "vidgate-local-object-created-dead-letters";

/// The queue's delivery rules: the template's by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Deliveries before a message moves to the dead-letter queue (`EventMaxReceives`).
    pub max_receives: u32,
    /// How long a delivered message stays invisible before it comes back (the template's 90 s:
    /// six times the function's timeout).
    pub visibility: Duration,
}

impl Default for Delivery {
    fn default() -> Self {
        Self { max_receives: vidgate::events::MAX_RECEIVES, visibility: Duration::from_secs(90) }
    }
}

impl Delivery {
    /// The defaults, or `VIDGATE_EVENT_MAX_RECEIVES` / `VIDGATE_EVENT_VISIBILITY_SECS`.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let number = |name: &str, default: u64| -> Result<u64, String> {
            get(name).map_or(Ok(default), |raw| {
                raw.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{name}={raw:?} is not a positive whole number"))
            })
        };
        let default = Self::default();
        Ok(Self {
            max_receives: number("VIDGATE_EVENT_MAX_RECEIVES", u64::from(default.max_receives))?.min(1000)
                as u32,
            visibility: Duration::from_secs(
                number("VIDGATE_EVENT_VISIBILITY_SECS", default.visibility.as_secs())?.min(43_200),
            ),
        })
    }
}

/// The two queues' URLs.
#[derive(Clone, Debug)]
pub struct Queues {
    pub events: String,
    pub dead_letters: String,
}

pub(crate) fn sqs_error(what: &str, e: impl std::error::Error + 'static) -> String {
    format!("{what}: {}", aws_sdk_sqs::error::DisplayErrorContext(e))
}

pub(crate) async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String, String> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sqs_error("reading a queue's ARN", e))?;
    attributes
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| "the queue has no ARN".into())
}

/// Creates the queue `name` (or finds it: creating is idempotent in SQS); returns its URL.
pub(crate) async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> Result<String, String> {
    sqs.create_queue()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| sqs_error(&format!("creating queue {name}"), e))?
        .queue_url
        .ok_or_else(|| format!("CreateQueue {name} returned no URL"))
}

/// Creates both queues with `delivery`'s rules and points the bucket's `ObjectCreated:*`
/// notifications at the first. Safe to run again.
pub async fn ensure_notifications(
    sdk: &SdkConfig,
    bucket: &str,
    delivery: Delivery,
) -> Result<Queues, String> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let dead_letters = create_queue(&sqs, DEAD_LETTER_QUEUE).await?;
    let events = create_queue(&sqs, QUEUE).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": queue_arn(&sqs, &dead_letters).await?,
        "maxReceiveCount": delivery.max_receives,
    });
    sqs.set_queue_attributes()
        .queue_url(&events)
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .attributes(QueueAttributeName::VisibilityTimeout, delivery.visibility.as_secs().to_string())
        .send()
        .await
        .map_err(|e| sqs_error("setting the event queue's redrive policy", e))?;

    let s3 = crate::bootstrap::s3_client(sdk);
    let queue = QueueConfiguration::builder()
        .id("vidgate-object-created")
        .queue_arn(queue_arn(&sqs, &events).await?)
        .events(Event::from("s3:ObjectCreated:*"))
        .build()
        .map_err(|e| e.to_string())?;
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(NotificationConfiguration::builder().queue_configurations(queue).build())
        .send()
        .await
        .map_err(|e| format!("notifications of {bucket}: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
    Ok(Queues { events, dead_letters })
}

/// The batch Lambda's event source mapping would deliver for these messages.
fn sqs_event(
    messages: &[aws_sdk_sqs::types::Message],
    queue_arn: &str,
) -> Result<SqsEvent, serde_json::Error> {
    let records: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, serde_json::Value> = m
                .attributes()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str().to_owned(), serde_json::Value::String(v.clone())))
                .collect();
            serde_json::json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "md5OfBody": m.md5_of_body(),
                "attributes": attributes,
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": queue_arn.split(':').nth(3).unwrap_or("us-east-1"),
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records }))
}

/// Plays the event source mapping on `queues.events`, forever: receives up to 10 messages, runs
/// `on-object-created` on them as one batch, deletes those it did not name as failed.
pub async fn pump(app: App, sdk: SdkConfig, queues: Queues) {
    consume(sdk, queues.events, 10, |event| {
        let app = app.clone();
        async move { vidgate::events::on_object_created(&app, event).await }
    })
    .await
}

/// Plays an SQS event source mapping on `queue`, forever: receives up to `batch` messages, hands
/// them to `function` as one batch, deletes those it did not name as failed (the rest come back
/// after the visibility timeout, and after the redrive policy's count go to the dead-letter
/// queue, as in AWS).
pub async fn consume<F, Fut>(sdk: SdkConfig, queue: String, batch: i32, function: F)
where
    F: Fn(SqsEvent) -> Fut,
    Fut: std::future::Future<Output = aws_lambda_events::event::sqs::SqsBatchResponse>,
{
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let arn = loop {
        match queue_arn(&sqs, &queue).await {
            Ok(arn) => break arn,
            Err(e) => {
                tracing::warn!(error = e, queue, "reading a queue");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(batch)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await;
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), queue, "reading a queue");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let event = match sqs_event(&messages, &arn) {
            Ok(event) => event,
            Err(e) => {
                tracing::error!(error = %e, "building the SQS event");
                continue;
            }
        };
        let reply = function(event).await;
        for message in &messages {
            let failed = reply
                .batch_item_failures
                .iter()
                .any(|f| Some(f.item_identifier.as_str()) == message.message_id());
            if failed {
                continue;
            }
            if let Some(receipt) = message.receipt_handle()
                && let Err(e) = sqs.delete_message().queue_url(&queue).receipt_handle(receipt).send().await
            {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), queue, "deleting a message");
            }
        }
    }
}

/// Moves every message of the dead-letter queue back to the event queue (what
/// `aws sqs start-message-move-task --source-arn <dead-letter queue>` does in AWS); returns how
/// many.
pub async fn redrive(sdk: &SdkConfig, queues: &Queues) -> Result<usize, String> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut moved = 0;
    loop {
        let out = sqs
            .receive_message()
            .queue_url(&queues.dead_letters)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .send()
            .await
            .map_err(|e| sqs_error("reading the dead-letter queue", e))?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(moved);
        }
        for message in messages {
            sqs.send_message()
                .queue_url(&queues.events)
                .message_body(message.body().unwrap_or_default())
                .send()
                .await
                .map_err(|e| sqs_error("replaying a dead letter", e))?;
            if let Some(receipt) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(&queues.dead_letters)
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .map_err(|e| sqs_error("deleting a replayed dead letter", e))?;
            }
            moved += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_defaults_are_the_templates_and_yield_to_the_environment() {
        assert_eq!(Delivery::from_env(|_| None).unwrap(), Delivery::default());
        assert_eq!(Delivery::default().max_receives, vidgate::events::MAX_RECEIVES);
        let set = Delivery::from_env(|n| (n == "VIDGATE_EVENT_MAX_RECEIVES").then(|| "2".into())).unwrap();
        assert_eq!(set.max_receives, 2);
        assert!(Delivery::from_env(|n| (n == "VIDGATE_EVENT_VISIBILITY_SECS").then(|| "0".into())).is_err());
    }
}
