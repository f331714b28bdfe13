//! S3 event notifications, locally: the local S3 notifies an SQS queue (in moto) of every
//! `ObjectCreated`, and a pump hands each notification to the `on-object-created` function, as S3
//! invokes it in AWS. Without it, uploads that never call complete (a single presigned `PUT`, or an
//! SDK upload with `/s3/sts` credentials) would stay `uploading` locally.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_lambda_events::event::s3::S3Event;
use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
use aws_sdk_sqs::types::QueueAttributeName;
use vidgate::App;

/// The queue the local S3 sends the bucket's `ObjectCreated` events to.
pub const QUEUE: &str = "vidgate-local-object-created";

/// Creates the queue and points the bucket's `ObjectCreated:*` notifications at it; returns the
/// queue URL. Safe to run again.
pub async fn ensure_notifications(sdk: &SdkConfig, bucket: &str) -> Result<String, String> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let url = sqs
        .create_queue()
        .queue_name(QUEUE)
        .send()
        .await
        .map_err(|e| format!("creating queue {QUEUE}: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))?
        .queue_url
        .ok_or("CreateQueue returned no URL")?;
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| format!("reading queue {QUEUE}: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
    let arn = attributes
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or("the queue has no ARN")?;

    let s3 = crate::bootstrap::s3_client(sdk);
    let queue = QueueConfiguration::builder()
        .id("vidgate-object-created")
        .queue_arn(arn)
        .events(Event::from("s3:ObjectCreated:*"))
        .build()
        .map_err(|e| e.to_string())?;
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(NotificationConfiguration::builder().queue_configurations(queue).build())
        .send()
        .await
        .map_err(|e| format!("notifications of {bucket}: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
    Ok(url)
}

/// Hands every notification on `queue_url` to `on-object-created`, forever. A notification is
/// deleted once handled; one that failed (store or S3 unavailable) comes back after the queue's
/// visibility timeout, as Lambda retries a failed S3 invocation.
pub async fn pump(app: App, sdk: SdkConfig, queue_url: String) {
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await;
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "reading S3 notifications");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for message in messages {
            let handled = match serde_json::from_str::<S3Event>(message.body().unwrap_or_default()) {
                // S3's `s3:TestEvent` (sent when notifications are configured) is no S3Event.
                Err(e) => {
                    tracing::debug!(error = %e, body = message.body().unwrap_or_default(), "not an S3 event");
                    true
                }
                Ok(event) => match vidgate::events::on_object_created(&app, event).await {
                    Ok(reports) => {
                        tracing::debug!(?reports, "S3 notification handled");
                        true
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "on-object-created failed; the notification will come back");
                        false
                    }
                },
            };
            if handled
                && let Some(receipt) = message.receipt_handle()
                && let Err(e) =
                    sqs.delete_message().queue_url(&queue_url).receipt_handle(receipt).send().await
            {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "deleting a notification");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_events_are_not_s3_events() {
        assert!(
            serde_json::from_str::<S3Event>(r#"{"Service": "Amazon S3", "Event": "s3:TestEvent"}"#).is_err()
        );
    }
}
