//! S3 `ObjectCreated` notifications, in SQS batches: the on-object-created Lambda function. The
//! handler lives in `vidgate::events`.

use lambda_http::aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::{Error, LambdaEvent, lambda_runtime, service_fn};
use vidgate::{
    aws,
    aws::AwsApp,
    events,
    function::{self, EventFunction},
    telemetry,
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = function::config_from_env(EventFunction::OnObjectCreated)?;
    let sdk = aws::load().await;
    // DynamoDB and S3: the clients its use cases reach.
    let app = aws::records(config, &sdk).s3(&sdk);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        Ok::<SqsBatchResponse, Error>(events::on_object_created(&app, event.payload).await)
    }))
    .await
}
