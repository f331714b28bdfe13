//! `GET|HEAD /v1/videos/{videoId}/stream`: the stream-video Lambda function. The handler lives in `vidgate::handlers`.

use lambda_http::{Error, run, service_fn};
use vidgate::{App, Config, aws, handlers, http::HttpFunction, secrets, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = Config::from_env_for(HttpFunction::StreamVideo)?;
    let sdk = aws::load().await;
    // The playback HMAC key, from Secrets Manager, once.
    let config = secrets::load_playback_secret(config, &sdk).await?;
    // DynamoDB and S3: the clients its use cases reach.
    let app = App::dynamodb(config, &sdk).s3(&sdk);
    run(service_fn(|req| handlers::stream_video(&app, req))).await
}
