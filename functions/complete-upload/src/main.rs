//! `POST /v1/uploads/{videoId}/complete`: the complete-upload Lambda function. The handler lives in `vidgate::handlers`.

use lambda_http::{Error, run, service_fn};
use vidgate::{App, Config, aws, handlers, http::Function, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = Config::from_env_for(Function::CompleteUpload)?;
    let app = App::from_sdk(config, &aws::load().await);
    run(service_fn(|req| handlers::handle(&app, Function::CompleteUpload, req))).await
}
