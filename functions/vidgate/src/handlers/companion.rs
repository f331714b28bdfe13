//! Uppy Companion's S3 protocol (`/s3/...`), served by the same functions, auth, records and
//! rules as `/v1`, so `@uppy/aws-s3` (and other Companion-style clients) need only `endpoint` and
//! an `Authorization` header.
//!
//! Companion names an upload by its S3 `uploadId` and `key`. Both must match one of the caller's
//! records, or the answer is 404, as for any upload that is not theirs. Request bodies are read
//! leniently (unknown fields ignored): these are other projects' clients, not ours.

use std::collections::BTreeMap;

use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::{Deserialize, Serialize};

use crate::app::{Credentials, Objects, Records};
use crate::domain::keys::video_id_of;
use crate::domain::time::{self, Timestamp};
use crate::domain::{Owner, UploadMethod, UploadRequest, Video};
use crate::http::ApiError;
use crate::http::request::{json_response, query, required_json_body};
use crate::uploads::{self, NamedPart, PartChoice, PartLengths, SignedParts, Started, owned};
use crate::view::VideoView;

#[derive(Deserialize)]
struct CreateBody {
    filename: Option<String>,
    #[serde(rename = "type")]
    content_type: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, serde_json::Value>,
}

/// Companion stores metadata values as text (`String(value)` in its JavaScript), so clients send
/// numbers, booleans and nulls (`{"size": 17825792}`, Uppy's `relativePath: null`); they are kept
/// as the same text. Objects and arrays have no such text and are refused by name.
fn companion_metadata(
    metadata: BTreeMap<String, serde_json::Value>,
) -> Result<BTreeMap<String, String>, ApiError> {
    use serde_json::Value;
    metadata
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                Value::String(text) => text,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => "null".to_owned(),
                Value::Array(_) | Value::Object(_) => {
                    return Err(ApiError::invalid(
                        "invalid_metadata",
                        format!("metadata value of {key:?} must be a string, number, boolean or null"),
                    ));
                }
            };
            Ok((key, text))
        })
        .collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Created<'a> {
    key: &'a str,
    upload_id: Option<&'a str>,
    bucket: &'a str,
    video: VideoView<'a>,
}

/// `POST /s3/multipart`: a presigned-mode upload of unknown size.
pub(super) async fn create_multipart(
    app: &(impl Objects + Credentials),
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let body: CreateBody = required_json_body(req)?;
    let request = UploadRequest {
        filename: body.filename,
        content_type: body.content_type,
        metadata: Some(companion_metadata(body.metadata)?),
        method: Some(UploadMethod::Presigned),
        ..UploadRequest::default()
    };
    let Started { video, .. } =
        uploads::start(app, owner, request.validate(&app.config().size_rules())?).await?;
    let created = Created {
        key: &video.key,
        upload_id: video.upload_id.as_deref(),
        bucket: &app.config().bucket,
        video: VideoView::from(&video),
    };
    Ok(json_response(StatusCode::OK, &created))
}

#[derive(Serialize)]
struct PostParams<'a> {
    method: &'static str,
    url: &'a str,
    /// The form fields to send, in this order, before the file (Companion's shape, as its own
    /// `createPresignedPost` answers).
    fields: serde_json::Map<String, serde_json::Value>,
    /// None: a form POST sets its own `Content-Type`.
    headers: BTreeMap<&'static str, String>,
    key: &'a str,
    video: VideoView<'a>,
}

/// `GET /s3/params?filename=&type=&metadata[k]=v`: one presigned POST form for a small file,
/// whose policy S3 holds the file to (its key, type, and 1 byte to the maximum video size). The
/// record becomes `uploaded` through the S3 event, or an explicit complete.
pub(super) async fn params(
    app: &(impl Objects + Credentials),
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let metadata: BTreeMap<String, String> = req
        .query_string_parameters_ref()
        .into_iter()
        .flat_map(|params| params.iter())
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("metadata[")?.strip_suffix(']')?;
            Some((name.to_owned(), v.to_owned()))
        })
        .collect();
    let request = UploadRequest {
        filename: query(req, "filename"),
        content_type: query(req, "type"),
        metadata: Some(metadata),
        method: Some(UploadMethod::Put),
        ..UploadRequest::default()
    };
    let Started { video, .. } =
        uploads::start(app, owner, request.validate(&app.config().size_rules())?).await?;
    let form = uploads::post_target(app, &video).await?;
    let reply = PostParams {
        method: "POST",
        url: &form.url,
        fields: form.fields.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect(),
        headers: BTreeMap::new(),
        key: &video.key,
        video: VideoView::from(&video),
    };
    Ok(json_response(StatusCode::OK, &reply))
}

/// The caller's upload named by the `{uploadId}` path parameter and the `key` query parameter.
async fn named_upload(app: &impl Records, owner: &Owner, req: &Request) -> Result<Video, ApiError> {
    let key = query(req, "key")
        .ok_or_else(|| ApiError::invalid("missing_key", "the key query parameter is required"))?;
    let upload_id = path_param(req, "uploadId").ok_or(ApiError::NotFound)?;
    let id = video_id_of(&key).ok_or(ApiError::NotFound)?;
    let video = owned(app, owner, &id).await?;
    if video.key != key || video.upload_id.as_deref() != Some(upload_id.as_str()) {
        return Err(ApiError::NotFound);
    }
    Ok(video)
}

/// A path parameter, percent-decoded (clients encode upload ids with `encodeURIComponent`).
fn path_param(req: &Request, name: &str) -> Option<String> {
    let raw = req.path_parameters_ref()?.first(name)?;
    Some(percent_encoding::percent_decode_str(raw).decode_utf8().ok()?.into_owned())
}

#[derive(Serialize)]
struct SignedPart {
    url: String,
    /// Seconds the URL stays valid, as Companion answers.
    expires: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignedBatch {
    presigned_urls: BTreeMap<String, String>,
}

/// `GET /s3/multipart/{uploadId}/{partNumber}` and `GET /s3/multipart/{uploadId}/batch?partNumbers=1,2`.
pub(super) async fn sign_parts(
    app: &impl Objects,
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let single = path_param(req, "partNumber");
    // `GET /s3/multipart/{uploadId}/complete` reaches this route through `{partNumber}` (in API
    // Gateway too); that resource is the complete route's, which takes POST only.
    if single.as_deref() == Some("complete") {
        return Err(ApiError::MethodNotAllowed { allow: "POST" });
    }
    let numbers = match &single {
        Some(n) => vec![part_number(n)?],
        None => {
            let list = query(req, "partNumbers").ok_or_else(|| {
                ApiError::invalid("invalid_part_numbers", "the partNumbers query parameter is required")
            })?;
            // How many, which and duplicates: `uploads::sign_parts` checks, as for /v1.
            list.split(',').map(|n| part_number(n.trim())).collect::<Result<Vec<_>, _>>()?
        }
    };
    let video = named_upload(app, owner, req).await?;
    // Companion's protocol has no word for a part that arrived: every part is signed.
    let choice = PartChoice::Numbers(numbers);
    let SignedParts { urls: signed, expires_at, .. } =
        uploads::sign_parts(app, &video, choice, PartLengths::Unsayable, None, false).await?;
    let mut signed = signed.into_iter().filter_map(|part| Some((part.part_number, part.url?)));
    if single.is_some() {
        let (_, url) = signed.next().ok_or_else(|| ApiError::Internal("no URL signed".into()))?;
        return Ok(json_response(StatusCode::OK, &SignedPart { url, expires: seconds_until(expires_at) }));
    }
    let presigned_urls = signed.map(|(number, url)| (number.to_string(), url)).collect();
    Ok(json_response(StatusCode::OK, &SignedBatch { presigned_urls }))
}

fn part_number(text: &str) -> Result<u32, ApiError> {
    text.parse().map_err(|_| {
        ApiError::invalid("invalid_part_numbers", format!("{text:?} is not a part number (1 to 10000)"))
    })
}

fn seconds_until(at: Timestamp) -> u64 {
    (at - time::now()).num_seconds().max(0) as u64
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListedPart<'a> {
    part_number: u32,
    #[serde(rename = "ETag")]
    etag: &'a str,
    size: u64,
}

/// `GET /s3/multipart/{uploadId}?key=`: every uploaded part, as a bare array.
pub(super) async fn list_parts(
    app: &impl Objects,
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let video = named_upload(app, owner, req).await?;
    let parts = uploads::list_parts(app, &video).await?;
    let listed: Vec<ListedPart> = parts
        .iter()
        .map(|p| ListedPart { part_number: p.part_number, etag: &p.etag, size: p.size })
        .collect();
    Ok(json_response(StatusCode::OK, &listed))
}

#[derive(Deserialize)]
struct CompleteBody {
    parts: Vec<CompletePart>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CompletePart {
    part_number: u32,
    #[serde(rename = "ETag")]
    etag: String,
}

#[derive(Serialize)]
struct Completed<'a> {
    /// Where the video is in this API (the object itself is private).
    location: String,
    key: &'a str,
    bucket: &'a str,
    video: VideoView<'a>,
}

/// `POST /s3/multipart/{uploadId}/complete?key=` `{parts: [{PartNumber, ETag}]}`.
pub(super) async fn complete(
    app: &impl Objects,
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let body: CompleteBody = required_json_body(req)?;
    // Duplicates, missing parts and wrong ETags: `uploads::finish` checks them against S3's list.
    let parts = body
        .parts
        .into_iter()
        .map(|p| NamedPart { part_number: p.part_number, etag: p.etag, checksum: None })
        .collect();
    let video = uploads::finish(app, named_upload(app, owner, req).await?, Some(parts), None).await?;
    let reply = Completed {
        location: format!("/v1/videos/{}", video.id),
        key: &video.key,
        bucket: &app.config().bucket,
        video: VideoView::from(&video),
    };
    Ok(json_response(StatusCode::OK, &reply))
}

/// `DELETE /s3/multipart/{uploadId}?key=`.
pub(super) async fn abort(
    app: &impl Objects,
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    uploads::abort(app, named_upload(app, owner, req).await?).await?;
    Ok(json_response(StatusCode::OK, &serde_json::json!({})))
}

#[derive(Serialize)]
struct StsReply<'a> {
    credentials: StsCredentials<'a>,
    bucket: &'a str,
    region: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct StsCredentials<'a> {
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: &'a str,
    #[serde(with = "time")]
    expiration: Timestamp,
}

/// `GET /s3/sts`: credentials for the caller's whole prefix (clients cache them across files).
pub(super) async fn sts(app: &impl Credentials, owner: &Owner) -> Result<Response<Body>, ApiError> {
    let grant = uploads::grant_prefix(app, owner).await?;
    let c = &grant.credentials;
    let reply = StsReply {
        credentials: StsCredentials {
            access_key_id: &c.access_key_id,
            secret_access_key: &c.secret_access_key,
            session_token: &c.session_token,
            expiration: c.expiration,
        },
        bucket: &grant.bucket,
        region: &grant.region,
    };
    Ok(json_response(StatusCode::OK, &reply))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use crate::credentials::fixed::Recording;
    use crate::domain::Owner;
    use crate::domain::keys::owner_prefix;
    use crate::domain::parts::MIB;
    use crate::handlers::testing::{Harness, call};
    use crate::http::HttpFunction;
    use crate::store::VideoStore;

    fn enc(text: &str) -> String {
        form_urlencoded::byte_serialize(text.as_bytes()).collect()
    }

    async fn create(h: &Harness) -> (String, String, String) {
        let body = json!({"filename": "cat.mp4", "type": "video/mp4", "metadata": {"name": "cat.mp4", "type": "video/mp4"}});
        let (status, reply) = call(&h.app, HttpFunction::CreateUpload, h.post("/s3/multipart", body)).await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["bucket"], "bucket");
        let (key, upload) = (reply["key"].as_str().unwrap(), reply["uploadId"].as_str().unwrap());
        (key.to_owned(), upload.to_owned(), reply["video"]["id"].as_str().unwrap().to_owned())
    }

    #[tokio::test]
    async fn create_sign_list_complete_in_companion_shapes() {
        let h = Harness::new();
        let (key, upload, id) = create(&h).await;
        assert_eq!(h.stored(&id).await.unwrap().metadata["name"], "cat.mp4");

        let one = format!("/s3/multipart/{upload}/3?key={}", enc(&key));
        let (status, reply) = call(&h.app, HttpFunction::SignParts, h.get(&one)).await;
        assert_eq!(status, 200, "{reply}");
        assert!(reply["url"].as_str().unwrap().contains("partNumber=3"), "{reply}");
        assert!((1..=3600).contains(&reply["expires"].as_u64().unwrap()), "{reply}");

        let batch = format!("/s3/multipart/{upload}/batch?key={}&partNumbers=1,2", enc(&key));
        let (status, reply) = call(&h.app, HttpFunction::SignParts, h.get(&batch)).await;
        assert_eq!(status, 200, "{reply}");
        let urls = reply["presignedUrls"].as_object().unwrap();
        assert_eq!(urls.keys().collect::<Vec<_>>(), ["1", "2"]);
        assert!(urls["2"].as_str().unwrap().contains("partNumber=2"));

        let etag1 = h.objects.put_part(&upload, 1, 5 * MIB).unwrap();
        let etag2 = h.objects.put_part(&upload, 2, MIB).unwrap();
        let listing = format!("/s3/multipart/{upload}?key={}", enc(&key));
        let (status, reply) = call(&h.app, HttpFunction::ListParts, h.get(&listing)).await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(
            reply,
            json!([{"PartNumber": 1, "ETag": etag1, "Size": 5 * MIB}, {"PartNumber": 2, "ETag": etag2, "Size": MIB}])
        );

        let done = format!("/s3/multipart/{upload}/complete?key={}", enc(&key));
        let parts = json!({"parts": [{"PartNumber": 1, "ETag": etag1}, {"PartNumber": 2, "ETag": etag2}]});
        let (status, reply) = call(&h.app, HttpFunction::CompleteUpload, h.post(&done, parts)).await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!((reply["key"].as_str(), reply["bucket"].as_str()), (Some(key.as_str()), Some("bucket")));
        assert_eq!(reply["location"], format!("/v1/videos/{id}"));
        assert_eq!(reply["video"]["status"], "uploaded");
        assert_eq!(h.stored(&id).await.unwrap().size, Some(6 * MIB));
    }

    #[tokio::test]
    async fn an_upload_that_is_not_the_callers_is_404_and_abort_answers_an_empty_object() {
        let h = Harness::new();
        let (key, upload, id) = create(&h).await;
        let (_, other_upload, _) = create(&h).await;
        let listing = |upload: &str, key: &str| format!("/s3/multipart/{upload}?key={}", enc(key));
        let bob = h.request("GET", &listing(&upload, &key), "", Some("bob"));
        assert_eq!(call(&h.app, HttpFunction::ListParts, bob).await.0, 404);
        for path in [
            listing(&other_upload, &key),
            listing(&upload, "videos/0000/x.mp4"),
            listing(&upload, &key.replace(".mp4", ".mov")),
        ] {
            let (status, reply) = call(&h.app, HttpFunction::ListParts, h.get(&path)).await;
            assert_eq!((status, reply["error"]["code"].as_str()), (404, Some("video_not_found")), "{path}");
        }
        let (status, reply) =
            call(&h.app, HttpFunction::ListParts, h.get(&format!("/s3/multipart/{upload}"))).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("missing_key")));
        let complete = format!("/s3/multipart/{upload}/complete?key={}", enc(&key));
        let (status, reply) = call(&h.app, HttpFunction::SignParts, h.get(&complete)).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (405, Some("method_not_allowed")));
        let bad = format!("/s3/multipart/{upload}/batch?key={}&partNumbers=1,x", enc(&key));
        assert_eq!(call(&h.app, HttpFunction::SignParts, h.get(&bad)).await.0, 400);
        // The /v1 rules hold here too: duplicates and too many numbers, twice listed parts.
        let many: Vec<String> = (1..=1001).map(|n| n.to_string()).collect();
        for (numbers, code) in
            [("1,1".to_string(), "duplicate_part_number"), (many.join(","), "invalid_part_numbers")]
        {
            let path = format!("/s3/multipart/{upload}/batch?key={}&partNumbers={numbers}", enc(&key));
            let (status, reply) = call(&h.app, HttpFunction::SignParts, h.get(&path)).await;
            assert_eq!((status, reply["error"]["code"].as_str()), (400, Some(code)));
        }
        let etag = h.objects.put_part(&upload, 1, MIB).unwrap();
        let twice = json!({"parts": [{"PartNumber": 1, "ETag": etag}, {"PartNumber": 1, "ETag": etag}]});
        let done = format!("/s3/multipart/{upload}/complete?key={}", enc(&key));
        let (status, reply) = call(&h.app, HttpFunction::CompleteUpload, h.post(&done, twice)).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("duplicate_part_number")));

        let (status, reply) =
            call(&h.app, HttpFunction::AbortUpload, h.delete(&listing(&upload, &key))).await;
        assert_eq!((status, reply), (200, json!({})));
        assert!(!h.objects.has_upload(&upload));
        assert_eq!(h.stored(&id).await.unwrap().status.as_str(), "aborted");
    }

    #[tokio::test]
    async fn metadata_scalars_are_stored_as_text_and_structures_are_refused() {
        let h = Harness::new();
        let body = json!({"filename": "a.mp4", "type": "video/mp4",
            "metadata": {"size": 17825792, "ratio": 1.5, "public": true, "relativePath": null, "name": "a.mp4"}});
        let (status, reply) = call(&h.app, HttpFunction::CreateUpload, h.post("/s3/multipart", body)).await;
        assert_eq!(status, 200, "{reply}");
        let stored = h.stored(reply["video"]["id"].as_str().unwrap()).await.unwrap();
        let text = |k: &str| stored.metadata[k].clone();
        assert_eq!(
            [text("size"), text("ratio"), text("public"), text("relativePath"), text("name")],
            ["17825792", "1.5", "true", "null", "a.mp4"]
        );
        for bad in [json!({"tags": ["a"]}), json!({"geo": {"lat": 1}})] {
            let body = json!({"filename": "a.mp4", "type": "video/mp4", "metadata": bad});
            let (status, reply) =
                call(&h.app, HttpFunction::CreateUpload, h.post("/s3/multipart", body)).await;
            assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("invalid_metadata")), "{reply}");
            assert!(reply["error"]["message"].as_str().unwrap().contains("must be a string"), "{reply}");
        }
    }

    #[tokio::test]
    async fn params_presigns_one_post_form_and_the_record_completes_when_the_object_is_there() {
        let h = Harness::new();
        let path = "/s3/params?filename=small.webm&type=video%2Fwebm&metadata%5Bcaption%5D=hi";
        let (status, reply) = call(&h.app, HttpFunction::CreateUpload, h.get(path)).await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["method"], "POST");
        assert_eq!(reply["headers"], json!({}));
        let key = reply["key"].as_str().unwrap();
        assert_eq!(reply["fields"]["key"], key);
        assert_eq!(reply["fields"]["Content-Type"], "video/webm");
        // The file is held to 1 byte .. the maximum video size.
        assert_eq!(reply["fields"]["content-length-range"], format!("1,{}", 32u64 << 30));
        assert!(reply["url"].as_str().unwrap().ends_with('/'), "{reply}");
        let id = reply["video"]["id"].as_str().unwrap();
        let stored = h.stored(id).await.unwrap();
        assert_eq!((stored.method, stored.upload_id.clone()), (crate::domain::UploadMethod::Put, None));
        assert_eq!(stored.metadata["caption"], "hi");

        // Parts make no sense for it, and completing before the PUT says so.
        let complete = format!("/v1/uploads/{id}/complete");
        let (status, reply) = call(&h.app, HttpFunction::CompleteUpload, h.raw("POST", &complete, "")).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (409, Some("object_not_uploaded")));
        h.objects.put_object(key, crate::objects::memory::video_like(3000, 1));
        let (status, reply) = call(&h.app, HttpFunction::CompleteUpload, h.raw("POST", &complete, "")).await;
        assert_eq!((status, reply["video"]["status"].as_str()), (200, Some("uploaded")), "{reply}");

        let (status, reply) =
            call(&h.app, HttpFunction::CreateUpload, h.get("/s3/params?filename=a.txt&type=text%2Fplain"))
                .await;
        assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("unsupported_content_type")));
    }

    #[tokio::test]
    async fn sts_answers_pascal_case_credentials_for_the_callers_prefix_and_remembers_it() {
        let mut h = Harness::new();
        let recording = Arc::new(Recording::default());
        h.app = h.app.clone().with_credentials(recording.clone());
        let (status, reply) = call(&h.app, HttpFunction::IssueCredentials, h.get("/s3/sts")).await;
        assert_eq!(status, 200, "{reply}");
        assert!(reply["credentials"]["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
        for field in ["SecretAccessKey", "SessionToken", "Expiration"] {
            assert!(reply["credentials"][field].is_string(), "{field}: {reply}");
        }
        assert_eq!((reply["bucket"].as_str(), reply["region"].as_str()), (Some("bucket"), Some("us-east-1")));
        let prefix = owner_prefix(&Owner::new("alice"));
        let policy: Value = serde_json::from_str(&recording.issued.lock().unwrap()[0].1).unwrap();
        assert_eq!(policy["Statement"][0]["Resource"], json!([format!("arn:aws:s3:::bucket/{prefix}*")]));
        assert_eq!(h.videos.prefix_owner(&prefix).await.unwrap(), Some(Owner::new("alice")));

        // Without an uploader role the route says so, as /v1 does.
        let h = Harness::new();
        let (status, reply) = call(&h.app, HttpFunction::IssueCredentials, h.get("/s3/sts")).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("credentials_not_enabled")));
    }
}
