//! A local stand-in for API Gateway (HTTP API) in front of vidgate's functions.
//!
//! For each request it does what API Gateway does before a Lambda runs: match a route of the
//! table, run the JWT authorizer (401 without a valid token), and build the payload 2.0 event.
//! Then it runs `vidgate::handlers::handle`, which runs the entry of the route's function: the
//! code that function's binary runs.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::{Body as AxumBody, to_bytes};
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use lambda_http::Body;
use tokio::net::TcpListener;
use tower::ServiceExt;
use tower_http::services::ServeDir;
use vidgate::App;
use vidgate::http::error::error_response;
use vidgate::http::event::Event;
use vidgate::http::routes::Auth;
use vidgate::http::{NoRoute, ROUTES, Router};

use crate::cdn::{self, LocalCdn};
use crate::jwt::DevJwt;
use crate::throttle::Throttles;

/// API Gateway's payload limit.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// API Gateway HTTP API's quota for header values. (A long path is left to routing, which
/// answers 404 for it like any unknown path.)
const MAX_HEADER_BYTES: usize = 10 * 1024;

/// The longest path segment a file can have (`NAME_MAX`); longer ones can only be API paths.
const MAX_FILE_SEGMENT_BYTES: usize = 255;

pub struct Gateway {
    app: App,
    router: Router,
    jwt: DevJwt,
    web: Option<PathBuf>,
    throttles: Throttles,
    cdn: Option<Arc<LocalCdn>>,
}

impl Gateway {
    /// With the template's default throttling.
    pub fn new(app: App, jwt: DevJwt) -> Arc<Self> {
        Self::with_web(app, jwt, None, Throttles::default())
    }

    /// Also serves the static files under `web` (the demo pages) for paths no route matches.
    pub fn with_web(app: App, jwt: DevJwt, web: Option<PathBuf>, throttles: Throttles) -> Arc<Self> {
        Self::with_cdn(app, jwt, web, throttles, None)
    }

    /// Also plays CloudFront under [`cdn::PATH`].
    pub fn with_cdn(
        app: App,
        jwt: DevJwt,
        web: Option<PathBuf>,
        throttles: Throttles,
        cdn: Option<LocalCdn>,
    ) -> Arc<Self> {
        Arc::new(Self { app, router: Router::default(), jwt, web, throttles, cdn: cdn.map(Arc::new) })
    }
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let web = gateway.web.clone();
    let cdn = gateway.cdn.clone();
    let api = axum::Router::new().fallback(handle).with_state(gateway);
    let service = match web {
        // Files first for what can be a file (GET/HEAD below `web`); everything else, and whatever
        // no file answers, goes to the API.
        Some(dir) => {
            let files = ServeDir::new(dir).call_fallback_on_method_not_allowed(true).fallback(api.clone());
            axum::Router::new().fallback(move |request: axum::extract::Request| async move {
                if may_be_a_file(request.uri().path()) {
                    files
                        .oneshot(request)
                        .await
                        .map(IntoResponse::into_response)
                        .unwrap_or_else(|e| match e {})
                } else {
                    api.oneshot(request).await.unwrap_or_else(|e| match e {})
                }
            })
        }
        None => api,
    };
    // The CDN's paths never reach the API or the files.
    let service = match cdn {
        Some(cdn) => axum::Router::new().fallback(move |request: axum::extract::Request| async move {
            let cdn_path = request.uri().path().strip_prefix(cdn::PATH).is_some_and(|p| p.starts_with('/'));
            if cdn_path {
                let viewer = request
                    .extensions()
                    .get::<ConnectInfo<SocketAddr>>()
                    .map_or(std::net::Ipv4Addr::LOCALHOST.into(), |c| c.0.ip());
                cdn.serve(request, viewer).await
            } else {
                service.oneshot(request).await.unwrap_or_else(|e| match e {})
            }
        }),
        None => service,
    };
    axum::serve(listener, service.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// Whether a static file may answer `path`: not under a first segment the route table (or the
/// dev sign-in) owns, so an API error is never shadowed by a file lookup, and no segment longer
/// than a file name can be.
fn may_be_a_file(path: &str) -> bool {
    let first = |p: &'static str| p.split('/').nth(1).unwrap_or_default();
    let top = path.split('/').nth(1).unwrap_or_default();
    let owned = ROUTES.iter().map(|r| first(r.path)).chain([first(DEV_TOKEN_PATH)]).any(|owned| owned == top);
    !owned && path.split('/').all(|segment| segment.len() <= MAX_FILE_SEGMENT_BYTES)
}

async fn handle(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> Response {
    let request_id = uuid::Uuid::now_v7().to_string();
    let mut response = route(&gateway, peer, request, &request_id).await;
    if let Ok(value) = request_id.parse() {
        response.headers_mut().insert("apigw-requestid", value);
    }
    response
}

async fn route(
    gateway: &Gateway,
    peer: SocketAddr,
    request: axum::extract::Request,
    request_id: &str,
) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let header_bytes: usize =
        parts.headers.iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if header_bytes > MAX_HEADER_BYTES {
        return reply(error_response(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            "request headers are limited to 10,240 bytes",
        ));
    }
    if path == DEV_TOKEN_PATH {
        return dev_token(gateway, &parts.method, body).await;
    }
    let (route, params) = match gateway.router.find(parts.method.as_str(), &path) {
        Ok(found) => found,
        Err(NoRoute::NotFound) => {
            return reply(error_response(StatusCode::NOT_FOUND, "route_not_found", "no such route"));
        }
        Err(NoRoute::MethodNotAllowed(allowed)) => {
            let allow = allowed.join(", ");
            let mut response = reply(error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                &format!("this route accepts {allow}"),
            ));
            if let Ok(value) = allow.parse() {
                response.headers_mut().insert(http::header::ALLOW, value);
            }
            return response;
        }
    };

    if !gateway.throttles.admit(&route) {
        tracing::info!(request_id, route = route.key(), status = 429, "throttled");
        // API Gateway's own answer, body and all.
        let mut response = Response::new(AxumBody::from(r#"{"message":"Too Many Requests"}"#));
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        return response;
    }

    let claims = match route.auth() {
        Auth::Jwt | Auth::BackendJwt => {
            let authorization = parts.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
            match gateway.jwt.verify(authorization) {
                Some(claims) => Some(claims),
                None => {
                    tracing::info!(request_id, route = route.key(), status = 401, "unauthorized");
                    return reply(error_response(
                        StatusCode::UNAUTHORIZED,
                        "unauthorized",
                        "missing or invalid bearer token",
                    ));
                }
            }
        }
        Auth::PlaybackToken | Auth::LinkToken => None,
    };
    // The route's authorization scopes: a valid token without the scope is API Gateway's 403.
    if route.auth() == Auth::BackendJwt {
        let wanted = &gateway.app.config.upload_link_scope;
        let scoped = claims
            .as_ref()
            .and_then(|c| c.get("scope"))
            .and_then(|s| s.as_str())
            .is_some_and(|s| s.split_whitespace().any(|s| s == wanted));
        if !scoped {
            tracing::info!(request_id, route = route.key(), status = 403, "insufficient scope");
            let mut response = Response::new(AxumBody::from(r#"{"message":"Forbidden"}"#));
            *response.status_mut() = StatusCode::FORBIDDEN;
            response
                .headers_mut()
                .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
            return response;
        }
    }

    let body = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return reply(error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "request bodies are limited to 10 MB",
            ));
        }
    };
    let mut headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect();
    // What API Gateway adds for the function.
    headers.push(("x-forwarded-proto".into(), "http".into()));
    headers.push(("x-forwarded-for".into(), peer.ip().to_string()));
    let event = Event {
        route: &route,
        path: &path,
        raw_query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        path_params: &params,
        claims: claims.as_ref(),
        body: &body,
        request_id,
        source_ip: &peer.ip().to_string(),
    };
    let lambda_request = match event.to_request() {
        Ok(request) => request,
        Err(e) => {
            tracing::error!(request_id, error = %e, "could not build the API Gateway event");
            return reply(error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "internal error",
            ));
        }
    };
    let Ok(response) = vidgate::handlers::handle(&gateway.app, route.function(), lambda_request).await;
    reply(response)
}

/// Where the local web page signs in: what an identity provider's sign-in is in AWS. Not a route
/// of the API (the deployed stack has no such thing).
pub const DEV_TOKEN_PATH: &str = "/local/token";

/// `POST /local/token {"sub": "alice"}` → `{"token": "<dev JWT>", "expiresIn": 3600}`.
async fn dev_token(gateway: &Gateway, method: &http::Method, body: AxumBody) -> Response {
    #[derive(serde::Deserialize)]
    struct Wanted {
        sub: String,
    }
    if method != http::Method::POST {
        let mut response =
            reply(error_response(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "POST only"));
        response.headers_mut().insert(http::header::ALLOW, http::HeaderValue::from_static("POST"));
        return response;
    }
    let bytes = to_bytes(body, 4096).await.unwrap_or_default();
    match serde_json::from_slice::<Wanted>(&bytes) {
        Ok(Wanted { sub }) if !sub.trim().is_empty() && sub.len() <= 128 => {
            let body = serde_json::json!({"token": gateway.jwt.issue(sub.trim(), 3600), "expiresIn": 3600});
            (StatusCode::OK, [(http::header::CONTENT_TYPE, "application/json")], body.to_string())
                .into_response()
        }
        _ => reply(error_response(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "send {\"sub\": \"<user name, 1 to 128 characters>\"}",
        )),
    }
}

/// A function's response as API Gateway relays it.
fn reply(response: lambda_http::Response<Body>) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Vec::new(),
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    (parts.status, parts.headers, AxumBody::from(bytes)).into_response()
}

#[cfg(test)]
mod tests {
    use super::may_be_a_file;

    #[test]
    fn files_never_answer_for_the_apis_paths_or_impossible_names() {
        assert!(may_be_a_file("/"));
        assert!(may_be_a_file("/app.mjs"));
        assert!(may_be_a_file("/vendor/uppy.min.mjs"));
        for api in ["/v1/videos", "/v1", "/s3/sts", "/uppy/sign", "/local/token"] {
            assert!(!may_be_a_file(api), "{api}");
        }
        assert!(!may_be_a_file(&format!("/{}", "a".repeat(256))));
    }
}
