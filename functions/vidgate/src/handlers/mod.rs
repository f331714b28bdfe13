//! One module per route, and [`handle`], the entry point every function binary runs.

mod abort_upload;
mod companion;
mod complete_upload;
mod create_playback;
mod create_upload;
mod get_video;
mod issue_credentials;
mod list_parts;
mod list_videos;
mod sign_parts;
mod stream_video;
#[cfg(test)]
pub(crate) mod testing;
mod uppy;
mod view;

use std::convert::Infallible;
use std::time::Instant;

use lambda_http::{Body, Request, Response};

use crate::App;
use crate::domain::{Owner, Status, UploadMethod, Video, VideoId};
use crate::http::request::{request_id, route_key};
use crate::http::routes::{Api, route_for_key};
use crate::http::{ApiError, Function, auth};

pub use view::VideoView;

/// Serves one request for `function`: authenticates, runs the handler, maps errors to JSON and
/// logs one line (request id, route, owner, status, latency; never a token or URL).
pub async fn handle(app: &App, function: Function, req: Request) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let request_id = request_id(&req);
    let owner = auth::owner(&req);
    let result = match (function, &owner) {
        // The stream route has no authorizer: its URL carries a playback token instead.
        (Function::StreamVideo, _) => stream_video::handle(app, &req).await,
        (_, Ok(owner)) => match api_of(&req) {
            Api::Companion => companion::handle(app, function, owner, &req).await,
            Api::Uppy => uppy::handle(app, function, owner, &req).await,
            Api::V1 => dispatch(app, function, owner, &req).await,
        },
        (_, Err(_)) => Err(ApiError::Unauthorized),
    };
    let response = result.unwrap_or_else(|e| e.into_response(&request_id));
    tracing::info!(
        request_id,
        function = function.name(),
        route = route_key(&req),
        owner = owner.as_ref().map(Owner::as_str).unwrap_or("-"),
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    Ok(response)
}

/// Which protocol the route API Gateway matched speaks (`/v1` when it is not in the table).
fn api_of(req: &Request) -> Api {
    route_for_key(&route_key(req)).map_or(Api::V1, |route| route.api)
}

async fn dispatch(
    app: &App,
    function: Function,
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    match function {
        Function::CreateUpload => create_upload::handle(app, owner, req).await,
        Function::SignParts => sign_parts::handle(app, owner, req).await,
        Function::ListParts => list_parts::handle(app, owner, req).await,
        Function::CompleteUpload => complete_upload::handle(app, owner, req).await,
        Function::AbortUpload => abort_upload::handle(app, owner, req).await,
        Function::ListVideos => list_videos::handle(app, owner, req).await,
        Function::GetVideo => get_video::handle(app, owner, req).await,
        Function::CreatePlayback => create_playback::handle(app, owner, req).await,
        Function::IssueCredentials => issue_credentials::handle(app, owner, req).await,
        Function::SignRequest => uppy::sign_request(app, owner, req).await,
        Function::OnObjectCreated | Function::ExpireUploads => {
            Err(ApiError::Internal(format!("{} is not an HTTP function", function.name())))
        }
        Function::StreamVideo => stream_video::handle(app, req).await,
    }
}

/// The caller's own video. Someone else's is as unknown as a missing one.
async fn load_owned(app: &App, owner: &Owner, id: &VideoId) -> Result<Video, ApiError> {
    match app.videos.get(id).await? {
        Some(video) if &video.owner == owner => Ok(video),
        _ => Err(ApiError::NotFound),
    }
}

/// The playback token key. `Config::from_env_for` already refused to start the playback
/// functions without it, so this only fails when a function is wired wrongly.
fn playback_secret(app: &App) -> Result<&str, ApiError> {
    app.config
        .playback_secret
        .as_deref()
        .ok_or_else(|| ApiError::Internal("VIDGATE_PLAYBACK_SECRET is not set".into()))
}

/// The 409 for an operation that needs an upload in progress.
fn not_uploading(status: Status) -> ApiError {
    let (code, message) = match status {
        Status::Uploaded => ("upload_completed", "the upload was already completed"),
        Status::Aborted => ("upload_aborted", "the upload was aborted"),
        Status::Expired => ("upload_expired", "the upload expired before it was completed"),
        Status::Rejected => ("upload_rejected", "the uploaded bytes are not a video"),
        Status::Uploading => ("upload_in_progress", "the upload is still in progress"),
    };
    ApiError::conflict(code, message)
}

/// The server's multipart upload id; credentials-mode uploads have none (their client's SDK runs
/// its own multipart upload).
fn presigned_upload(video: &Video) -> Result<&str, ApiError> {
    video.upload_id.as_deref().ok_or_else(|| match video.method {
        UploadMethod::Put => ApiError::conflict(
            "single_put_upload",
            "this upload is one PUT to its presigned URL and has no parts",
        ),
        UploadMethod::Signed => ApiError::conflict(
            "signed_upload",
            "this upload's client runs S3's multipart API itself: sign its requests with POST /uppy/sign",
        ),
        _ => ApiError::conflict(
            "credentials_upload",
            "this upload uses temporary credentials: upload with an AWS SDK, then complete",
        ),
    })
}

fn require_uploading(video: &Video) -> Result<(), ApiError> {
    match video.status {
        Status::Uploading => Ok(()),
        other => Err(not_uploading(other)),
    }
}
