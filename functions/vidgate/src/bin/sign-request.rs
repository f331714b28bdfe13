//! `POST /uppy/sign`: the sign-request Lambda function (Uppy 6's `signRequest`). The handler lives in `vidgate::handlers`.

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
    let config = function::config_from_env(HttpFunction::SignRequest)?;
    let sdk = aws::load().await;
    // URLs live their whole TTL when a dedicated key signs them (the template's `UrlSigner`).
    let config = aws::secrets::load_signing_key(config, &sdk).await?;
    // DynamoDB and S3: the clients its use cases reach.
    let app = aws::records(config, &sdk).s3(&sdk);
    run(service_fn(|req| handlers::sign_request(&app, req))).await
}
