//! API Gateway HTTP API (payload 2.0) events, built from a plain HTTP request.
//!
//! The local gateway and the handler tests turn requests into the very JSON API Gateway sends a
//! Lambda and parse it with `lambda_http`'s own parser, so handlers see exactly the `Request` they
//! get in AWS: same path and query parameters, same authorizer claims, same body decoding.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_http::Request;
use serde_json::{Map, Value, json};

use super::Route;

/// What API Gateway knows of a request once it matched a route and ran the authorizer.
pub struct Event<'a> {
    pub route: &'a Route,
    pub path: &'a str,
    /// The query string without `?`, still percent-encoded.
    pub raw_query: &'a str,
    pub headers: &'a [(String, String)],
    pub path_params: &'a [(String, String)],
    /// JWT claims the authorizer accepted; `None` for routes without an authorizer.
    pub claims: Option<&'a Map<String, Value>>,
    pub body: &'a [u8],
    pub request_id: &'a str,
    pub source_ip: &'a str,
}

impl Event<'_> {
    /// The event as API Gateway would send it.
    pub fn to_json(&self) -> Value {
        // API Gateway joins repeated headers and query parameters with commas.
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in self.headers {
            headers
                .entry(name.to_ascii_lowercase())
                .and_modify(|v| {
                    v.push(',');
                    v.push_str(value);
                })
                .or_insert_with(|| value.clone());
        }
        let mut query: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in form_urlencoded::parse(self.raw_query.as_bytes()) {
            query
                .entry(name.into_owned())
                .and_modify(|v| {
                    v.push(',');
                    v.push_str(&value);
                })
                .or_insert_with(|| value.into_owned());
        }
        let cookies: Vec<String> = headers
            .get("cookie")
            .map(|c| c.split(';').map(|s| s.trim().to_owned()).collect())
            .unwrap_or_default();
        let (body, is_base64) = match std::str::from_utf8(self.body) {
            _ if self.body.is_empty() => (Value::Null, false),
            Ok(text) => (Value::String(text.to_owned()), false),
            Err(_) => (Value::String(STANDARD.encode(self.body)), true),
        };
        let now = chrono::Utc::now();
        let route_key = self.route.key();
        let mut context = json!({
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": headers.get("host").cloned().unwrap_or_else(|| "localhost".into()),
            "domainPrefix": "local",
            "http": {
                "method": self.route.method,
                "path": self.path,
                "protocol": "HTTP/1.1",
                "sourceIp": self.source_ip,
                "userAgent": headers.get("user-agent").cloned().unwrap_or_default(),
            },
            "requestId": self.request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        });
        if let Some(claims) = self.claims {
            // API Gateway passes every claim as a string.
            let claims: Map<String, Value> = claims
                .iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), Value::String(text))
                })
                .collect();
            // And the token's scopes, from its `scope` claim (space-separated), as API Gateway does.
            let scopes: Option<Vec<&str>> = claims
                .get("scope")
                .and_then(Value::as_str)
                .map(|s| s.split_whitespace().collect::<Vec<_>>())
                .filter(|s| !s.is_empty());
            context["authorizer"] = json!({"jwt": {"claims": claims, "scopes": scopes}});
        }
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": self.path,
            "rawQueryString": self.raw_query,
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": is_base64,
        });
        if !cookies.is_empty() {
            event["cookies"] = json!(cookies);
        }
        if !query.is_empty() {
            event["queryStringParameters"] = json!(query);
        }
        if !self.path_params.is_empty() {
            let params: BTreeMap<&str, &str> =
                self.path_params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            event["pathParameters"] = json!(params);
        }
        if !body.is_null() {
            event["body"] = body;
        }
        event
    }

    /// The `Request` a Lambda function receives for this event.
    pub fn to_request(&self) -> Result<Request, serde_json::Error> {
        lambda_http::request::from_str(&self.to_json().to_string())
    }
}
