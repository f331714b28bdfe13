//! The scheduled sweeper of abandoned uploads: the expire-uploads Lambda function. The handler
//! lives in `vidgate::events`.

use lambda_http::{Error, LambdaEvent, lambda_runtime, service_fn};
use serde_json::Value;
use vidgate::{App, Config, aws, events, http::Function, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = Config::from_env_for(Function::ExpireUploads)?;
    let app = App::from_sdk(config, &aws::load().await);
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| events::expire_uploads(&app))).await
}
