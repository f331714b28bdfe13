//! `POST /v1/uploads/{videoId}/complete`: assembles the object and records it `uploaded`.
//!
//! Parts are checked against what S3 lists before asking S3 to complete, so a bad part list gets a
//! precise code (`missing_part`, `etag_mismatch`, `part_too_small`, `size_mismatch`) rather than
//! S3's generic `InvalidPart`, and completion (which can't be undone) happens only when it will hold.

use std::collections::HashMap;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

use super::{VideoView, load_owned, not_uploading};
use crate::App;
use crate::domain::parts::{MAX_PARTS, MIN_PART_SIZE};
use crate::domain::{Change, Owner, Status, Video};
use crate::http::ApiError;
use crate::http::request::{json_body, json_response, video_id};
use crate::lifecycle::{arrived, settle};
use crate::objects::{ObjectError, ObjectInfo, PartRef, UploadedPart, same_etag};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CompleteRequest {
    parts: Option<Vec<PartInput>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct PartInput {
    pub(super) part_number: u32,
    pub(super) etag: String,
}

#[derive(Serialize)]
struct Completed<'a> {
    video: VideoView<'a>,
}

pub(super) async fn handle(app: &App, owner: &Owner, req: &Request) -> Result<Response<Body>, ApiError> {
    let id = video_id(req)?;
    let request: CompleteRequest = json_body(req)?.unwrap_or_default();
    let video = finish(app, load_owned(app, owner, &id).await?, request.parts).await?;
    Ok(json_response(StatusCode::OK, &Completed { video: VideoView::from(&video) }))
}

/// Completes the caller's upload `video` with `parts` (all uploaded parts when `None`).
pub(super) async fn finish(
    app: &App,
    video: Video,
    parts: Option<Vec<PartInput>>,
) -> Result<Video, ApiError> {
    match (video.status, video.upload_id.clone()) {
        (Status::Uploading, Some(upload_id)) => complete(app, video, &upload_id, parts).await,
        (Status::Uploading, None) => complete_uploaded_object(app, video, parts).await,
        // Completing twice answers the same as the first time.
        (Status::Uploaded, _) => Ok(video),
        (other, _) => Err(finished_error(other)),
    }
}

async fn complete(
    app: &App,
    video: Video,
    upload_id: &str,
    wanted: Option<Vec<PartInput>>,
) -> Result<Video, ApiError> {
    let listed = match app.objects.list_parts(&video.key, upload_id).await {
        Ok(parts) => parts,
        Err(ObjectError::NoSuchUpload) => return finished(settle(app, &video, Change::Abort).await?),
        Err(e) => return Err(e.into()),
    };
    let chosen = choose_parts(&listed, wanted)?;
    check_sizes(&video, &chosen)?;

    let refs: Vec<PartRef> =
        chosen.iter().map(|p| PartRef { part_number: p.part_number, etag: p.etag.clone() }).collect();
    let etag = match app.objects.complete_multipart(&video.key, upload_id, &refs).await {
        Ok(etag) => etag,
        Err(ObjectError::NoSuchUpload) => return finished(settle(app, &video, Change::Abort).await?),
        Err(ObjectError::RejectedParts { code, message }) => {
            let code = match code.as_str() {
                "EntityTooSmall" => "part_too_small",
                "InvalidPartOrder" => "invalid_part_order",
                _ => "invalid_part",
            };
            return Err(ApiError::invalid(code, format!("S3 refused the parts: {message}")));
        }
        Err(e) => return Err(e.into()),
    };
    let size = chosen.iter().map(|p| p.size).sum();
    finished(arrived(app, &video, ObjectInfo { size, etag }).await?)
}

/// A credentials-mode or single-`PUT` upload: the client wrote the object itself; HeadObject says
/// what arrived.
async fn complete_uploaded_object(
    app: &App,
    video: Video,
    wanted: Option<Vec<PartInput>>,
) -> Result<Video, ApiError> {
    if wanted.is_some() {
        return Err(ApiError::invalid(
            "invalid_body",
            "this upload has no server-side multipart upload: complete it without a part list",
        ));
    }
    let Some(object) = app.objects.head(&video.key).await? else {
        return Err(ApiError::conflict(
            "object_not_uploaded",
            "the object is not in S3 yet: finish the upload (the PUT, or the SDK's CompleteMultipartUpload) first",
        ));
    };
    check_declared_size(&video, object.size)?;
    finished(arrived(app, &video, object).await?)
}

/// The reply once the record is final: uploaded is success, anything else lost a race or was
/// not a video.
fn finished(video: Video) -> Result<Video, ApiError> {
    match video.status {
        Status::Uploaded => Ok(video),
        other => Err(finished_error(other)),
    }
}

fn finished_error(status: Status) -> ApiError {
    match status {
        Status::Rejected => ApiError::Unprocessable {
            code: "not_a_video",
            message: "the uploaded bytes are not a known video container; the upload is rejected".into(),
        },
        other => not_uploading(other),
    }
}

/// The parts to complete with: the client's list checked against S3's, or all of S3's.
fn choose_parts(
    listed: &[UploadedPart],
    wanted: Option<Vec<PartInput>>,
) -> Result<Vec<UploadedPart>, ApiError> {
    let Some(mut wanted) = wanted else {
        if listed.is_empty() {
            return Err(ApiError::invalid("no_parts", "no parts have been uploaded yet"));
        }
        return Ok(listed.to_vec());
    };
    if wanted.is_empty() || wanted.len() > MAX_PARTS as usize {
        return Err(ApiError::invalid("no_parts", format!("parts must list 1 to {MAX_PARTS} parts")));
    }
    wanted.sort_by_key(|p| p.part_number);
    if let Some(dup) = wanted.windows(2).find(|w| w[0].part_number == w[1].part_number) {
        return Err(ApiError::invalid(
            "duplicate_part_number",
            format!("part number {} is listed twice", dup[0].part_number),
        ));
    }
    let by_number: HashMap<u32, &UploadedPart> = listed.iter().map(|p| (p.part_number, p)).collect();
    wanted
        .iter()
        .map(|w| {
            let part = by_number.get(&w.part_number).ok_or_else(|| {
                ApiError::invalid("missing_part", format!("part {} has not been uploaded", w.part_number))
            })?;
            if !same_etag(&part.etag, &w.etag) {
                return Err(ApiError::invalid(
                    "etag_mismatch",
                    format!("part {}: etag {} does not match the uploaded part", w.part_number, w.etag),
                ));
            }
            Ok((*part).clone())
        })
        .collect()
}

/// S3's rule (every part but the last ≥ 5 MiB) and the size the client declared.
fn check_sizes(video: &Video, parts: &[UploadedPart]) -> Result<(), ApiError> {
    if let Some(small) = parts[..parts.len() - 1].iter().find(|p| p.size < MIN_PART_SIZE) {
        return Err(ApiError::invalid(
            "part_too_small",
            format!(
                "part {} is {} bytes; every part but the last must be at least {MIN_PART_SIZE} bytes",
                small.part_number, small.size
            ),
        ));
    }
    check_declared_size(video, parts.iter().map(|p| p.size).sum())
}

/// Completing is irreversible, so bytes that differ from the declared size are refused first.
fn check_declared_size(video: &Video, uploaded: u64) -> Result<(), ApiError> {
    match video.size {
        Some(declared) if declared != uploaded => Err(ApiError::invalid(
            "size_mismatch",
            format!("{uploaded} bytes were uploaded but the upload declared {declared}"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::domain::parts::MIB;
    use crate::handlers::testing::{Harness, call};
    use crate::http::Function;

    async fn complete(h: &Harness, id: &str, body: Value) -> (u16, Value) {
        let body = if body.is_null() { String::new() } else { body.to_string() };
        call(&h.app, Function::CompleteUpload, h.raw("POST", &format!("/v1/uploads/{id}/complete"), &body))
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
        let (status, _) = call(&h.app, Function::AbortUpload, h.delete(&format!("/v1/uploads/{id}"))).await;
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
        let refs = [crate::objects::PartRef { part_number: 1, etag: parts[0].etag.clone() }];
        h.app.objects.complete_multipart(&video.key, upload, &refs).await.unwrap();

        let (status, body) = complete(&h, id, Value::Null).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["video"]["status"], "uploaded");
        assert_eq!(body["video"]["size"], MIB);
    }
}
