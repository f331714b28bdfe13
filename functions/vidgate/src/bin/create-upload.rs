//! `POST /v1/uploads`: the create-upload Lambda function. The handler lives in `vidgate::handlers`.

use lambda_http::{Error, run, service_fn};
use vidgate::{
    aws,
    aws::AwsApp,
    function::{self, HttpFunction},
    handlers, telemetry,
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = function::config_from_env(HttpFunction::CreateUpload)?;
    let sdk = aws::load().await;
    // URLs live their whole TTL when a dedicated key signs them (the template's `UrlSigner`).
    let config = aws::secrets::load_signing_key(config, &sdk).await?;
    // DynamoDB, S3 and STS: the clients its use cases reach.
    let app = aws::records(config, &sdk).s3(&sdk).sts(&sdk);
    run(service_fn(|req| handlers::create_upload(&app, req))).await
}
