//! `DELETE /v1/uploads/{videoId}`: aborts the upload ([`uploads::abort`]).

use lambda_http::{Body, Request, Response};

use crate::app::Objects;
use crate::domain::Owner;
use crate::http::ApiError;
use crate::http::request::{no_content, video_id};
use crate::uploads::{self, owned};

pub(super) async fn handle(
    app: &impl Objects,
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let video = owned(app, owner, &video_id(req)?).await?;
    uploads::abort(app, video).await?;
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::domain::parts::MIB;
    use crate::handlers::testing::{Harness, call};
    use crate::http::HttpFunction;

    #[tokio::test]
    async fn given_an_upload_when_aborted_then_204_s3_forgets_it_and_repeats_are_204() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4"})).await;
        let (id, upload) = (created["videoId"].as_str().unwrap(), created["uploadId"].as_str().unwrap());
        let path = format!("/v1/uploads/{id}");
        let (status, body) = call(&h.app, HttpFunction::AbortUpload, h.delete(&path)).await;
        assert_eq!((status, body), (204, Value::Null));
        assert!(!h.objects.has_upload(upload));
        assert_eq!(h.stored(id).await.unwrap().status.as_str(), "aborted");
        let (status, _) = call(&h.app, HttpFunction::AbortUpload, h.delete(&path)).await;
        assert_eq!(status, 204);
    }

    #[tokio::test]
    async fn aborting_a_completed_upload_is_409_and_changes_nothing() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4"})).await;
        let (id, upload) = (created["videoId"].as_str().unwrap(), created["uploadId"].as_str().unwrap());
        h.objects.put_part(upload, 1, MIB).unwrap();
        let (status, _) = call(
            &h.app,
            HttpFunction::CompleteUpload,
            h.raw("POST", &format!("/v1/uploads/{id}/complete"), ""),
        )
        .await;
        assert_eq!(status, 200);
        let (status, body) =
            call(&h.app, HttpFunction::AbortUpload, h.delete(&format!("/v1/uploads/{id}"))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("upload_completed")));
        assert_eq!(h.stored(id).await.unwrap().status.as_str(), "uploaded");
    }

    #[tokio::test]
    async fn an_abort_racing_a_complete_that_won_in_s3_is_409_and_the_record_says_uploaded() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4"})).await;
        let (id, upload) = (created["videoId"].as_str().unwrap(), created["uploadId"].as_str().unwrap());
        h.objects.put_part(upload, 1, MIB).unwrap();
        let video = h.stored(id).await.unwrap();
        let parts = h.app.objects.list_parts(&video.key, upload).await.unwrap();
        let refs = [crate::objects::PartRef { part_number: 1, etag: parts[0].etag.clone(), checksum: None }];
        h.app.objects.complete_multipart(&video.key, upload, &refs, None).await.unwrap();

        let (status, body) =
            call(&h.app, HttpFunction::AbortUpload, h.delete(&format!("/v1/uploads/{id}"))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("upload_completed")));
        let stored = h.stored(id).await.unwrap();
        assert_eq!((stored.status.as_str(), stored.size), ("uploaded", Some(MIB)));
    }
}
