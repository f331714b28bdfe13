//! A video's pictures for players and pages holding its images token (no JWT: a `<track>` or an
//! `<img>` can't send one): `GET /v1/videos/{videoId}/storyboard.vtt`, the WebVTT of seek
//! previews whose cues point into the sprites (`<sprite URL>#xywh=x,y,w,h`), and
//! `GET /v1/videos/{videoId}/images/{name}`, the poster or a sprite's bytes when playback doesn't
//! go through the CDN. Only what the record says was made is served: a replaced poster, a sprite
//! past the last, another video's picture or anything of a deleted video is 404.

use http::StatusCode;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use lambda_http::{Body, Request, RequestExt, Response};

use super::{image_url, playback_secret, public_base};
use crate::app::{Objects, Records};
use crate::domain::keys::{self, ImageName};
use crate::domain::playback::{self, Scope};
use crate::domain::{Status, Video, time};
use crate::http::ApiError;
use crate::http::request::{query, video_id};
use crate::objects::ObjectError;

/// The video the request's images token opens, with the token and its expiry (Unix seconds).
async fn opened(app: &impl Records, req: &Request) -> Result<(Video, String, i64), ApiError> {
    let id = video_id(req)?;
    let token =
        query(req, "token").ok_or_else(|| ApiError::Forbidden("an images token is required".into()))?;
    let expires =
        playback::verify_for(Scope::Images, playback_secret(app)?.as_bytes(), &token, &id, time::now())
            .map_err(|e| ApiError::Forbidden(e.to_string().replace("playback", "images")))?;
    let video =
        app.videos().get(&id).await?.filter(|v| v.status == Status::Uploaded).ok_or(ApiError::NotFound)?;
    Ok((video, token, expires))
}

/// Seconds a reply may be kept: until its token expires.
fn cache_control(expires: i64) -> String {
    format!("private, max-age={}", (expires - time::now().timestamp()).max(0))
}

pub(super) async fn storyboard(app: &impl Records, req: &Request) -> Result<Response<Body>, ApiError> {
    let (video, token, expires) = opened(app, req).await?;
    let storyboard = video.images.as_ref().and_then(|i| i.storyboard).ok_or(ApiError::NotFound)?;
    let duration = video.media.as_ref().and_then(|m| m.duration_ms).ok_or(ApiError::NotFound)?;
    let base = public_base(app, req);
    let expires_at = chrono::DateTime::from_timestamp(expires, 0).ok_or(ApiError::NotFound)?;
    let vtt = storyboard
        .vtt(duration, |n| image_url(app, &base, &video, &keys::sprite_name(n), &token, expires_at));
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, "text/vtt; charset=utf-8")
        .header(CACHE_CONTROL, cache_control(expires))
        .body(Body::Text(vtt))
        .expect("valid headers"))
}

pub(super) async fn image(app: &impl Objects, req: &Request) -> Result<Response<Body>, ApiError> {
    let (video, _, expires) = opened(app, req).await?;
    let raw = req.path_parameters_ref().and_then(|p| p.first("name")).unwrap_or_default();
    let images = video.images.as_ref().ok_or(ApiError::NotFound)?;
    let made = match ImageName::parse(raw).ok_or(ApiError::NotFound)? {
        ImageName::Poster(t) => images.poster.is_some_and(|p| p.time_ms == t),
        ImageName::Sprite(n) => images.storyboard.is_some_and(|s| n < s.sprites()),
    };
    if !made {
        return Err(ApiError::NotFound);
    }
    let key = format!("{}{raw}", keys::images_prefix(&video.owner, &video.id));
    let object = app.objects().head(&key).await?.ok_or(ApiError::NotFound)?;
    let bytes = match app.objects().get_range(&key, None, 0, object.size.saturating_sub(1)).await {
        Ok(bytes) => bytes,
        Err(ObjectError::NoSuchKey) => return Err(ApiError::NotFound),
        Err(e) => return Err(e.into()),
    };
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, "image/jpeg")
        .header(CONTENT_LENGTH, bytes.len())
        .header(ETAG, object.etag)
        .header(CACHE_CONTROL, cache_control(expires))
        .body(Body::Binary(bytes))
        .expect("valid headers"))
}
