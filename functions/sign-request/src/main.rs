//! `POST /uppy/sign`: the sign-request Lambda function (Uppy 6's `signRequest`). The handler lives in `vidgate::handlers`.

use lambda_http::{Error, run, service_fn};
use vidgate::{App, Config, aws, handlers, http::Function, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = Config::from_env_for(Function::SignRequest)?;
    let app = App::from_sdk(config, &aws::load().await);
    run(service_fn(|req| handlers::handle(&app, Function::SignRequest, req))).await
}
