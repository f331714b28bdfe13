//! Upload links. `POST /v1/upload-links` is an app's backend asking for one (its token carries
//! the upload-link scope); `GET /v1/links/{token}` is the link as its holder sees it. The holder's
//! start, part URLs and complete are the `/v1/uploads` translators' ([`open`] and [`video`] give
//! them the link and its upload), so the bodies and answers are theirs.

use std::collections::BTreeMap;

use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use super::public_base;
use crate::app::Records;
use crate::domain::link::{Limits, LinkRequest, LinkStatus, UploadLink};
use crate::domain::time::{self, Timestamp};
use crate::domain::{Owner, Video, VideoId};
use crate::http::request::{json_response, required_json_body};
use crate::http::{ApiError, auth};
use crate::uploads::{self, CreatedLink};
use crate::view::VideoView;

/// A link as its creator sees it (never its token's hash); its holder sees it without the owner.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LinkView<'a> {
    link_id: String,
    status: LinkStatus,
    /// Whose video it becomes: the backend's answer only (a user id of the app is no business of
    /// whoever holds the link).
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<&'a Owner>,
    limits: &'a Limits,
    metadata: &'a BTreeMap<String, String>,
    cors_origin: Option<&'a str>,
    #[serde(with = "time")]
    created_at: Timestamp,
    #[serde(with = "time")]
    expires_at: Timestamp,
    video_id: Option<VideoId>,
}

impl<'a> LinkView<'a> {
    fn for_creator(l: &'a UploadLink) -> Self {
        Self { owner: Some(&l.owner), ..Self::for_holder(l) }
    }

    fn for_holder(l: &'a UploadLink) -> Self {
        Self {
            link_id: l.link_id.to_string(),
            status: l.status,
            owner: None,
            limits: &l.limits,
            metadata: &l.metadata,
            cors_origin: l.cors_origin.as_deref(),
            created_at: l.created_at,
            expires_at: l.link_expires_at,
            video_id: l.video_id,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Created<'a> {
    link_id: String,
    /// Where the holder's client starts: `POST {uploadUrl}/upload`, and so on.
    upload_url: String,
    /// Shown once; vidgate keeps only its hash.
    token: &'a str,
    #[serde(with = "time")]
    expires_at: Timestamp,
    link: LinkView<'a>,
}

/// `POST /v1/upload-links`.
pub(super) async fn create(
    app: &impl Records,
    backend: &Owner,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let scope = &app.config().upload_link_scope;
    if !auth::scopes(req).iter().any(|s| s == scope) {
        return Err(ApiError::Denied {
            code: "insufficient_scope",
            message: format!("creating upload links takes a token with the {scope} scope (an app backend's)"),
        });
    }
    let new = required_json_body::<LinkRequest>(req)?.validate(app.config().max_video_size)?;
    let CreatedLink { link, token } = uploads::create_link(app, backend.as_str(), new).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &Created {
            link_id: link.link_id.to_string(),
            upload_url: format!("{}/v1/links/{token}", public_base(app, req)),
            token: &token,
            expires_at: link.link_expires_at,
            link: LinkView::for_creator(&link),
        },
    ))
}

/// The link the path's token opens, if the request may use it: a browser page on another origin
/// than the link allows (`Origin`) is refused.
pub(super) async fn open(app: &impl Records, req: &Request) -> Result<UploadLink, ApiError> {
    let token = req.path_parameters_ref().and_then(|p| p.first("token")).unwrap_or_default();
    let link = uploads::open_link(app, token).await?;
    let origin = req.headers().get(http::header::ORIGIN).and_then(|v| v.to_str().ok());
    if let (Some(allowed), Some(origin)) = (&link.cors_origin, origin)
        && !origin.trim_end_matches('/').eq_ignore_ascii_case(allowed)
    {
        return Err(ApiError::Denied {
            code: "origin_not_allowed",
            message: format!("this upload link is for pages on {allowed}"),
        });
    }
    Ok(link)
}

/// The upload the path's link started, for its holder.
pub(super) async fn video(app: &impl Records, req: &Request) -> Result<Video, ApiError> {
    let link = open(app, req).await?;
    Ok(uploads::link_video(app, &link).await?)
}

#[derive(Serialize)]
struct Seen<'a> {
    link: LinkView<'a>,
    video: Option<VideoView<'a>>,
}

/// `GET /v1/links/{token}`: the link, and its upload once started.
pub(super) async fn get(app: &impl Records, req: &Request) -> Result<Response<Body>, ApiError> {
    let link = open(app, req).await?;
    let video = match link.video_id {
        Some(_) => Some(uploads::link_video(app, &link).await?),
        None => None,
    };
    Ok(json_response(
        StatusCode::OK,
        &Seen { link: LinkView::for_holder(&link), video: video.as_ref().map(VideoView::from) },
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::domain::parts::MIB;
    use crate::handlers::testing::{Harness, call};
    use crate::http::HttpFunction;

    /// A link from an app backend; the 201's body.
    async fn link(h: &Harness, body: serde_json::Value) -> serde_json::Value {
        let request = h.scoped("POST", "/v1/upload-links", body, "backend", "openid vidgate/upload-links");
        let (status, created) = call(&h.app, HttpFunction::CreateUploadLink, request).await;
        assert_eq!(status, 201, "{created}");
        created
    }

    /// A holder's request on the link's route `suffix` (no claims: the route has no authorizer).
    fn holder(h: &Harness, method: &str, token: &str, suffix: &str, body: &str) -> lambda_http::Request {
        h.request(method, &format!("/v1/links/{token}{suffix}"), body, None)
    }

    #[tokio::test]
    async fn only_a_token_with_the_scope_creates_a_link_and_the_answer_is_the_links() {
        let h = Harness::new();
        let body = json!({"owner": "customer-42", "maxSizeBytes": 10 * MIB});
        // The authorizer passed an end user's token (no scope): the function refuses it too.
        let plain = h.post("/v1/upload-links", body.clone());
        let (status, refused) = call(&h.app, HttpFunction::CreateUploadLink, plain).await;
        assert_eq!((status, refused["error"]["code"].as_str()), (403, Some("insufficient_scope")));
        let wrong = h.scoped("POST", "/v1/upload-links", body.clone(), "b", "vidgate/other");
        assert_eq!(call(&h.app, HttpFunction::CreateUploadLink, wrong).await.0, 403);
        let created = link(&h, body).await;
        let token = created["token"].as_str().unwrap();
        assert!(created["uploadUrl"].as_str().unwrap().ends_with(&format!("/v1/links/{token}")));
        assert_eq!(created["link"]["limits"]["maxSizeBytes"], 10 * MIB);
        assert!(created["link"].get("secretHash").is_none(), "{created}");
    }

    #[tokio::test]
    async fn a_holder_starts_signs_completes_and_sees_the_links_upload_only() {
        let h = Harness::new();
        let created = link(&h, json!({"owner": "bob", "metadata": {"ticket": "T-1"}})).await;
        let token = created["token"].as_str().unwrap();
        // Nothing to see or sign before the start.
        let (status, seen) = call(&h.app, HttpFunction::GetVideo, holder(&h, "GET", token, "", "")).await;
        assert_eq!((status, &seen["video"]), (200, &serde_json::Value::Null));
        assert!(seen["link"].get("owner").is_none(), "the holder isn't told whose it becomes: {seen}");
        let sign = holder(&h, "POST", token, "/part-urls", r#"{"from":1}"#);
        let (status, err) = call(&h.app, HttpFunction::SignParts, sign).await;
        assert_eq!((status, err["error"]["code"].as_str()), (409, Some("link_not_started")));

        let start =
            holder(&h, "POST", token, "/upload", &json!({"filename": "a.mp4", "size": 6 * MIB}).to_string());
        let (status, started) = call(&h.app, HttpFunction::CreateUpload, start).await;
        assert_eq!(status, 201, "{started}");
        assert_eq!(started["video"]["metadata"]["ticket"], "T-1");
        assert_eq!(started["video"]["linkId"], created["linkId"]);
        assert_eq!(h.stored(started["videoId"].as_str().unwrap()).await.unwrap().owner.as_str(), "bob");
        let sign = holder(&h, "POST", token, "/part-urls", r#"{"from":1}"#);
        let (status, signed) = call(&h.app, HttpFunction::SignParts, sign).await;
        assert_eq!((status, signed["urls"].as_array().unwrap().len()), (200, 1), "{signed}");
        let (status, seen) = call(&h.app, HttpFunction::GetVideo, holder(&h, "GET", token, "", "")).await;
        assert_eq!(
            (status, &seen["video"]["id"], seen["link"]["status"].as_str()),
            (200, &started["videoId"], Some("used"))
        );

        // A token of the right shape but another secret, and garbage: 404, the same answer.
        let (id, _) = token.split_once('.').unwrap();
        for forged in [format!("{id}.{}", "x".repeat(43)), "garbage".to_owned()] {
            let (status, err) =
                call(&h.app, HttpFunction::GetVideo, holder(&h, "GET", &forged, "", "")).await;
            assert_eq!((status, err["error"]["code"].as_str()), (404, Some("link_not_found")), "{forged}");
        }
    }
}
