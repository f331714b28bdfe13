//! `DELETE /v1/videos/{videoId}`: deletes the caller's video ([`uploads::delete`]).

use lambda_http::{Body, Request, Response};

use crate::app::Objects;
use crate::domain::Owner;
use crate::http::ApiError;
use crate::http::request::{no_content, video_id};
use crate::uploads::{self, owned_or_buried};

pub(super) async fn handle(
    app: &impl Objects,
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let video = owned_or_buried(app, owner, &video_id(req)?).await?;
    app.uploaded().forget(&video.id);
    uploads::delete(app, video).await?;
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::domain::parts::MIB;
    use crate::handlers::testing::{Harness, call};
    use crate::http::HttpFunction;

    #[tokio::test]
    async fn the_owner_deletes_a_video_once_and_for_all_and_nobody_else_can() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4"})).await;
        let (id, upload) = (created["videoId"].as_str().unwrap(), created["uploadId"].as_str().unwrap());
        h.objects.put_part(upload, 1, MIB).unwrap();
        let path = format!("/v1/videos/{id}");

        let (status, body) =
            call(&h.app, HttpFunction::DeleteVideo, h.request("DELETE", &path, "", Some("bob"))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("video_not_found")));
        assert!(h.objects.has_upload(upload), "bob's delete touched alice's upload");
        assert_eq!(h.stored(id).await.unwrap().status.as_str(), "uploading");

        let (status, body) = call(&h.app, HttpFunction::DeleteVideo, h.delete(&path)).await;
        assert_eq!((status, body), (204, Value::Null));
        assert!(!h.objects.has_upload(upload));
        assert_eq!(h.stored(id).await.unwrap().status.as_str(), "deleted");
        let (status, _) = call(&h.app, HttpFunction::DeleteVideo, h.delete(&path)).await;
        assert_eq!(status, 204);
        let (status, body) = call(&h.app, HttpFunction::GetVideo, h.get(&path)).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("video_not_found")));
        let (status, body) = call(&h.app, HttpFunction::ListVideos, h.get("/v1/videos")).await;
        assert_eq!((status, body["videos"].as_array().map(Vec::len)), (200, Some(0)));
        let (status, _) =
            call(&h.app, HttpFunction::AbortUpload, h.delete(&format!("/v1/uploads/{id}"))).await;
        assert_eq!(status, 404);
        let (status, _) = call(&h.app, HttpFunction::DeleteVideo, h.delete("/v1/videos/not-an-id")).await;
        assert_eq!(status, 404);
    }
}
