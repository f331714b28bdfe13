//! `GET /v1/videos/{videoId}`: one of the caller's videos.

use http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::app::Records;
use crate::domain::Owner;
use crate::http::ApiError;
use crate::http::request::{json_response, video_id};
use crate::uploads::owned;
use crate::view::VideoView;

pub(super) async fn handle(
    app: &impl Records,
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let video = owned(app, owner, &video_id(req)?).await?;
    Ok(json_response(StatusCode::OK, &VideoView::from(&video)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::handlers::testing::{Harness, call};
    use crate::http::HttpFunction;

    #[tokio::test]
    async fn owner_sees_the_video_and_nobody_else_does() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4", "metadata": {"title": "Hi"}})).await;
        let path = format!("/v1/videos/{}", created["videoId"].as_str().unwrap());
        let (status, body) = call(&h.app, HttpFunction::GetVideo, h.get(&path)).await;
        assert_eq!(status, 200);
        assert_eq!(body, created["video"]);
        assert_eq!(body["metadata"]["title"], "Hi");
        assert!(body.get("owner").is_none());
        let (status, _) =
            call(&h.app, HttpFunction::GetVideo, h.request("GET", &path, "", Some("bob"))).await;
        assert_eq!(status, 404);
    }
}
