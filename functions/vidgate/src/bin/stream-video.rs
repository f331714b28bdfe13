//! `GET|HEAD /v1/videos/{videoId}/stream`: the stream-video Lambda function. The handler lives in `vidgate::handlers`.

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
    let config = function::config_from_env(HttpFunction::StreamVideo)?;
    let sdk = aws::load().await;
    // The playback HMAC key, from Secrets Manager, once.
    let config = aws::secrets::load_playback_secret(config, &sdk).await?;
    // DynamoDB and S3: the clients its use cases reach.
    let app = aws::records(config, &sdk).s3(&sdk);
    run(service_fn(|req| handlers::stream_video(&app, req))).await
}
