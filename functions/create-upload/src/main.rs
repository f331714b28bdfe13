//! `POST /v1/uploads`: the create-upload Lambda function. The handler lives in `vidgate::handlers`.

use lambda_http::{Error, run, service_fn};
use vidgate::{App, Config, aws, handlers, http::HttpFunction, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = Config::from_env_for(HttpFunction::CreateUpload)?;
    let sdk = aws::load().await;
    // DynamoDB, S3 and STS: the clients its use cases reach.
    let app = App::dynamodb(config, &sdk).s3(&sdk).sts(&sdk);
    run(service_fn(|req| handlers::create_upload(&app, req))).await
}
