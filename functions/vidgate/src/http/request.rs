//! Reading requests and writing JSON responses.

use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::ApiError;
use crate::domain::VideoId;

/// The JSON body, or `None` when the body is empty.
///
/// The content type is not checked: clients that forget `Content-Type: application/json` still
/// get a useful answer, and anything that is not JSON is refused by the parser anyway.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<Option<T>, ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| ApiError::invalid("invalid_body", format!("request body is not valid: {e}")))
}

/// The JSON body, which must be present.
pub fn required_json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    json_body(req)?.ok_or_else(|| ApiError::invalid("invalid_body", "a JSON request body is required"))
}

/// The `{videoId}` path parameter. Anything that is not a video id can't name a video: 404.
pub fn video_id(req: &Request) -> Result<VideoId, ApiError> {
    req.path_parameters_ref()
        .and_then(|params| params.first("videoId"))
        .and_then(|raw| raw.parse().ok())
        .ok_or(ApiError::NotFound)
}

/// A query-string parameter, `None` when absent or empty.
pub fn query(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|params| params.first(name))
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// A query-string parameter as sent, empty included: for parameters where `?name=` is a mistake
/// to answer, not an absence to ignore.
pub fn query_given(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref().and_then(|params| params.first(name)).map(str::to_owned)
}

/// API Gateway's request id (also in its access logs), or `-` outside API Gateway.
pub fn request_id(req: &Request) -> String {
    match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => {
            ctx.request_id.clone().unwrap_or_else(|| "-".into())
        }
        _ => "-".into(),
    }
}

/// API Gateway's route key (`POST /v1/uploads`), for logs.
pub fn route_key(req: &Request) -> String {
    match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => {
            ctx.route_key.clone().unwrap_or_default()
        }
        _ => String::new(),
    }
}

pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_string(value).expect("response types serialize");
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(Body::Text(body))
        .expect("static headers are valid")
}

pub fn no_content() -> Response<Body> {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(Body::Empty)
        .expect("static headers are valid")
}
