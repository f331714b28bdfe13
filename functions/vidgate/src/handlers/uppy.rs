//! What `@uppy/aws-s3` 6.x asks of a backend (`/uppy/...`), with the caller's JWT:
//!
//! - `POST /uppy/sign` takes the plugin's `signRequest` argument as it is (`{method, key,
//!   uploadId?, partNumber?, contentType?, expiresIn?}`) and answers its `PresignedResponse`
//!   (`{url, key?, headers?}`). The request that starts an upload (PutObject, or
//!   CreateMultipartUpload) records it and answers the key vidgate chose — the plugin stores the
//!   object there — and every later request must name a key of the caller's own upload still in
//!   progress, or the answer is 404 / 409, as anywhere else.
//! - `GET /uppy/credentials` answers `getCredentials`: prefix-scoped temporary credentials, plus
//!   the `endpoint` to give the plugin as `s3Endpoint` and the `prefix` its object keys must
//!   start with.
//!
//! The plugin sends one request per S3 call and reads S3's answers itself; so a multipart upload
//! signed here is the client's (`UploadMethod::Signed`), and S3's event records its arrival.

use std::collections::BTreeMap;
use std::time::Duration;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

use crate::app::{Credentials, Objects};
use crate::domain::keys::owner_prefix;
use crate::domain::{NewUpload, Owner, UploadRequest};
use crate::http::ApiError;
use crate::http::request::{json_response, required_json_body};
use crate::uploads::{self, ClientCall, Presigned};
use crate::view::GrantView;

/// Uppy's `PresignableRequest`. Unknown fields are ignored: this is another project's shape.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignBody {
    method: String,
    key: String,
    upload_id: Option<String>,
    part_number: Option<u32>,
    content_type: Option<String>,
    expires_in: Option<u64>,
}

/// The longest key or upload id accepted (S3 keys are at most 1,024 bytes).
const MAX_NAME_CHARS: usize = 1024;

impl SignBody {
    /// Bounds checked before anything is recorded or signed, as the OpenAPI schema states them.
    fn check(&self) -> Result<(), ApiError> {
        let invalid = |message: String| Err(ApiError::invalid("invalid_request", message));
        if !matches!(self.method.as_str(), "PUT" | "POST" | "GET" | "DELETE") {
            return invalid(format!("method must be PUT, POST, GET or DELETE, not {:?}", self.method));
        }
        if self.key.is_empty() || self.key.chars().count() > MAX_NAME_CHARS {
            return invalid(format!("key must be 1 to {MAX_NAME_CHARS} characters"));
        }
        if self.upload_id.as_deref().is_some_and(|u| u.is_empty() || u.chars().count() > MAX_NAME_CHARS) {
            return invalid(format!("uploadId must be 1 to {MAX_NAME_CHARS} characters"));
        }
        if self.expires_in.is_some_and(|s| !(1..=MAX_PRESIGN_SECS).contains(&s)) {
            return invalid(format!("expiresIn must be 1 to {MAX_PRESIGN_SECS} seconds"));
        }
        Ok(())
    }
}

/// SigV4 presigned URLs live at most seven days.
const MAX_PRESIGN_SECS: u64 = 604_800;

/// Uppy's `PresignedResponse`.
#[derive(Serialize)]
struct PresignedReply<'a> {
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<&'static str, String>,
}

/// `POST /uppy/sign`.
pub(super) async fn sign_request(
    app: &impl Objects,
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let body: SignBody = required_json_body(req)?;
    body.check()?;
    let key = body.key.as_str();
    let call = match (body.method.as_str(), body.upload_id.as_deref(), body.part_number) {
        // PutObject, and CreateMultipartUpload (which the client later completes itself): the
        // upload is recorded. The content type is the one vidgate resolved; Uppy >= 6.2 sends it
        // from `headers`, older 6.x the file's own (neither is signed).
        ("PUT", None, None) => ClientCall::PutObject(new_upload(app, &body)?),
        ("POST", None, None) => ClientCall::CreateMultipart(new_upload(app, &body)?),
        ("PUT", Some(upload_id), Some(part_number)) => ClientCall::UploadPart { key, upload_id, part_number },
        ("GET", Some(upload_id), None) => ClientCall::ListParts { key, upload_id },
        ("POST", Some(upload_id), None) => ClientCall::Complete { key, upload_id },
        ("DELETE", Some(upload_id), None) => ClientCall::Abort { key, upload_id },
        ("DELETE", None, None) => {
            return Err(ApiError::invalid(
                "unsupported_request",
                "objects are not deleted through /uppy/sign; abort an upload with its uploadId",
            ));
        }
        _ => {
            return Err(ApiError::invalid(
                "invalid_request",
                "expected PutObject {method: PUT, key, contentType}, CreateMultipartUpload {method: POST, key}, \
                 or UploadPart / ListParts / CompleteMultipartUpload / AbortMultipartUpload with an uploadId",
            ));
        }
    };
    // The plugin asks for its own lifetime; vidgate's part-URL lifetime is the most it gets.
    let expires_in = body.expires_in.map(Duration::from_secs);
    let Presigned { url, started } = uploads::sign_client_request(app, owner, call, expires_in).await?;
    // A started upload answers the key vidgate chose (the plugin stores the object there) and the
    // content type to send.
    let (key, headers) = match &started {
        Some(video) => {
            (Some(video.key.as_str()), BTreeMap::from([("content-type", video.content_type.clone())]))
        }
        None => (None, BTreeMap::new()),
    };
    Ok(json_response(StatusCode::OK, &PresignedReply { url, key, headers }))
}

/// The upload the request that starts one describes. The key the client proposed only names the
/// file: vidgate makes the key, as everywhere.
fn new_upload(app: &impl Objects, body: &SignBody) -> Result<NewUpload, ApiError> {
    let request = UploadRequest {
        filename: Some(filename_of(&body.key).to_owned()),
        content_type: body.content_type.clone(),
        ..UploadRequest::default()
    };
    Ok(request.validate(&app.config().size_rules())?)
}

/// The file name in a key Uppy proposed: its last segment, less the `<uuid>-` that Uppy's default
/// `generateObjectKey` puts in front.
fn filename_of(key: &str) -> &str {
    let name = key.rsplit('/').next().unwrap_or(key);
    match name.split_at_checked(36) {
        Some((uuid, rest))
            if uuid::Uuid::try_parse(uuid).is_ok() && rest.len() > 1 && rest.starts_with('-') =>
        {
            &rest[1..]
        }
        _ => name,
    }
}

#[derive(Serialize)]
struct CredentialsReply<'a> {
    #[serde(flatten)]
    grant: GrantView<'a>,
    /// The plugin's `s3Endpoint`: object URLs are this plus `/<key>`.
    endpoint: String,
    /// Keys must start with it (`generateObjectKey`); the credentials write nothing else.
    prefix: String,
}

/// `GET /uppy/credentials`.
pub(super) async fn credentials(
    app: &(impl Objects + Credentials),
    owner: &Owner,
) -> Result<Response<Body>, ApiError> {
    let grant = uploads::grant_prefix(app, owner).await?;
    let reply = CredentialsReply {
        grant: GrantView::from(&grant),
        endpoint: app.objects().bucket_url(),
        prefix: owner_prefix(owner),
    };
    Ok(json_response(StatusCode::OK, &reply))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::filename_of;
    use crate::credentials::fixed::Recording;
    use crate::handlers::testing::{Harness, call};
    use crate::http::HttpFunction;

    async fn sign(h: &Harness, body: Value) -> (u16, Value) {
        call(&h.app, HttpFunction::SignRequest, h.post("/uppy/sign", body)).await
    }

    #[test]
    fn the_file_name_comes_out_of_uppys_proposed_key() {
        assert_eq!(filename_of("cat.mp4"), "cat.mp4");
        assert_eq!(filename_of("3f1c2a4e-8b6d-4c1a-9e2f-0a1b2c3d4e5f-cat.mp4"), "cat.mp4");
        assert_eq!(filename_of("some/dir/cat.mp4"), "cat.mp4");
        assert_eq!(
            filename_of("not-a-uuid-at-all-but-thirty-six-chars-cat.mp4"),
            "not-a-uuid-at-all-but-thirty-six-chars-cat.mp4"
        );
    }

    #[tokio::test]
    async fn a_multipart_upload_is_recorded_at_create_and_each_later_request_is_signed_for_its_key_only() {
        let h = Harness::new();
        let (status, created) =
            sign(&h, json!({"method": "POST", "key": "3f1c2a4e-8b6d-4c1a-9e2f-0a1b2c3d4e5f-cat.mp4"})).await;
        assert_eq!(status, 200, "{created}");
        let key = created["key"].as_str().unwrap().to_owned();
        assert!(key.starts_with("videos/") && key.ends_with(".mp4"), "{created}");
        assert_eq!(created["headers"], json!({"content-type": "video/mp4"}));
        assert!(created["url"].as_str().unwrap().contains("uploads"), "{created}");
        let id = crate::domain::keys::video_id_of(&key).unwrap().to_string();
        let stored = h.stored(&id).await.unwrap();
        assert_eq!(
            (stored.method, stored.filename.as_str()),
            (crate::domain::UploadMethod::Signed, "cat.mp4")
        );
        assert_eq!(stored.status.as_str(), "uploading");

        for (body, wants) in [
            (json!({"method": "PUT", "key": key, "uploadId": "u-1", "partNumber": 2}), "partNumber=2"),
            (json!({"method": "GET", "key": key, "uploadId": "u-1"}), "method=GET"),
            (json!({"method": "POST", "key": key, "uploadId": "u-1"}), "method=POST"),
        ] {
            let (status, reply) = sign(&h, body.clone()).await;
            assert_eq!(status, 200, "{body} → {reply}");
            let url = reply["url"].as_str().unwrap();
            assert!(url.contains(&key) && url.contains("uploadId=u-1") && url.contains(wants), "{url}");
            assert!(reply.get("key").is_none(), "only the first request overrides the key: {reply}");
        }

        // Another user, a key that is not an upload, a part out of range: nothing is signed.
        let bob = h.request(
            "POST",
            "/uppy/sign",
            &json!({"method": "GET", "key": key, "uploadId": "u-1"}).to_string(),
            Some("bob"),
        );
        assert_eq!(call(&h.app, HttpFunction::SignRequest, bob).await.0, 404);
        let (status, _) =
            sign(&h, json!({"method": "GET", "key": "videos/x/y.mp4", "uploadId": "u-1"})).await;
        assert_eq!(status, 404);
        let (status, reply) =
            sign(&h, json!({"method": "PUT", "key": key, "uploadId": "u-1", "partNumber": 10001})).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("invalid_part_numbers")));
        for bad in [
            json!({"method": "PATCH", "key": key}),
            json!({"method": "DELETE", "key": key}),
            json!({"key": key}),
        ] {
            let (status, reply) = sign(&h, bad.clone()).await;
            assert_eq!(status, 400, "{bad} → {reply}");
            assert!(reply["error"]["code"].is_string(), "{reply}");
        }

        // Abort: recorded at once; what is open on the key is aborted; then nothing more is signed.
        let upload = crate::objects::ObjectStore::create_multipart(&*h.objects, &key, "video/mp4", None)
            .await
            .unwrap();
        let (status, reply) = sign(&h, json!({"method": "DELETE", "key": key, "uploadId": upload})).await;
        assert_eq!(status, 200, "{reply}");
        assert!(!h.objects.has_upload(&upload));
        assert_eq!(h.stored(&id).await.unwrap().status.as_str(), "aborted");
        let (status, reply) =
            sign(&h, json!({"method": "PUT", "key": key, "uploadId": upload, "partNumber": 1})).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (409, Some("upload_aborted")));
    }

    #[tokio::test]
    async fn a_put_object_is_recorded_as_a_put_upload_with_its_signed_type() {
        let h = Harness::new();
        let (status, reply) =
            sign(&h, json!({"method": "PUT", "key": "clip.webm", "contentType": "video/webm"})).await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["headers"], json!({"content-type": "video/webm"}));
        let key = reply["key"].as_str().unwrap();
        let id = crate::domain::keys::video_id_of(key).unwrap().to_string();
        assert_eq!(h.stored(&id).await.unwrap().method, crate::domain::UploadMethod::Put);
        // Parts of a put upload are not signed here.
        let (status, _) =
            sign(&h, json!({"method": "PUT", "key": key, "uploadId": "u", "partNumber": 1})).await;
        assert_eq!(status, 404);
        let (status, reply) =
            sign(&h, json!({"method": "PUT", "key": "notes.txt", "contentType": "text/plain"})).await;
        assert_eq!((status, reply["error"]["code"].as_str()), (400, Some("unsupported_content_type")));
    }

    #[tokio::test]
    async fn credentials_come_with_the_endpoint_and_the_prefix_keys_must_use() {
        let mut h = Harness::new();
        let recording = Arc::new(Recording::default());
        h.app = h.app.clone().with_credentials(recording.clone());
        let (status, reply) = call(&h.app, HttpFunction::IssueCredentials, h.get("/uppy/credentials")).await;
        assert_eq!(status, 200, "{reply}");
        for field in ["accessKeyId", "secretAccessKey", "sessionToken", "expiration"] {
            assert!(reply["credentials"][field].is_string(), "{field}: {reply}");
        }
        assert_eq!(reply["region"], "us-east-1");
        assert_eq!(reply["endpoint"], "memory://bucket");
        let prefix = crate::domain::keys::owner_prefix(&crate::domain::Owner::new("alice"));
        assert_eq!(reply["prefix"], prefix);
        let policy: Value = serde_json::from_str(&recording.issued.lock().unwrap()[0].1).unwrap();
        assert_eq!(policy["Statement"][0]["Resource"], json!([format!("arn:aws:s3:::bucket/{prefix}*")]));
    }
}
