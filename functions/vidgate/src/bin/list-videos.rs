//! `GET /v1/videos`: the list-videos Lambda function. The handler lives in `vidgate::handlers`.

use lambda_http::{Error, run, service_fn};
use vidgate::{
    aws,
    function::{self, HttpFunction},
    handlers, telemetry,
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = function::config_from_env(HttpFunction::ListVideos)?;
    let sdk = aws::load().await;
    // DynamoDB only: the clients its use cases reach.
    let app = aws::records(config, &sdk);
    run(service_fn(|req| handlers::list_videos(&app, req))).await
}
