//! `GET /v1/uploads/{videoId}/parts`: the list-parts Lambda function. The handler lives in `vidgate::handlers`.

use lambda_http::{Error, run, service_fn};
use vidgate::{App, Config, aws, handlers, http::HttpFunction, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = Config::from_env_for(HttpFunction::ListParts)?;
    let sdk = aws::load().await;
    // DynamoDB and S3: the clients its use cases reach.
    let app = App::dynamodb(config, &sdk).s3(&sdk);
    run(service_fn(|req| handlers::list_parts(&app, req))).await
}
