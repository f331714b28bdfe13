//! The HTTP edge: one entry per function ([`create_upload`], [`get_video`], …), which is what
//! that function's binary runs, and [`handle`], which runs any of them (the local gateway, tests).
//!
//! An entry authenticates, picks the operation from the route API Gateway matched, runs one
//! translator module and maps errors to JSON. Translators (`/v1` route files, `companion`,
//! `uppy`) turn requests into use-case calls ([`crate::uploads`]) and results into replies;
//! none imports another.

mod abort_upload;
mod companion;
mod complete_upload;
mod create_playback;
mod create_upload;
mod delete_video;
mod get_video;
mod images;
mod issue_credentials;
mod links;
mod list_parts;
mod list_videos;
mod set_poster;
mod sign_parts;
mod stream_video;
#[cfg(test)]
pub(crate) mod testing;
mod uppy;

use std::convert::Infallible;
use std::time::Instant;

use lambda_http::{Body, Request, RequestExt, Response};

use crate::App;
use crate::app::{Credentials, Objects, Records};
use crate::domain::playback::{self, Scope};
use crate::domain::time::Timestamp;
use crate::domain::{Owner, Video, VideoId, cdn, keys};
use crate::http::request::{request_id, route_key};
use crate::http::routes::{Auth, Operation, operation_for};
use crate::http::{ApiError, HttpFunction, auth};

/// Serves `req` with the entry of `function`, on an app that has every port.
pub async fn handle(app: &App, function: HttpFunction, req: Request) -> Result<Response<Body>, Infallible> {
    match function {
        HttpFunction::CreateUpload => create_upload(app, req).await,
        HttpFunction::SignParts => sign_parts(app, req).await,
        HttpFunction::ListParts => list_parts(app, req).await,
        HttpFunction::CompleteUpload => complete_upload(app, req).await,
        HttpFunction::AbortUpload => abort_upload(app, req).await,
        HttpFunction::ListVideos => list_videos(app, req).await,
        HttpFunction::GetVideo => get_video(app, req).await,
        HttpFunction::DeleteVideo => delete_video(app, req).await,
        HttpFunction::StreamVideo => stream_video(app, req).await,
        HttpFunction::CreatePlayback => create_playback(app, req).await,
        HttpFunction::SetPoster => set_poster(app, req).await,
        HttpFunction::IssueCredentials => issue_credentials(app, req).await,
        HttpFunction::SignRequest => sign_request(app, req).await,
        HttpFunction::CreateUploadLink => create_upload_link(app, req).await,
    }
}

/// `POST /v1/uploads`, `POST /s3/multipart`, `GET /s3/params`, `POST /v1/links/{token}/upload`.
pub async fn create_upload(
    app: &(impl Objects + Credentials),
    req: Request,
) -> Result<Response<Body>, Infallible> {
    let link = async |_, req: &Request| {
        let link = links::open(app, req).await?;
        create_upload::start_by_link(app, &link, req).await
    };
    serve_linked(HttpFunction::CreateUpload, req, link, async |operation, owner, req| match operation {
        Operation::CompanionParams => companion::params(app, owner, req).await,
        Operation::CompanionCreateMultipart => companion::create_multipart(app, owner, req).await,
        _ => create_upload::handle(app, owner, req).await,
    })
    .await
}

/// `POST /v1/uploads/{videoId}/part-urls`, `GET /s3/multipart/{uploadId}/{partNumber}` and `/batch`,
/// `POST /v1/links/{token}/part-urls`.
pub async fn sign_parts(app: &impl Objects, req: Request) -> Result<Response<Body>, Infallible> {
    let link = async |_, req: &Request| {
        let video = links::video(app, req).await?;
        sign_parts::sign(app, &video, req).await
    };
    serve_linked(HttpFunction::SignParts, req, link, async |operation, owner, req| match operation {
        Operation::CompanionSignParts => companion::sign_parts(app, owner, req).await,
        _ => sign_parts::handle(app, owner, req).await,
    })
    .await
}

/// `GET /v1/uploads/{videoId}/parts`, `GET /s3/multipart/{uploadId}`.
pub async fn list_parts(app: &impl Objects, req: Request) -> Result<Response<Body>, Infallible> {
    serve(HttpFunction::ListParts, req, async |operation, owner, req| match operation {
        Operation::CompanionListParts => companion::list_parts(app, owner, req).await,
        _ => list_parts::handle(app, owner, req).await,
    })
    .await
}

/// `POST /v1/uploads/{videoId}/complete`, `POST /s3/multipart/{uploadId}/complete`,
/// `POST /v1/links/{token}/complete`.
pub async fn complete_upload(app: &impl Objects, req: Request) -> Result<Response<Body>, Infallible> {
    let link = async |_, req: &Request| {
        let video = links::video(app, req).await?;
        complete_upload::complete(app, video, req).await
    };
    serve_linked(HttpFunction::CompleteUpload, req, link, async |operation, owner, req| match operation {
        Operation::CompanionComplete => companion::complete(app, owner, req).await,
        _ => complete_upload::handle(app, owner, req).await,
    })
    .await
}

/// `DELETE /v1/uploads/{videoId}`, `DELETE /s3/multipart/{uploadId}`.
pub async fn abort_upload(app: &impl Objects, req: Request) -> Result<Response<Body>, Infallible> {
    serve(HttpFunction::AbortUpload, req, async |operation, owner, req| match operation {
        Operation::CompanionAbort => companion::abort(app, owner, req).await,
        _ => abort_upload::handle(app, owner, req).await,
    })
    .await
}

/// `GET /v1/videos`.
pub async fn list_videos(app: &impl Records, req: Request) -> Result<Response<Body>, Infallible> {
    serve(HttpFunction::ListVideos, req, async |_, owner, req| list_videos::handle(app, owner, req).await)
        .await
}

/// `GET /v1/videos/{videoId}`, `GET /v1/links/{token}`.
pub async fn get_video(app: &impl Records, req: Request) -> Result<Response<Body>, Infallible> {
    let link = async |_, req: &Request| links::get(app, req).await;
    serve_linked(HttpFunction::GetVideo, req, link, async |_, owner, req| {
        get_video::handle(app, owner, req).await
    })
    .await
}

/// `POST /v1/upload-links`: an app's backend (the authorizer checked the scope; so does the
/// handler).
pub async fn create_upload_link(app: &impl Records, req: Request) -> Result<Response<Body>, Infallible> {
    serve(HttpFunction::CreateUploadLink, req, async |_, backend, req| links::create(app, backend, req).await)
        .await
}

/// `DELETE /v1/videos/{videoId}`.
pub async fn delete_video(app: &impl Objects, req: Request) -> Result<Response<Body>, Infallible> {
    serve(HttpFunction::DeleteVideo, req, async |_, owner, req| delete_video::handle(app, owner, req).await)
        .await
}

/// `GET|HEAD /v1/videos/{videoId}/stream`, `GET /v1/videos/{videoId}/images/{name}`: no
/// authorizer, the URL carries a playback (or images) token.
pub async fn stream_video(app: &impl Objects, req: Request) -> Result<Response<Body>, Infallible> {
    serve_public(HttpFunction::StreamVideo, req, async |operation, req| match operation {
        Operation::GetImage => images::image(app, req).await,
        _ => stream_video::handle(app, req).await,
    })
    .await
}

/// `POST /v1/videos/{videoId}/playback` (JWT), `GET /v1/videos/{videoId}/storyboard.vtt` (an
/// images token: a player fetches it).
pub async fn create_playback(app: &impl Records, req: Request) -> Result<Response<Body>, Infallible> {
    respond(HttpFunction::CreatePlayback, req, async |operation, owner, req| match (operation, owner) {
        (Operation::GetStoryboard, _) => images::storyboard(app, req).await,
        (_, Some(owner)) => create_playback::handle(app, owner, req).await,
        (_, None) => Err(ApiError::Unauthorized),
    })
    .await
}

/// `POST /v1/videos/{videoId}/poster`.
pub async fn set_poster(app: &impl Records, req: Request) -> Result<Response<Body>, Infallible> {
    serve(HttpFunction::SetPoster, req, async |_, owner, req| set_poster::handle(app, owner, req).await).await
}

/// `POST /v1/uploads/{videoId}/credentials`, `GET /s3/sts`, `GET /uppy/credentials`.
pub async fn issue_credentials(
    app: &(impl Objects + Credentials),
    req: Request,
) -> Result<Response<Body>, Infallible> {
    serve(HttpFunction::IssueCredentials, req, async |operation, owner, req| match operation {
        Operation::CompanionSts => companion::sts(app, owner).await,
        Operation::UppyCredentials => uppy::credentials(app, owner).await,
        _ => issue_credentials::handle(app, owner, req).await,
    })
    .await
}

/// `POST /uppy/sign`.
pub async fn sign_request(app: &impl Objects, req: Request) -> Result<Response<Body>, Infallible> {
    serve(HttpFunction::SignRequest, req, async |_, owner, req| uppy::sign_request(app, owner, req).await)
        .await
}

/// Serves a JWT route: a request without the authorizer's claims is 401 before anything runs.
async fn serve(
    function: HttpFunction,
    req: Request,
    run: impl AsyncFnOnce(Operation, &Owner, &Request) -> Result<Response<Body>, ApiError>,
) -> Result<Response<Body>, Infallible> {
    respond(function, req, async |operation, owner, req| match owner {
        Some(owner) => run(operation, owner, req).await,
        None => Err(ApiError::Unauthorized),
    })
    .await
}

/// Serves a function with JWT routes and upload-link routes ([`Auth::LinkToken`], no authorizer:
/// the handler checks the path's token).
async fn serve_linked(
    function: HttpFunction,
    req: Request,
    link: impl AsyncFnOnce(Operation, &Request) -> Result<Response<Body>, ApiError>,
    run: impl AsyncFnOnce(Operation, &Owner, &Request) -> Result<Response<Body>, ApiError>,
) -> Result<Response<Body>, Infallible> {
    respond(function, req, async |operation, owner, req| match (operation.auth(), owner) {
        (Auth::LinkToken, _) => link(operation, req).await,
        (_, Some(owner)) => run(operation, owner, req).await,
        (_, None) => Err(ApiError::Unauthorized),
    })
    .await
}

/// Serves routes without an authorizer ([`Auth::PlaybackToken`]: the handler checks the token).
async fn serve_public(
    function: HttpFunction,
    req: Request,
    run: impl AsyncFnOnce(Operation, &Request) -> Result<Response<Body>, ApiError>,
) -> Result<Response<Body>, Infallible> {
    debug_assert!(
        crate::http::ROUTES
            .iter()
            .filter(|r| r.function() == function)
            .all(|r| r.auth() == Auth::PlaybackToken)
    );
    respond(function, req, async |operation, _, req| run(operation, req).await).await
}

/// Runs `run` with the operation of the matched route and the caller, maps errors to JSON and
/// logs one line (request id, route, owner, status, latency; never a token or URL).
async fn respond(
    function: HttpFunction,
    req: Request,
    run: impl AsyncFnOnce(Operation, Option<&Owner>, &Request) -> Result<Response<Body>, ApiError>,
) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let request_id = request_id(&req);
    let operation = operation_for(function, &route_key(&req));
    let owner = auth::owner(&req).ok();
    let response =
        run(operation, owner.as_ref(), &req).await.unwrap_or_else(|e| e.into_response(&request_id));
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

/// The playback secret. `Config::from_env_for` already refused to start the playback functions
/// without it, so this only fails when a function is wired wrongly.
fn playback_secret(app: &impl Records) -> Result<&str, ApiError> {
    app.config()
        .playback_secret
        .as_deref()
        .ok_or_else(|| ApiError::Internal("VIDGATE_PLAYBACK_SECRET is not set".into()))
}

/// An images token for video `id` until `expires_at`: it opens that video's poster, storyboard
/// and sprites through the image routes, and not its bytes.
fn images_token(app: &impl Records, id: &VideoId, expires_at: Timestamp) -> Result<String, ApiError> {
    Ok(playback::issue_for(Scope::Images, playback_secret(app)?.as_bytes(), id, expires_at))
}

/// The URL of one of `video`'s images (`name`: `poster-<t>.jpg`, `storyboard-<n>.jpg`) until
/// `expires_at`: a CloudFront signed URL of its object when playback goes through the CDN, else
/// the image route with `token`.
fn image_url(
    app: &impl Records,
    base: &str,
    video: &Video,
    name: &str,
    token: &str,
    expires_at: Timestamp,
) -> String {
    match (app.cdn(), &app.config().cdn) {
        (Some(signer), Some(cdn)) => {
            let key = format!("{}{name}", keys::images_prefix(&video.owner, &video.id));
            signer.sign(&cdn::object_url(&cdn.url, &key), expires_at)
        }
        _ => format!("{base}/v1/videos/{}/images/{name}?token={token}", video.id),
    }
}

/// The API's base URL as the client reached it: `VIDGATE_PUBLIC_URL`, else the scheme API
/// Gateway forwarded and the host the request was sent to.
fn public_base(app: &impl Records, req: &Request) -> String {
    if let Some(url) = &app.config().public_url {
        return url.clone();
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let scheme = header("x-forwarded-proto")
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|s| *s == "http" || *s == "https")
        .unwrap_or("https");
    let host = header("host").map(str::to_owned).or_else(|| match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => ctx.domain_name.clone(),
        _ => None,
    });
    format!("{scheme}://{}", host.unwrap_or_else(|| "localhost".into()))
}
