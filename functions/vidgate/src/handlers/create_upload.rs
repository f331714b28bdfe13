//! `POST /v1/uploads`: starts an upload and records it.
//!
//! Presigned mode (default) starts the S3 multipart upload here, and the client asks for part
//! URLs. Credentials mode records the upload and hands the client temporary credentials that can
//! write only its key; the client's AWS SDK then runs the upload itself. Put mode hands out one
//! presigned `PUT` URL for the whole object (small files; no resume).

use std::collections::BTreeMap;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use super::VideoView;
use super::issue_credentials::{CredentialsGrant, grant};
use crate::App;
use crate::domain::time::{self, Timestamp};
use crate::domain::upload::NewUpload;
use crate::domain::{Change, Owner, Status, UploadMethod, UploadRequest, Video, VideoId, keys};
use crate::http::ApiError;
use crate::http::request::{json_response, required_json_body};
use crate::lifecycle::record;

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
    credentials: Option<CredentialsGrant>,
    #[serde(skip_serializing_if = "Option::is_none")]
    put: Option<&'a PutTarget>,
    video: VideoView<'a>,
}

/// Where a put-mode upload sends its bytes: one `PUT` with these headers.
#[derive(Serialize)]
pub(super) struct PutTarget {
    pub(super) method: &'static str,
    pub(super) url: String,
    pub(super) headers: BTreeMap<&'static str, String>,
}

/// A recorded upload, and the credentials of a credentials-mode one.
pub(super) struct Started {
    pub(super) video: Video,
    pub(super) credentials: Option<CredentialsGrant>,
}

pub(super) async fn handle(app: &App, owner: &Owner, req: &Request) -> Result<Response<Body>, ApiError> {
    let upload = required_json_body::<UploadRequest>(req)?.validate(app.config.default_part_size)?;
    if upload.method == UploadMethod::Signed {
        return Err(ApiError::invalid(
            "unsupported_method",
            "\"signed\" uploads start with POST /uppy/sign (Uppy's signRequest); use presigned, put or credentials",
        ));
    }
    let max_parts = upload.plan.max_parts();
    let Started { video, credentials } = start(app, owner, upload).await?;
    let put = match video.method {
        UploadMethod::Put => Some(put_target(app, &video).await?),
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
            max_parts,
            expires_at: video.expires_at,
            credentials,
            put: put.as_ref(),
            video: VideoView::from(&video),
        },
    ))
}

/// Records a new upload of `owner`'s and prepares S3 for it: the multipart upload (presigned
/// mode) or credentials for the key (credentials mode).
pub(super) async fn start(app: &App, owner: &Owner, upload: NewUpload) -> Result<Started, ApiError> {
    let id = VideoId::new();
    let key = keys::object_key(owner, &id, upload.extension);
    let upload_id = match upload.method {
        UploadMethod::Presigned => Some(app.objects.create_multipart(&key, &upload.content_type).await?),
        UploadMethod::Credentials | UploadMethod::Put | UploadMethod::Signed => None,
    };

    let now = time::now();
    let video = Video {
        id,
        owner: owner.clone(),
        status: Status::Uploading,
        filename: upload.filename,
        content_type: upload.content_type,
        size: upload.size,
        key,
        method: upload.method,
        upload_id,
        part_size: upload.plan.part_size,
        part_count: upload.plan.part_count,
        metadata: upload.metadata,
        etag: None,
        reject_reason: None,
        created_at: now,
        updated_at: now,
        completed_at: None,
        expires_at: now + app.config.upload_ttl,
    };
    if let Err(err) = app.videos.insert(&video).await {
        // Without a record nobody could ever complete or abort it: don't leave it in S3.
        if let Some(upload_id) = &video.upload_id
            && let Err(abort) = app.objects.abort_multipart(&video.key, upload_id).await
        {
            tracing::error!(key = %video.key, error = %abort, "could not abort an unrecorded multipart upload");
        }
        return Err(err.into());
    }

    // Credentials come after the record exists, so no credentials ever name an untracked key.
    let credentials = match video.method {
        UploadMethod::Presigned | UploadMethod::Put | UploadMethod::Signed => None,
        UploadMethod::Credentials => match grant(app, &video).await {
            Ok(credentials) => Some(credentials),
            Err(err) => {
                if let Err(abort) = record(app, &video, &Change::Abort).await {
                    tracing::error!(video_id = %video.id, error = %abort, "could not abort an upload without credentials");
                }
                return Err(err);
            }
        },
    };

    Ok(Started { video, credentials })
}

/// The one presigned `PUT` of a put-mode upload, with its signed `Content-Type`. Presigning is
/// local signing: the record needs no undo if it failed.
pub(super) async fn put_target(app: &App, video: &Video) -> Result<PutTarget, ApiError> {
    let url = app.objects.presign_put(&video.key, &video.content_type, app.config.part_url_ttl).await?;
    let headers = BTreeMap::from([("content-type", video.content_type.clone())]);
    Ok(PutTarget { method: "PUT", url, headers })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::domain::parts::MIB;
    use crate::handlers::testing::{Harness, call};
    use crate::http::Function;

    #[tokio::test]
    async fn given_a_sized_video_when_created_then_201_with_plan_record_and_s3_upload() {
        let h = Harness::new();
        let (status, body) = call(
            &h.app,
            Function::CreateUpload,
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
    async fn given_no_size_when_created_then_part_count_is_null_and_every_part_number_allowed() {
        let h = Harness::new();
        let (status, body) =
            call(&h.app, Function::CreateUpload, h.post("/v1/uploads", json!({"filename": "live.webm"})))
                .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["partCount"], serde_json::Value::Null);
        assert_eq!(body["maxParts"], 10_000);
        assert_eq!(body["video"]["size"], serde_json::Value::Null);
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
                call(&h.app, Function::CreateUpload, h.post("/v1/uploads", body.clone())).await;
            assert_eq!(status, 400, "{body} → {reply}");
            assert_eq!(reply["error"]["code"], code, "{body} → {reply}");
        }
        let (status, reply) =
            call(&h.app, Function::CreateUpload, h.raw("POST", "/v1/uploads", "{not json")).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("invalid_body")));
        assert!(!h.objects.has_upload("mem-upload-0"));
    }

    #[tokio::test]
    async fn given_dynamodb_down_when_created_then_503_and_the_s3_upload_is_aborted() {
        let h = Harness::new();
        h.videos.set_unavailable(true);
        let (status, body) =
            call(&h.app, Function::CreateUpload, h.post("/v1/uploads", json!({"filename": "a.mp4"}))).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["code"], "service_unavailable");
        assert!(!h.objects.has_upload("mem-upload-0"), "the orphan multipart upload was not aborted");
    }

    #[tokio::test]
    async fn given_no_authorizer_claims_then_401() {
        let h = Harness::new();
        let req = h.request("POST", "/v1/uploads", r#"{"filename":"a.mp4"}"#, None);
        let (status, body) = call(&h.app, Function::CreateUpload, req).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], "unauthorized");
    }
}
