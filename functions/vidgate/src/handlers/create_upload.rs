//! `POST /v1/uploads`: starts an upload ([`uploads::start`]) and answers what the client needs
//! for its method.
//!
//! Presigned mode (default) starts the S3 multipart upload, and the client asks for part URLs.
//! Credentials mode hands the client temporary credentials that can write only its key; the
//! client's AWS SDK then runs the upload itself. Put mode hands out one presigned `PUT` URL for
//! the whole object (small files; no resume).

use std::collections::BTreeMap;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::app::{Credentials, Objects};
use crate::domain::link::UploadLink;
use crate::domain::time::{self, Timestamp};
use crate::domain::{NewUpload, Owner, UploadMethod, UploadRequest, VideoId};
use crate::http::ApiError;
use crate::http::request::{json_response, required_json_body};
use crate::uploads::{self, Started};
use crate::view::GrantView;
use crate::view::VideoView;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Created<'a> {
    video_id: VideoId,
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_id: Option<&'a str>,
    key: &'a str,
    part_size: u64,
    part_count: Option<u32>,
    max_parts: u32,
    #[serde(with = "time")]
    expires_at: Timestamp,
    #[serde(flatten)]
    credentials: Option<GrantView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    put: Option<Put<'a>>,
    video: VideoView<'a>,
}

/// Where a put-mode upload sends its bytes: one `PUT` with these headers.
#[derive(Serialize)]
struct Put<'a> {
    method: &'static str,
    url: &'a str,
    headers: &'a BTreeMap<&'static str, String>,
}

pub(super) async fn handle(
    app: &(impl Objects + Credentials),
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let upload = upload_request(app, req)?;
    let started = uploads::start(app, owner, upload).await?;
    created(app, started).await
}

/// `POST /v1/links/{token}/upload`: the same body and answer, the link's one upload.
pub(super) async fn start_by_link(
    app: &impl Objects,
    link: &UploadLink,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let upload = upload_request(app, req)?;
    let started = uploads::start_by_link(app, link, upload, time::now()).await?;
    created(app, started).await
}

/// The upload a `POST /v1/uploads` body asks for.
fn upload_request(app: &impl Objects, req: &Request) -> Result<NewUpload, ApiError> {
    let upload = required_json_body::<UploadRequest>(req)?.validate(&app.config().size_rules())?;
    if upload.method == UploadMethod::Signed {
        return Err(ApiError::invalid(
            "unsupported_method",
            "\"signed\" uploads start with POST /uppy/sign (Uppy's signRequest); use presigned, put or credentials",
        ));
    }
    if upload.method == UploadMethod::Put && upload.size.is_none() {
        // The one PUT URL signs the length, so S3 holds the object to it.
        return Err(ApiError::invalid("size_required", "a \"put\" upload must declare its size"));
    }
    Ok(upload)
}

/// The 201 of a started upload: what the client needs for its method.
async fn created(app: &impl Objects, started: Started) -> Result<Response<Body>, ApiError> {
    let Started { video, credentials } = started;
    let put = match video.method {
        UploadMethod::Put => Some(uploads::put_target(app, &video).await?),
        _ => None,
    };
    Ok(json_response(
        StatusCode::CREATED,
        &Created {
            video_id: video.id,
            upload_id: video.upload_id.as_deref(),
            key: &video.key,
            part_size: video.part_size,
            part_count: video.part_count,
            max_parts: video.plan().max_parts(&app.config().size_rules()),
            expires_at: video.expires_at,
            credentials: credentials.as_ref().map(GrantView::from),
            put: put.as_ref().map(|p| Put { method: "PUT", url: &p.url, headers: &p.headers }),
            video: VideoView::from(&video),
        },
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::domain::parts::MIB;
    use crate::handlers::testing::{Harness, call};
    use crate::http::HttpFunction;

    #[tokio::test]
    async fn given_a_sized_video_when_created_then_201_with_plan_record_and_s3_upload() {
        let h = Harness::new();
        let (status, body) = call(
            &h.app,
            HttpFunction::CreateUpload,
            h.post("/v1/uploads", json!({"filename": "a.mp4", "size": 23 * MIB, "partSize": 5 * MIB})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["partSize"], 5 * MIB);
        assert_eq!(body["partCount"], 5);
        assert_eq!(body["maxParts"], 5);
        assert_eq!(body["video"]["status"], "uploading");
        assert_eq!(body["video"]["contentType"], "video/mp4");
        assert_eq!(body["video"]["size"], 23 * MIB);
        let upload_id = body["uploadId"].as_str().unwrap();
        assert!(h.objects.has_upload(upload_id));
        let key = body["key"].as_str().unwrap();
        assert!(key.starts_with("videos/") && key.ends_with(".mp4"), "{key}");
        let stored = h.stored(body["videoId"].as_str().unwrap()).await.unwrap();
        assert_eq!(stored.owner.as_str(), "alice");
        assert_eq!(stored.upload_id.as_deref(), Some(upload_id));
    }

    #[tokio::test]
    async fn given_no_size_when_created_then_part_count_is_null_and_the_maximum_video_size_bounds_the_parts()
    {
        let h = Harness::new();
        let (status, body) =
            call(&h.app, HttpFunction::CreateUpload, h.post("/v1/uploads", json!({"filename": "live.webm"})))
                .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["partCount"], serde_json::Value::Null);
        // 32 GiB in 8 MiB parts.
        assert_eq!(body["maxParts"], 4096);
        assert_eq!(body["video"]["size"], serde_json::Value::Null);
    }

    #[tokio::test]
    async fn a_video_over_the_maximum_size_or_a_put_of_unknown_size_is_refused_before_anything_is_recorded() {
        let h = Harness::new();
        for (body, code) in [
            (json!({"filename": "a.mp4", "size": 32 * 1024 * MIB + 1}), "video_too_large"),
            (json!({"filename": "a.mp4", "method": "put"}), "size_required"),
        ] {
            let (status, reply) = call(&h.app, HttpFunction::CreateUpload, h.post("/v1/uploads", body)).await;
            assert_eq!((status, reply["error"]["code"].as_str()), (400, Some(code)), "{reply}");
        }
        let (status, reply) = call(
            &h.app,
            HttpFunction::CreateUpload,
            h.post("/v1/uploads", json!({"filename": "a.mp4", "method": "put", "size": 3000})),
        )
        .await;
        assert_eq!(status, 201, "{reply}");
        assert!(reply["put"]["url"].as_str().unwrap().contains("content-length=3000"), "{reply}");
    }

    #[tokio::test]
    async fn the_owner_past_their_quota_gets_429_until_an_upload_ends() {
        let h = Harness::new();
        let create = |body| call(&h.app, HttpFunction::CreateUpload, h.post("/v1/uploads", body));
        let mut ids = Vec::new();
        for _ in 0..10 {
            let (status, body) = create(json!({"filename": "a.mp4", "size": 1000})).await;
            assert_eq!(status, 201, "{body}");
            ids.push(body["videoId"].as_str().unwrap().to_owned());
        }
        let (status, body) = create(json!({"filename": "a.mp4", "size": 1000})).await;
        assert_eq!((status, body["error"]["code"].as_str()), (429, Some("quota_exceeded")), "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("10 uploads in progress"), "{body}");
        // Someone else is not held back by alice.
        let bob = h.request("POST", "/v1/uploads", r#"{"filename":"b.mp4"}"#, Some("bob"));
        assert_eq!(call(&h.app, HttpFunction::CreateUpload, bob).await.0, 201);

        let (status, _) =
            call(&h.app, HttpFunction::AbortUpload, h.raw("DELETE", &format!("/v1/uploads/{}", ids[0]), ""))
                .await;
        assert_eq!(status, 204);
        let (status, body) = create(json!({"filename": "a.mp4", "size": 1000})).await;
        assert_eq!(status, 201, "{body}");
    }

    #[tokio::test]
    async fn given_bad_input_then_400_with_a_code_and_no_s3_upload() {
        let h = Harness::new();
        for (body, code) in [
            (json!({}), "missing_filename"),
            (json!({"filename": "a.txt", "contentType": "text/plain"}), "unsupported_content_type"),
            (json!({"filename": "a.mp4", "size": 0}), "invalid_size"),
            (json!({"filename": "a.mp4", "size": -5}), "invalid_body"),
            (json!({"filename": "a.mp4", "partSize": 1}), "invalid_part_size"),
            (json!({"filename": "a.mp4", "colour": "red"}), "invalid_body"),
            (json!({"filename": "a.mp4", "method": "signed"}), "unsupported_method"),
            // A 100,000-character type once reached S3 (500); a 3 MB one DynamoDB's item limit.
            (
                json!({"filename": "a.mp4", "contentType": format!("video/{}", "x".repeat(100_000))}),
                "invalid_content_type",
            ),
            (
                json!({"filename": "a.mp4", "contentType": format!("video/{}", "x".repeat(250)), "method": "put"}),
                "invalid_content_type",
            ),
            (json!(["a.mp4"]), "invalid_body"),
        ] {
            let (status, reply) =
                call(&h.app, HttpFunction::CreateUpload, h.post("/v1/uploads", body.clone())).await;
            assert_eq!(status, 400, "{body} → {reply}");
            assert_eq!(reply["error"]["code"], code, "{body} → {reply}");
        }
        let (status, reply) =
            call(&h.app, HttpFunction::CreateUpload, h.raw("POST", "/v1/uploads", "{not json")).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("invalid_body")));
        assert!(!h.objects.has_upload("mem-upload-0"));
    }

    #[tokio::test]
    async fn given_dynamodb_down_when_created_then_503_and_the_s3_upload_is_aborted() {
        let h = Harness::new();
        h.videos.set_unavailable(true);
        let (status, body) =
            call(&h.app, HttpFunction::CreateUpload, h.post("/v1/uploads", json!({"filename": "a.mp4"})))
                .await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["code"], "service_unavailable");
        assert!(!h.objects.has_upload("mem-upload-0"), "the orphan multipart upload was not aborted");
    }

    #[tokio::test]
    async fn given_no_authorizer_claims_then_401() {
        let h = Harness::new();
        let req = h.request("POST", "/v1/uploads", r#"{"filename":"a.mp4"}"#, None);
        let (status, body) = call(&h.app, HttpFunction::CreateUpload, req).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], "unauthorized");
    }
}
