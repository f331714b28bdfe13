//! Lifecycle events queued for the app's webhook, in SQS batches: signed (Standard Webhooks) and
//! POSTed by the deliver-webhooks Lambda function. The handler lives in `vidgate::events`.

use lambda_http::aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::{Error, LambdaEvent, lambda_runtime, service_fn};
use vidgate::aws::webhook::{HttpReceiver, ManagedSecrets, SqsDeliveryQueue};
use vidgate::uploads::webhooks::{Webhook, WebhookConfig};
use vidgate::{aws, events, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = WebhookConfig::from_env(|name| std::env::var(name).ok())?;
    let sdk = aws::load().await;
    // No table, no bucket: the queue, the secret and the receiver.
    let webhook = Webhook {
        receiver: HttpReceiver::new(&config.url)?,
        secrets: ManagedSecrets::new(&sdk, &config.secret_name),
        queue: SqsDeliveryQueue::new(&sdk, &config.queue, &config.dead_letters),
        retry: config.retry,
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        Ok::<SqsBatchResponse, Error>(events::deliver_webhooks(&webhook, event.payload).await)
    }))
    .await
}
