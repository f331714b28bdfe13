//! `POST /v1/uploads/{videoId}/credentials`: fresh temporary credentials for a credentials-mode
//! upload that is still in progress.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use super::{load_owned, require_uploading};
use crate::App;
use crate::credentials::CredentialError;
use crate::domain::credentials::{PolicyDocument, prefix_upload_policy, upload_policy};
use crate::domain::time::{self, Timestamp};
use crate::domain::{Owner, UploadMethod, Video, keys};
use crate::http::ApiError;
use crate::http::request::{json_response, video_id};

/// What a client needs to upload with an AWS SDK.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CredentialsGrant {
    pub(super) credentials: Credentials,
    pub(super) bucket: String,
    pub(super) region: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Credentials {
    pub(super) access_key_id: String,
    pub(super) secret_access_key: String,
    pub(super) session_token: String,
    #[serde(with = "time")]
    pub(super) expiration: Timestamp,
}

#[derive(Serialize)]
struct Issued<'a> {
    #[serde(flatten)]
    grant: CredentialsGrant,
    key: &'a str,
}

/// Credentials that can write exactly `video.key` (see `domain::credentials`).
pub(super) async fn grant(app: &App, video: &Video) -> Result<CredentialsGrant, ApiError> {
    let policy = upload_policy(app.credentials.region(), &app.config.bucket, &video.key);
    issue(app, &format!("vidgate-{}", video.id), &policy).await
}

/// Credentials that can write any key under `owner`'s prefix, and nothing else. The prefix is
/// remembered first, so every object they write can be attributed to its owner.
pub(super) async fn grant_prefix(app: &App, owner: &Owner) -> Result<CredentialsGrant, ApiError> {
    let prefix = keys::owner_prefix(owner);
    app.videos.remember_prefix(&prefix, owner).await?;
    let policy = prefix_upload_policy(app.credentials.region(), &app.config.bucket, &prefix);
    // The session name shows in CloudTrail; the hash part of the prefix names the owner there.
    let hash = prefix.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    issue(app, &format!("vidgate-prefix-{hash}"), &policy).await
}

async fn issue(app: &App, session: &str, policy: &PolicyDocument) -> Result<CredentialsGrant, ApiError> {
    let region = app.credentials.region().to_owned();
    let policy = serde_json::to_string(policy).expect("policies serialize");
    let issued =
        app.credentials.issue(session, &policy, app.config.credentials_ttl).await.map_err(|e| match e {
            CredentialError::Disabled => ApiError::invalid(
                "credentials_not_enabled",
                "this deployment has no uploader role; use \"method\": \"presigned\"",
            ),
            CredentialError::Unavailable(why) => ApiError::Unavailable(format!("sts: {why}")),
            CredentialError::Other(why) => ApiError::Internal(format!("sts: {why}")),
        })?;
    Ok(CredentialsGrant {
        credentials: Credentials {
            access_key_id: issued.access_key_id,
            secret_access_key: issued.secret_access_key,
            session_token: issued.session_token,
            expiration: issued.expiration,
        },
        bucket: app.config.bucket.clone(),
        region,
    })
}

pub(super) async fn handle(app: &App, owner: &Owner, req: &Request) -> Result<Response<Body>, ApiError> {
    let video = load_owned(app, owner, &video_id(req)?).await?;
    if video.method != UploadMethod::Credentials {
        return Err(ApiError::conflict(
            "presigned_upload",
            "this upload uses presigned part URLs; ask for part-urls instead",
        ));
    }
    require_uploading(&video)?;
    let grant = grant(app, &video).await?;
    Ok(json_response(StatusCode::OK, &Issued { grant, key: &video.key }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use crate::credentials::fixed::Recording;
    use crate::handlers::testing::{Harness, call};
    use crate::http::Function;

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
        let (status, fresh) = call(&h.app, Function::IssueCredentials, h.raw("POST", &path, "")).await;
        assert_eq!(status, 200, "{fresh}");
        assert_eq!(fresh["key"], key);
        let (status, _) =
            call(&h.app, Function::IssueCredentials, h.request("POST", &path, "", Some("bob"))).await;
        assert_eq!(status, 404);
        // Presigned-mode routes don't apply.
        let (status, body) = call(
            &h.app,
            Function::SignParts,
            h.post(&format!("/v1/uploads/{id}/part-urls"), json!({"partNumbers": [1]})),
        )
        .await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("credentials_upload")));
        // Finished: no more credentials.
        call(&h.app, Function::AbortUpload, h.delete(&format!("/v1/uploads/{id}"))).await;
        let (status, body) = call(&h.app, Function::IssueCredentials, h.raw("POST", &path, "")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("upload_aborted")));
    }

    #[tokio::test]
    async fn without_an_uploader_role_credentials_mode_is_a_clear_400_and_nothing_is_left_uploading() {
        let h = Harness::new();
        let (status, body) = call(
            &h.app,
            Function::CreateUpload,
            h.post("/v1/uploads", json!({"filename": "a.mp4", "method": "credentials"})),
        )
        .await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("credentials_not_enabled")));
        let (_, listing) = call(&h.app, Function::ListVideos, h.get("/v1/videos?status=uploading")).await;
        assert_eq!(listing["videos"], json!([]));
        let (status, body) = call(
            &h.app,
            Function::CreateUpload,
            h.post("/v1/uploads", json!({"filename": "a.mp4", "method": "carrier-pigeon"})),
        )
        .await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_body")));
    }
}
