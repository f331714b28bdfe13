//! `POST /v1/videos/{videoId}/playback`: the create-playback Lambda function. The handler lives in `vidgate::handlers`.

use lambda_http::{Error, run, service_fn};
use vidgate::{
    aws,
    function::{self, HttpFunction},
    handlers, telemetry,
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = function::config_from_env(HttpFunction::CreatePlayback)?;
    let sdk = aws::load().await;
    // The playback HMAC key, from Secrets Manager, once.
    let config = aws::secrets::load_playback_secret(config, &sdk).await?;
    // The CDN's signing key, from Secrets Manager, once.
    let signer = aws::cdn::load_signer(&config, &sdk).await?;
    // DynamoDB only: the clients its use cases reach.
    let app = aws::records(config, &sdk).with_cdn(signer);
    run(service_fn(|req| handlers::create_playback(&app, req))).await
}
