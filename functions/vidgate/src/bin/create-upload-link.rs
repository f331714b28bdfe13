//! `POST /v1/upload-links`: the create-upload-link Lambda function, for an app's backend. The
//! handler lives in `vidgate::handlers`.

use lambda_http::{Error, run, service_fn};
use vidgate::{
    aws,
    function::{self, HttpFunction},
    handlers, telemetry,
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = function::config_from_env(HttpFunction::CreateUploadLink)?;
    let sdk = aws::load().await;
    // DynamoDB only: a link is a record; S3 is reached when its holder starts the upload.
    let app = aws::records(config, &sdk);
    run(service_fn(|req| handlers::create_upload_link(&app, req))).await
}
