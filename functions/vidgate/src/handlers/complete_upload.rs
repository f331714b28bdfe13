//! `POST /v1/uploads/{videoId}/complete`: assembles the object and records it `uploaded`
//! ([`uploads::finish`]).

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

use crate::app::Objects;
use crate::domain::{Owner, Video};
use crate::http::ApiError;
use crate::http::request::{json_body, json_response, video_id};
use crate::uploads::{self, NamedPart, owned};
use crate::view::VideoView;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CompleteRequest {
    parts: Option<Vec<PartInput>>,
    /// The whole object's checksum (base64, of the upload's CRC `checksumAlgorithm`).
    checksum: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PartInput {
    part_number: u32,
    etag: String,
    checksum: Option<String>,
}

#[derive(Serialize)]
struct Completed<'a> {
    video: VideoView<'a>,
}

pub(super) async fn handle(
    app: &impl Objects,
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let video = owned(app, owner, &video_id(req)?).await?;
    complete(app, video, req).await
}

/// Completes `video`, the caller's (or its upload link's) own.
pub(super) async fn complete(
    app: &impl Objects,
    video: Video,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let request: CompleteRequest = json_body(req)?.unwrap_or_default();
    let parts = request.parts.map(|parts| {
        parts
            .into_iter()
            .map(|p| NamedPart { part_number: p.part_number, etag: p.etag, checksum: p.checksum })
            .collect()
    });
    let video = uploads::finish(app, video, parts, request.checksum).await?;
    Ok(json_response(StatusCode::OK, &Completed { video: VideoView::from(&video) }))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::domain::parts::MIB;
    use crate::handlers::testing::{Harness, call};
    use crate::http::HttpFunction;

    async fn complete(h: &Harness, id: &str, body: Value) -> (u16, Value) {
        let body = if body.is_null() { String::new() } else { body.to_string() };
        call(
            &h.app,
            HttpFunction::CompleteUpload,
            h.raw("POST", &format!("/v1/uploads/{id}/complete"), &body),
        )
        .await
    }

    #[tokio::test]
    async fn given_all_parts_when_completed_without_a_list_then_uploaded_with_size_and_etag() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4", "size": 11 * MIB, "partSize": 5 * MIB})).await;
        let (id, upload) = (created["videoId"].as_str().unwrap(), created["uploadId"].as_str().unwrap());
        for (n, size) in [(1, 5 * MIB), (2, 5 * MIB), (3, MIB)] {
            h.objects.put_part(upload, n, size).unwrap();
        }
        let (status, body) = complete(&h, id, Value::Null).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["video"]["status"], "uploaded");
        assert_eq!(body["video"]["size"], 11 * MIB);
        assert!(body["video"]["etag"].is_string());
        assert!(body["video"]["completedAt"].is_string());

        let (again, body2) = complete(&h, id, Value::Null).await;
        assert_eq!((again, &body2), (200, &body), "completing twice must answer the same");
    }

    #[tokio::test]
    async fn given_an_explicit_part_list_then_each_problem_has_its_code() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4"})).await;
        let (id, upload) = (created["videoId"].as_str().unwrap(), created["uploadId"].as_str().unwrap());
        let e1 = h.objects.put_part(upload, 1, MIB).unwrap();
        let e2 = h.objects.put_part(upload, 2, MIB).unwrap();
        for (body, code) in [
            (json!({"parts": []}), "no_parts"),
            (json!({"parts": [{"partNumber": 3, "etag": e1}]}), "missing_part"),
            (json!({"parts": [{"partNumber": 1, "etag": "\"nope\""}]}), "etag_mismatch"),
            (
                json!({"parts": [{"partNumber": 1, "etag": e1}, {"partNumber": 1, "etag": e1}]}),
                "duplicate_part_number",
            ),
            (
                json!({"parts": [{"partNumber": 1, "etag": e1}, {"partNumber": 2, "etag": e2}]}),
                "part_too_small",
            ),
            (json!({"parts": [{"partNumber": 1}]}), "invalid_body"),
        ] {
            let (status, reply) = complete(&h, id, body.clone()).await;
            assert_eq!((status, reply["error"]["code"].as_str()), (400, Some(code)), "{body} → {reply}");
        }
        assert_eq!(h.stored(id).await.unwrap().status.as_str(), "uploading");
        // A single small part is fine: the last part may be smaller than 5 MiB.
        let (status, body) =
            complete(&h, id, json!({"parts": [{"partNumber": 1, "etag": e1.trim_matches('"')}]})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["video"]["size"], MIB);
    }

    #[tokio::test]
    async fn declared_size_must_match_and_no_parts_is_refused() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4", "size": 2 * MIB})).await;
        let (id, upload) = (created["videoId"].as_str().unwrap(), created["uploadId"].as_str().unwrap());
        let (status, body) = complete(&h, id, Value::Null).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("no_parts")));
        h.objects.put_part(upload, 1, MIB).unwrap();
        let (status, body) = complete(&h, id, Value::Null).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("size_mismatch")));
    }

    #[tokio::test]
    async fn completing_an_aborted_upload_is_409() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4"})).await;
        let id = created["videoId"].as_str().unwrap();
        let (status, _) =
            call(&h.app, HttpFunction::AbortUpload, h.delete(&format!("/v1/uploads/{id}"))).await;
        assert_eq!(status, 204);
        let (status, body) = complete(&h, id, Value::Null).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("upload_aborted")));
    }

    #[tokio::test]
    async fn a_complete_that_crashed_after_s3_is_repaired_by_the_retry() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4"})).await;
        let (id, upload) = (created["videoId"].as_str().unwrap(), created["uploadId"].as_str().unwrap());
        h.objects.put_part(upload, 1, MIB).unwrap();
        // S3 completed, DynamoDB never heard of it.
        let video = h.stored(id).await.unwrap();
        let parts = h.app.objects.list_parts(&video.key, upload).await.unwrap();
        let refs = [crate::objects::PartRef { part_number: 1, etag: parts[0].etag.clone(), checksum: None }];
        h.app.objects.complete_multipart(&video.key, upload, &refs, None).await.unwrap();

        let (status, body) = complete(&h, id, Value::Null).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["video"]["status"], "uploaded");
        assert_eq!(body["video"]["size"], MIB);
    }
}
