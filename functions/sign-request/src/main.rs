//! `POST /uppy/sign`: the sign-request Lambda function (Uppy 6's `signRequest`). The handler lives in `vidgate::handlers`.

use lambda_http::{Error, run, service_fn};
use vidgate::{App, Config, aws, handlers, http::HttpFunction, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = Config::from_env_for(HttpFunction::SignRequest)?;
    let sdk = aws::load().await;
    // DynamoDB and S3: the clients its use cases reach.
    let app = App::dynamodb(config, &sdk).s3(&sdk);
    run(service_fn(|req| handlers::sign_request(&app, req))).await
}
