//! The scheduled pass over uploads in progress (complete the quiet, expire the overdue): the
//! expire-uploads Lambda function. The handler lives in `vidgate::events`.

use lambda_http::{Error, LambdaEvent, lambda_runtime, service_fn};
use serde_json::Value;
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
    let config = function::config_from_env(EventFunction::ExpireUploads)?;
    let sdk = aws::load().await;
    // DynamoDB and S3: the clients its use cases reach.
    let app = aws::records(config, &sdk).s3(&sdk);
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| events::settle_uploads(&app))).await
}
