//! The table's DynamoDB stream → lifecycle events on EventBridge: the publish-events Lambda
//! function. The handler lives in `vidgate::events`.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use lambda_http::{Error, LambdaEvent, lambda_runtime, service_fn};
use vidgate::aws::eventbridge::EventBridgeBus;
use vidgate::{
    aws, events,
    function::{self, EventFunction},
    telemetry,
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = function::config_from_env(EventFunction::PublishEvents)?;
    let sdk = aws::load().await;
    // EventBridge only: the stream records carry the whole item.
    let bus = EventBridgeBus::new(&sdk, config.event_bus.as_deref().unwrap_or_default());
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| async {
        Ok::<DynamoDbEventResponse, Error>(events::publish_events(&bus, &config.bucket, event.payload).await)
    }))
    .await
}
