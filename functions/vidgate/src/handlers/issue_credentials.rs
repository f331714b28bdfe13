//! `POST /v1/uploads/{videoId}/credentials`: fresh temporary credentials for a credentials-mode
//! upload that is still in progress.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::app::Credentials;
use crate::domain::{Owner, UploadMethod};
use crate::http::ApiError;
use crate::http::request::{json_response, video_id};
use crate::uploads::{grant, owned, require_uploading};
use crate::view::GrantView;

#[derive(Serialize)]
struct Issued<'a> {
    #[serde(flatten)]
    grant: GrantView<'a>,
    key: &'a str,
}

pub(super) async fn handle(
    app: &impl Credentials,
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let video = owned(app, owner, &video_id(req)?).await?;
    if video.method != UploadMethod::Credentials {
        return Err(ApiError::conflict(
            "presigned_upload",
            "this upload uses presigned part URLs; ask for part-urls instead",
        ));
    }
    require_uploading(&video)?;
    let grant = grant(app, &video).await?;
    Ok(json_response(StatusCode::OK, &Issued { grant: GrantView::from(&grant), key: &video.key }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use crate::credentials::fixed::Recording;
    use crate::handlers::testing::{Harness, call};
    use crate::http::HttpFunction;

    #[tokio::test]
    async fn a_credentials_upload_gets_credentials_scoped_to_its_key_and_no_upload_id() {
        let mut h = Harness::new();
        let recording = Arc::new(Recording::default());
        h.app = h.app.clone().with_credentials(recording.clone());
        let created = h.create(json!({"filename": "a.mp4", "method": "credentials"})).await;
        assert!(created.get("uploadId").is_none(), "{created}");
        assert_eq!(created["bucket"], "bucket");
        assert_eq!(created["region"], "us-east-1");
        assert!(created["credentials"]["accessKeyId"].as_str().unwrap().starts_with("ASIA"));
        assert!(created["credentials"]["expiration"].is_string());
        assert_eq!(created["video"]["method"], "credentials");
        let key = created["key"].as_str().unwrap();
        {
            let issued = recording.issued.lock().unwrap();
            let (session, policy) = &issued[0];
            assert_eq!(session, &format!("vidgate-{}", created["videoId"].as_str().unwrap()));
            let policy: serde_json::Value = serde_json::from_str(policy).unwrap();
            assert_eq!(policy["Statement"][0]["Resource"], json!([format!("arn:aws:s3:::bucket/{key}")]));
        }

        let id = created["videoId"].as_str().unwrap();
        let path = format!("/v1/uploads/{id}/credentials");
        let (status, fresh) = call(&h.app, HttpFunction::IssueCredentials, h.raw("POST", &path, "")).await;
        assert_eq!(status, 200, "{fresh}");
        assert_eq!(fresh["key"], key);
        let (status, _) =
            call(&h.app, HttpFunction::IssueCredentials, h.request("POST", &path, "", Some("bob"))).await;
        assert_eq!(status, 404);
        // Presigned-mode routes don't apply.
        let (status, body) = call(
            &h.app,
            HttpFunction::SignParts,
            h.post(&format!("/v1/uploads/{id}/part-urls"), json!({"partNumbers": [1]})),
        )
        .await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("credentials_upload")));
        // Finished: no more credentials.
        call(&h.app, HttpFunction::AbortUpload, h.delete(&format!("/v1/uploads/{id}"))).await;
        let (status, body) = call(&h.app, HttpFunction::IssueCredentials, h.raw("POST", &path, "")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("upload_aborted")));
    }

    #[tokio::test]
    async fn without_an_uploader_role_credentials_mode_is_a_clear_400_and_nothing_is_left_uploading() {
        let h = Harness::new();
        let (status, body) = call(
            &h.app,
            HttpFunction::CreateUpload,
            h.post("/v1/uploads", json!({"filename": "a.mp4", "method": "credentials"})),
        )
        .await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("credentials_not_enabled")));
        let (_, listing) = call(&h.app, HttpFunction::ListVideos, h.get("/v1/videos?status=uploading")).await;
        assert_eq!(listing["videos"], json!([]));
        let (status, body) = call(
            &h.app,
            HttpFunction::CreateUpload,
            h.post("/v1/uploads", json!({"filename": "a.mp4", "method": "carrier-pigeon"})),
        )
        .await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_body")));
    }
}
