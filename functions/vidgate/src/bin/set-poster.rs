//! `POST /v1/videos/{videoId}/poster`: the set-poster Lambda function. The handler lives in
//! `vidgate::handlers`; make-images hears of the request from the table's stream.

use lambda_http::{Error, run, service_fn};
use vidgate::{
    aws,
    function::{self, HttpFunction},
    handlers, telemetry,
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = function::config_from_env(HttpFunction::SetPoster)?;
    let sdk = aws::load().await;
    // DynamoDB only: the clients its use cases reach.
    let app = aws::records(config, &sdk);
    run(service_fn(|req| handlers::set_poster(&app, req))).await
}
