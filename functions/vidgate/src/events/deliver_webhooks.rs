//! `deliver-webhooks`: the events the bus's rule queued for the app's webhook, in SQS batches,
//! each signed and POSTed by [`Webhook::handle`] (see [`crate::uploads::webhooks`] for what is
//! retried and what is dead-lettered). The deliveries of a batch run at once, so one slow
//! receiver reply doesn't hold the others; the reply names the messages that must come back.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};

use crate::domain::time;
use crate::uploads::webhooks::{DeliveryQueue, Receiver, SecretSource, Webhook};

/// How many times SQS has handed this message out, this time included.
fn attempt(message: &SqsMessage) -> u32 {
    message.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse().ok()).unwrap_or(1)
}

/// One SQS batch.
pub async fn deliver_webhooks<R, S, Q>(webhook: &Webhook<R, S, Q>, batch: SqsEvent) -> SqsBatchResponse
where
    R: Receiver,
    S: SecretSource,
    Q: DeliveryQueue,
{
    let now = time::now();
    let handled = batch.records.iter().map(|message| async move {
        let done = webhook
            .handle(
                message.body.as_deref().unwrap_or_default(),
                message.receipt_handle.as_deref().unwrap_or_default(),
                attempt(message),
                now,
            )
            .await;
        (!done).then(|| message.message_id.clone().unwrap_or_default())
    });
    let mut reply = SqsBatchResponse::default();
    for failed in futures::future::join_all(handled).await.into_iter().flatten() {
        reply.add_failure(failed);
    }
    reply
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use async_trait::async_trait;

    use super::*;
    use crate::domain::webhook::WebhookSecrets;
    use crate::uploads::webhooks::{RetryPolicy, SignedDelivery};

    /// Answers by the event's `detail.answer`.
    struct ByDetail;

    #[async_trait]
    impl Receiver for ByDetail {
        async fn post(&self, delivery: &SignedDelivery) -> Result<u16, String> {
            let event: serde_json::Value = serde_json::from_str(&delivery.body).unwrap();
            Ok(event["detail"]["answer"].as_u64().unwrap() as u16)
        }
    }

    #[derive(Default)]
    struct Queue {
        waits: Mutex<Vec<(String, Duration)>>,
        dead: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl DeliveryQueue for &Queue {
        async fn retry_in(&self, receipt: &str, wait: Duration) -> Result<(), String> {
            self.waits.lock().unwrap().push((receipt.to_owned(), wait));
            Ok(())
        }
        async fn dead_letter(&self, body: &str) -> Result<(), String> {
            self.dead.lock().unwrap().push(body.to_owned());
            Ok(())
        }
    }

    fn message(n: u32, answer: u16, receives: u32) -> serde_json::Value {
        let body = serde_json::json!({
            "id": format!("event-{n}"), "time": time::now(), "source": "vidgate",
            "detail-type": "Video Uploaded", "detail": {"answer": answer}
        });
        serde_json::json!({
            "messageId": format!("m{n}"), "receiptHandle": format!("r{n}"), "body": body.to_string(),
            "attributes": {"ApproximateReceiveCount": receives.to_string()},
            "messageAttributes": {}, "eventSource": "aws:sqs"
        })
    }

    #[tokio::test]
    async fn a_batch_names_the_retried_deliveries_and_dead_letters_the_refused_ones() {
        let queue = Queue::default();
        let webhook = Webhook {
            receiver: ByDetail,
            secrets: WebhookSecrets::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
            queue: &queue,
            retry: RetryPolicy::default(),
        };
        let batch: SqsEvent = serde_json::from_value(serde_json::json!({
            "Records": [message(1, 204, 1), message(2, 503, 3), message(3, 404, 1)]
        }))
        .unwrap();
        let reply = deliver_webhooks(&webhook, batch).await;
        let failed: Vec<&str> =
            reply.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(failed, ["m2"]);
        let waits = queue.waits.lock().unwrap();
        assert_eq!(waits.len(), 1);
        assert_eq!(waits[0].0, "r2");
        // The third receive waits 4 s (plus at most a fifth).
        assert!((4..=5).contains(&waits[0].1.as_secs()), "{waits:?}");
        let dead = queue.dead.lock().unwrap();
        assert_eq!(dead.len(), 1);
        assert!(dead[0].contains("event-3"), "{dead:?}");
    }
}
