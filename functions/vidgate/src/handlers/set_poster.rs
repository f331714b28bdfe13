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
    /// A JSON number: `313.0` is the integer 313 to JSON Schema (and so to clients).
    time_ms: serde_json::Number,
}

/// A whole number of milliseconds, 0 or more (past u64: the end of any video).
fn whole_ms(n: &serde_json::Number) -> Option<u64> {
    if let Some(ms) = n.as_u64() {
        return Some(ms);
    }
    let ms = n.as_f64().filter(|v| v.is_finite() && *v >= 0.0 && v.fract() == 0.0)?;
    Some(if ms >= u64::MAX as f64 { u64::MAX } else { ms as u64 })
}

pub(super) async fn handle(
    app: &impl Records,
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let id = video_id(req)?;
    let PosterRequest { time_ms } = required_json_body(req)?;
    let time_ms = whole_ms(&time_ms).ok_or_else(|| {
        ApiError::invalid("invalid_body", "timeMs must be a whole number of milliseconds, 0 or more")
    })?;
    let video = owned(app, owner, &id).await?;
    let video = uploads::choose_poster(app, video, time_ms).await?;
    Ok(json_response(StatusCode::ACCEPTED, &VideoView::from(&video)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_number_of_milliseconds_in_any_json_spelling() {
        let n = |text: &str| serde_json::from_str::<serde_json::Number>(text).unwrap();
        assert_eq!(whole_ms(&n("313")), Some(313));
        assert_eq!(whole_ms(&n("313.0")), Some(313));
        assert_eq!(whole_ms(&n("1e3")), Some(1000));
        assert_eq!(whole_ms(&n("1e300")), Some(u64::MAX));
        assert_eq!(whole_ms(&n("1.5")), None);
        assert_eq!(whole_ms(&n("-1")), None);
    }
}
