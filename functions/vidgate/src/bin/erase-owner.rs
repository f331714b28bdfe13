//! The operator's erasure of one owner's videos: the erase-owner Lambda function, invoked by hand
//! with `{"owner": "<sub>", "limit": 500}`. The handler lives in `vidgate::events`.

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
    let config = function::config_from_env(EventFunction::EraseOwner)?;
    let sdk = aws::load().await;
    // DynamoDB and S3: the clients delete reaches.
    let app = aws::records(config, &sdk).s3(&sdk);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| events::erase_owner(&app, event.payload)))
        .await
}
