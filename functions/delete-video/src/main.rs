//! `DELETE /v1/videos/{videoId}`: the delete-video Lambda function. The handler lives in `vidgate::handlers`.

use lambda_http::{Error, run, service_fn};
use vidgate::{App, Config, aws, handlers, http::HttpFunction, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = Config::from_env_for(HttpFunction::DeleteVideo)?;
    let sdk = aws::load().await;
    // DynamoDB and S3: the clients its use cases reach.
    let app = App::dynamodb(config, &sdk).s3(&sdk);
    run(service_fn(|req| handlers::delete_video(&app, req))).await
}
