//! `POST /v1/videos/{videoId}/poster` `{"timeMs": …}`: 202, and make-images makes the poster at
//! that moment; `GET /v1/videos/{id}` shows `images.status: pending` until it has replaced the
//! old one (which is shown meanwhile).

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use crate::app::Records;
use crate::domain::Owner;
use crate::http::ApiError;
use crate::http::request::{json_response, required_json_body, video_id};
use crate::uploads::{self, owned};
use crate::view::VideoView;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PosterRequest {
    time_ms: u64,
}

pub(super) async fn handle(
    app: &impl Records,
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let id = video_id(req)?;
    let PosterRequest { time_ms } = required_json_body(req)?;
    let video = owned(app, owner, &id).await?;
    let video = uploads::choose_poster(app, video, time_ms).await?;
    Ok(json_response(StatusCode::ACCEPTED, &VideoView::from(&video)))
}
