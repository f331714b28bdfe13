//! CORS as S3 evaluates a bucket's rules: a preflight `OPTIONS` is answered from the first rule
//! that allows its origin, method and headers (403 otherwise, no rule = CORS not enabled), and an
//! actual request from an allowed origin gets the rule's `Access-Control-*` headers. Browsers
//! uploading parts need the `ETag` exposed; the local bucket's rule does that, as the template's
//! does.

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use s3s::dto::CORSRule;
use s3s::{HttpResponse, S3Error, S3ErrorCode};

/// `*` in a rule matches any run of characters (S3 allows one per origin, any in headers).
fn wildcard(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern.eq_ignore_ascii_case(value),
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len()
                && value[..head.len()].eq_ignore_ascii_case(head)
                && value[value.len() - tail.len()..].eq_ignore_ascii_case(tail)
        }
    }
}

fn allows(rule: &CORSRule, origin: &str, method: &str, headers: &[String]) -> bool {
    rule.allowed_origins.iter().any(|o| wildcard(o, origin))
        && rule.allowed_methods.iter().any(|m| m == method)
        && headers.iter().all(|h| rule.allowed_headers.iter().flatten().any(|a| wildcard(a, h)))
}

fn forbidden(message: &str) -> HttpResponse {
    let mut error = S3Error::with_message(S3ErrorCode::Custom("AccessForbidden".into()), message.to_owned());
    error.set_status_code(StatusCode::FORBIDDEN);
    error.to_http_response().unwrap_or_else(|_| {
        let mut response = HttpResponse::default();
        *response.status_mut() = StatusCode::FORBIDDEN;
        response
    })
}

fn header(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Access-Control-*` headers a matching rule grants.
fn grant(rule: &CORSRule, origin: &str, into: &mut HeaderMap) {
    let any = rule.allowed_origins.iter().any(|o| o == "*");
    into.insert("access-control-allow-origin", header(if any { "*" } else { origin }));
    if !any {
        into.insert("access-control-allow-credentials", HeaderValue::from_static("true"));
    }
    into.insert("access-control-allow-methods", header(&rule.allowed_methods.join(", ")));
    if let Some(expose) = rule.expose_headers.as_ref().filter(|e| !e.is_empty()) {
        into.insert("access-control-expose-headers", header(&expose.join(", ")));
    }
    if let Some(age) = rule.max_age_seconds {
        into.insert("access-control-max-age", header(&age.to_string()));
    }
    into.append(
        "vary",
        HeaderValue::from_static("Origin, Access-Control-Request-Headers, Access-Control-Request-Method"),
    );
}

/// The answer to a preflight request, given the bucket's rules.
pub fn preflight(rules: Option<&[CORSRule]>, headers: &HeaderMap) -> HttpResponse {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(origin), Some(method)) = (get("origin"), get("access-control-request-method")) else {
        let mut error = S3Error::with_message(
            S3ErrorCode::Custom("BadRequest".into()),
            "Insufficient information. Origin request header needed.",
        );
        error.set_status_code(StatusCode::BAD_REQUEST);
        return error.to_http_response().unwrap_or_default();
    };
    let Some(rules) = rules else { return forbidden("CORSResponse: CORS is not enabled for this bucket.") };
    let requested: Vec<String> = get("access-control-request-headers")
        .map(|h| h.split(',').map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect())
        .unwrap_or_default();
    match rules.iter().find(|r| allows(r, origin, method, &requested)) {
        None => forbidden(
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        ),
        Some(rule) => {
            let mut response = HttpResponse::default();
            grant(rule, origin, response.headers_mut());
            if !requested.is_empty() {
                response.headers_mut().insert("access-control-allow-headers", header(&requested.join(", ")));
            }
            response
        }
    }
}

/// Adds what a matching rule grants to the answer of an actual (non-preflight) request.
pub fn decorate(
    rules: Option<&[CORSRule]>,
    method: &Method,
    origin: Option<&str>,
    response: &mut HttpResponse,
) {
    if let (Some(rules), Some(origin)) = (rules, origin)
        && let Some(rule) = rules.iter().find(|r| allows(r, origin, method.as_str(), &[]))
    {
        grant(rule, origin, response.headers_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> CORSRule {
        CORSRule {
            allowed_origins: vec!["https://*.example.com".into()],
            allowed_methods: vec!["PUT".into(), "GET".into()],
            allowed_headers: Some(vec!["content-type".into(), "x-amz-*".into()]),
            expose_headers: Some(vec!["ETag".into()]),
            max_age_seconds: Some(3000),
            id: None,
        }
    }

    fn request(origin: &str, method: &str, headers: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("origin", header(origin));
        h.insert("access-control-request-method", header(method));
        if !headers.is_empty() {
            h.insert("access-control-request-headers", header(headers));
        }
        h
    }

    #[test]
    fn a_preflight_is_allowed_only_for_a_rules_origin_method_and_headers() {
        let rules = [rule()];
        let ok = preflight(
            Some(&rules),
            &request("https://app.example.com", "PUT", "Content-Type, x-amz-checksum-sha256"),
        );
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.headers()["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(ok.headers()["access-control-expose-headers"], "ETag");
        assert_eq!(ok.headers()["access-control-allow-headers"], "content-type, x-amz-checksum-sha256");
        for refused in [
            request("https://evil.test", "PUT", ""),
            request("https://app.example.com", "DELETE", ""),
            request("https://app.example.com", "PUT", "authorization"),
        ] {
            assert_eq!(preflight(Some(&rules), &refused).status(), StatusCode::FORBIDDEN);
        }
        assert_eq!(
            preflight(None, &request("https://app.example.com", "PUT", "")).status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(preflight(Some(&rules), &HeaderMap::new()).status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn an_actual_request_from_an_allowed_origin_sees_the_exposed_etag() {
        let rules = [rule()];
        let mut response = HttpResponse::default();
        decorate(Some(&rules), &Method::PUT, Some("https://app.example.com"), &mut response);
        assert_eq!(response.headers()["access-control-expose-headers"], "ETag");
        let mut response = HttpResponse::default();
        decorate(Some(&rules), &Method::PUT, Some("https://evil.test"), &mut response);
        assert!(response.headers().get("access-control-allow-origin").is_none());
    }
}
