//! Requests for a video's poster and storyboard, in SQS batches: the make-images Lambda function.
//! The handler lives in `vidgate::events`; ffmpeg comes from the function's layer.

use std::sync::Arc;

use lambda_http::aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::{Error, LambdaEvent, lambda_runtime, service_fn};
use vidgate::ffmpeg::{Ffmpeg, FfmpegConfig};
use vidgate::{
    aws,
    aws::AwsApp,
    events,
    function::{self, EventFunction},
    telemetry,
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let config = function::config_from_env(EventFunction::MakeImages)?;
    let bounds = FfmpegConfig::from_env(|name| std::env::var(name).ok())?;
    let sdk = aws::load().await;
    // DynamoDB and S3, and ffmpeg reading S3 through the same client.
    let app = aws::records(config, &sdk).s3(&sdk);
    let ffmpeg = Ffmpeg::new(bounds, app.objects.clone());
    tracing::info!(version = ffmpeg.version().await?, "ffmpeg");
    let app = app.with_frames(Arc::new(ffmpeg));
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        Ok::<SqsBatchResponse, Error>(events::make_images(&app, event.payload).await)
    }))
    .await
}
