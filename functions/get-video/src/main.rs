//! `GET /v1/videos/{videoId}`: the get-video Lambda function. The handler lives in `vidgate::handlers`.

use lambda_http::{Error, run, service_fn};
use vidgate::{App, Config, aws, handlers, http::HttpFunction, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = Config::from_env_for(HttpFunction::GetVideo)?;
    let sdk = aws::load().await;
    // DynamoDB only: the clients its use cases reach.
    let app = App::dynamodb(config, &sdk);
    run(service_fn(|req| handlers::get_video(&app, req))).await
}
