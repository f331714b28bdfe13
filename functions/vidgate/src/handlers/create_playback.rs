//! `POST /v1/videos/{videoId}/playback`: a URL a `<video>` tag plays until it expires — a
//! CloudFront signed URL for the video's object when playback goes through the CDN (the default
//! deployment), else the stream route with a playback token — and, of the same lifetime, its
//! poster's URL and its storyboard's (`null` until they are made).

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use super::{image_url, images_token, playback_secret, public_base};
use crate::app::Records;
use crate::domain::time::{self, Timestamp};
use crate::domain::{Owner, Status, cdn, keys, playback};
use crate::http::ApiError;
use crate::http::request::{json_response, video_id};
use crate::uploads::owned;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Playback {
    url: String,
    #[serde(with = "time")]
    expires_at: Timestamp,
    /// The poster (JPEG), or `null` until it is made.
    poster_url: Option<String>,
    /// The WebVTT of seek previews, or `null` until the storyboard is made.
    storyboard_url: Option<String>,
}

pub(super) async fn handle(
    app: &impl Records,
    owner: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let video = owned(app, owner, &video_id(req)?).await?;
    if video.status != Status::Uploaded {
        return Err(ApiError::conflict(
            "video_not_uploaded",
            format!("only uploaded videos can be played; this one is {}", video.status),
        ));
    }
    let expires_at = time::now() + app.config().playback_ttl;
    let url = match (app.cdn(), &app.config().cdn) {
        (Some(signer), Some(cdn)) => {
            let url =
                cdn::video_url(&cdn.url, &video.key, video.version_id.as_deref(), video.playback_type());
            signer.sign(&url, expires_at)
        }
        _ => {
            let token = playback::issue(playback_secret(app)?.as_bytes(), &video.id, expires_at);
            format!("{}/v1/videos/{}/stream?token={token}", public_base(app, req), video.id)
        }
    };
    let images = video.images.as_ref();
    let token = images_token(app, &video.id, expires_at)?;
    let base = public_base(app, req);
    let poster_url = images.and_then(|i| i.poster).map(|poster| {
        let name = keys::poster_name(poster.time_ms);
        image_url(app, &base, &video, &name, &token, expires_at)
    });
    let storyboard_url = images
        .and_then(|i| i.storyboard)
        .map(|_| format!("{base}/v1/videos/{}/storyboard.vtt?token={token}", video.id));
    Ok(json_response(StatusCode::OK, &Playback { url, expires_at, poster_url, storyboard_url }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::handlers::testing::{Harness, call};
    use crate::http::HttpFunction;

    #[tokio::test]
    async fn only_the_owner_of_an_uploaded_video_gets_a_playback_url() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4"})).await;
        let (id, upload) = (created["videoId"].as_str().unwrap(), created["uploadId"].as_str().unwrap());
        let path = format!("/v1/videos/{id}/playback");
        let (status, body) = call(&h.app, HttpFunction::CreatePlayback, h.raw("POST", &path, "")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("video_not_uploaded")));

        h.objects.put_part(upload, 1, 1000).unwrap();
        let (status, _) = call(
            &h.app,
            HttpFunction::CompleteUpload,
            h.raw("POST", &format!("/v1/uploads/{id}/complete"), ""),
        )
        .await;
        assert_eq!(status, 200);
        let (status, body) = call(&h.app, HttpFunction::CreatePlayback, h.raw("POST", &path, "")).await;
        assert_eq!(status, 200, "{body}");
        let url = body["url"].as_str().unwrap();
        assert!(
            url.starts_with("https://") && url.contains(&format!("/v1/videos/{id}/stream?token=")),
            "{url}"
        );
        assert!(body["expiresAt"].is_string());

        let (status, _) =
            call(&h.app, HttpFunction::CreatePlayback, h.request("POST", &path, "", Some("bob"))).await;
        assert_eq!(status, 404);
    }

    #[tokio::test]
    async fn through_the_cdn_the_url_is_a_cloudfront_signed_url_for_the_videos_object() {
        use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

        use crate::domain::cdn;

        let (private, public) = crate::cdn::generate_pem_pair();
        let h = Harness::with_cdn("https://d111111abcdef8.cloudfront.net", &private);
        let created = h.create(json!({"filename": "a.mp4"})).await;
        let (id, upload) = (created["videoId"].as_str().unwrap(), created["uploadId"].as_str().unwrap());
        h.objects.put_part(upload, 1, 1000).unwrap();
        let complete = h.raw("POST", &format!("/v1/uploads/{id}/complete"), "");
        let (status, done) = call(&h.app, HttpFunction::CompleteUpload, complete).await;
        assert_eq!(status, 200, "{done}");
        let key = done["video"]["key"].as_str().unwrap();
        let path = format!("/v1/videos/{id}/playback");
        let (status, body) = call(&h.app, HttpFunction::CreatePlayback, h.raw("POST", &path, "")).await;
        assert_eq!(status, 200, "{body}");
        let url = body["url"].as_str().unwrap();
        // Pinned to the checked version, answered as the record's type whatever S3 stored.
        let version = h.stored(id).await.unwrap().version_id.unwrap();
        let resource = format!(
            "https://d111111abcdef8.cloudfront.net/{key}?versionId={version}&response-content-type=video%2Fmp4"
        );
        let grant = url.strip_prefix(&format!("{resource}&")).unwrap_or_else(|| panic!("{url}"));
        let params: Vec<(String, String)> = form_urlencoded::parse(grant.as_bytes()).into_owned().collect();
        assert_eq!(params[2], ("Key-Pair-Id".into(), "K1".into()));
        // Expires is the playback TTL from now, as `expiresAt` says.
        let expires: i64 = params[0].1.parse().unwrap();
        let expires_at = chrono::DateTime::parse_from_rfc3339(body["expiresAt"].as_str().unwrap()).unwrap();
        assert_eq!(expires, expires_at.timestamp());
        let policy = cdn::canned_policy(&resource, expires);
        let key =
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, crate::cdn::public_key_der(&public).unwrap());
        assert!(key.verify(policy.as_bytes(), &cdn::decode(&params[1].1).unwrap()).is_ok());
    }
}
