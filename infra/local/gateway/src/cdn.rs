//! A local CloudFront in front of the local S3, as strict as the deployed distribution: only
//! signed URLs of a key in the key group play (canned or custom policy, SHA-1 or
//! `Hash-Algorithm=SHA256`, checked as CloudFront's developer guide says), everything else is a
//! 403 with CloudFront's XML error; then byte ranges are served from the bucket with the same
//! RFC 9110 rules as the stream route ([`vidgate::http::representation`]), streamed, not buffered.
//!
//! It answers under [`PATH`] on the API's port: `VIDGATE_CDN_URL` is `<api>/cdn`, and the
//! resource a URL is signed for is the very URL the viewer requests, host included.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
};
use axum::body::Body;
use axum::response::Response;
use http::header::{ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, HOST, RANGE};
use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;
use tokio_util::io::ReaderStream;
use vidgate::cdn::UrlSigner;
use vidgate::config::{CdnSettings, PrivateKeySource};
use vidgate::domain::cdn::{self, SIGNING_PARAMETERS};
use vidgate::domain::range::{self, Selection};
use vidgate::http::representation::{Representation, header};

/// Where the local CDN answers on the API's port.
pub const PATH: &str = "/cdn";

/// The key pair id of the key a development stack makes (CloudFront's ids look like this).
pub const DEV_KEY_PAIR_ID: &str = "K1VIDGATELOCALDEV";

/// Why CloudFront refused a request: its error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub code: &'static str,
    pub message: String,
}

fn denied(code: &'static str, message: impl Into<String>) -> Denied {
    Denied { code, message: message.into() }
}

/// The trusted key group and the origin.
pub struct LocalCdn {
    key_group: Vec<(String, Vec<u8>)>,
    s3: aws_sdk_s3::Client,
    bucket: String,
}

/// The local stack's CDN: its settings for create-playback and the public key of the key group.
pub struct LocalKeys {
    pub settings: CdnSettings,
    pub public_key_der: Vec<u8>,
}

/// `VIDGATE_LOCAL_CDN=0` turns the local CDN off (playback URLs are then the stream route's);
/// `VIDGATE_CDN_KEY_PAIR_ID` and `VIDGATE_CDN_PRIVATE_KEY` (PEM) name the key, else the stack
/// makes a development pair.
pub fn local_keys(env: impl Fn(&str) -> Option<String>, api: &str) -> Result<Option<LocalKeys>, String> {
    if matches!(env("VIDGATE_LOCAL_CDN").as_deref().map(str::trim), Some("0" | "false" | "off" | "no")) {
        return Ok(None);
    }
    let (key_pair_id, pem) = match (env("VIDGATE_CDN_KEY_PAIR_ID"), env("VIDGATE_CDN_PRIVATE_KEY")) {
        (Some(id), Some(pem)) => (id.trim().to_owned(), pem),
        (None, None) => (DEV_KEY_PAIR_ID.to_owned(), vidgate::cdn::generate_pem_pair().0),
        _ => {
            return Err("set VIDGATE_CDN_KEY_PAIR_ID and VIDGATE_CDN_PRIVATE_KEY together, or neither".into());
        }
    };
    let signer =
        UrlSigner::from_pem(&key_pair_id, &pem).map_err(|e| format!("VIDGATE_CDN_PRIVATE_KEY: {e}"))?;
    Ok(Some(LocalKeys {
        public_key_der: signer.public_key_der(),
        settings: CdnSettings {
            url: format!("{}{PATH}", api.trim_end_matches('/')),
            key_pair_id,
            private_key: PrivateKeySource::Pem(pem),
        },
    }))
}

impl LocalCdn {
    pub fn new(keys: &LocalKeys, s3: aws_sdk_s3::Client, bucket: &str) -> Self {
        Self {
            key_group: vec![(keys.settings.key_pair_id.clone(), keys.public_key_der.clone())],
            s3,
            bucket: bucket.to_owned(),
        }
    }

    /// Answers one viewer request for a path under [`PATH`].
    pub async fn serve(&self, request: axum::extract::Request, viewer: IpAddr) -> Response {
        let (parts, _) = request.into_parts();
        let result = match parts.method {
            Method::GET | Method::HEAD => {
                match self.check(&parts.uri, &parts.headers, viewer, SystemTime::now()) {
                    Ok(key) => {
                        let forwarded = Forwarded::from(&parts.uri);
                        return self
                            .origin(&key, &forwarded, &parts.headers, parts.method == Method::HEAD)
                            .await;
                    }
                    Err(denied) => denied,
                }
            }
            _ => denied(
                "MethodNotAllowed",
                "This distribution is not configured to allow the HTTP request method that was used for this request. The distribution supports only cachable requests.",
            ),
        };
        tracing::info!(code = result.code, message = %result.message, "local CDN refused a request");
        error(StatusCode::FORBIDDEN, &result)
    }

    /// CloudFront's check of a signed URL; the object key it names when the URL is good.
    pub fn check(
        &self,
        uri: &http::Uri,
        headers: &HeaderMap,
        viewer: IpAddr,
        now: SystemTime,
    ) -> Result<String, Denied> {
        let host = header(headers, HOST).ok_or_else(|| denied("AccessDenied", "no Host header"))?;
        let query = uri.query().unwrap_or_default();
        let mut grant: Vec<(String, String)> = Vec::new();
        let mut rest: Vec<&str> = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let name = pair.split('=').next().unwrap_or_default();
            if SIGNING_PARAMETERS.contains(&name) {
                let (name, value) = form_urlencoded::parse(pair.as_bytes()).next().unwrap_or_default();
                grant.push((name.into_owned(), value.into_owned()));
            } else {
                rest.push(pair);
            }
        }
        let param = |name: &str| grant.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let resource = match rest.is_empty() {
            true => format!("http://{host}{}", uri.path()),
            false => format!("http://{host}{}?{}", uri.path(), rest.join("&")),
        };

        let key_pair_id = param("Key-Pair-Id")
            .ok_or_else(|| denied("MissingKey", "Missing Key-Pair-Id query parameter or cookie value"))?;
        let public_key = self
            .key_group
            .iter()
            .find(|(id, _)| id == key_pair_id)
            .map(|(_, der)| der)
            .ok_or_else(|| denied("InvalidKey", "Unknown Key"))?;
        let signature =
            param("Signature").ok_or_else(|| denied("MissingKey", "Missing Signature query parameter"))?;
        let signature =
            cdn::decode(signature).ok_or_else(|| denied("AccessDenied", "Malformed Signature"))?;
        let algorithm: &'static dyn aws_lc_rs::signature::VerificationAlgorithm =
            match param("Hash-Algorithm") {
                None | Some("SHA1") => &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                Some("SHA256") => &RSA_PKCS1_2048_8192_SHA256,
                Some(other) => {
                    return Err(denied("AccessDenied", format!("Unsupported Hash-Algorithm {other}")));
                }
            };
        let policy = match (param("Policy"), param("Expires")) {
            (Some(policy), _) => {
                cdn::decode(policy).ok_or_else(|| denied("MalformedPolicy", "Malformed Policy"))?
            }
            (None, Some(expires)) => {
                let expires: i64 =
                    expires.parse().map_err(|_| denied("AccessDenied", "Malformed Expires parameter"))?;
                cdn::canned_policy(&resource, expires).into_bytes()
            }
            (None, None) => return Err(denied("AccessDenied", "Missing Expires or Policy query parameter")),
        };
        UnparsedPublicKey::new(algorithm, public_key)
            .verify(&policy, &signature)
            .map_err(|_| denied("AccessDenied", "Access denied"))?;
        let statement = Statement::parse(&policy)?;
        statement.allows(&resource, viewer, now)?;

        let key = uri.path().strip_prefix(PATH).and_then(|p| p.strip_prefix('/')).unwrap_or_default();
        percent_encoding::percent_decode_str(key)
            .decode_utf8()
            .map(|k| k.into_owned())
            .map_err(|_| denied("AccessDenied", "Access denied"))
    }

    /// The origin's answer: the object's bytes as RFC 9110 ranges select them, with the
    /// distribution's response headers policy (`nosniff`).
    async fn origin(&self, key: &str, forwarded: &Forwarded, headers: &HeaderMap, head: bool) -> Response {
        let object = match self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(forwarded.version_id.clone())
            .send()
            .await
        {
            Ok(object) => object,
            // With Origin Access Control and no s3:ListBucket, S3 answers a missing key with 403.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => {
                return error(StatusCode::FORBIDDEN, &denied("AccessDenied", "Access Denied"));
            }
            Err(e) => return bad_gateway(e),
        };
        let modified = object
            .last_modified()
            .and_then(|t| u64::try_from(t.secs()).ok())
            .map_or(SystemTime::UNIX_EPOCH, |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        let meta = Representation {
            size: object.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
            etag: object.e_tag().unwrap_or_default().to_owned(),
            modified,
            content_type: forwarded
                .content_type
                .as_deref()
                .or(object.content_type())
                .unwrap_or("application/octet-stream"),
        };
        if meta.not_modified(headers) {
            return into_axum(meta.response(StatusCode::NOT_MODIFIED), Body::empty());
        }
        let range = header(headers, RANGE).filter(|_| meta.if_range_holds(headers));
        let (status, start, end) = match range::select(range, meta.size) {
            Selection::Unsatisfiable => {
                let response = http::Response::builder()
                    .status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(CONTENT_RANGE, format!("bytes */{}", meta.size))
                    .header(ACCEPT_RANGES, "bytes");
                return into_axum(response, Body::empty());
            }
            Selection::Full => (StatusCode::OK, 0, meta.size.saturating_sub(1)),
            Selection::Partial { start, end } => (StatusCode::PARTIAL_CONTENT, start, end),
        };
        let length = if meta.size == 0 { 0 } else { end - start + 1 };
        let mut response = meta.response(status).header(CONTENT_LENGTH, length);
        if status == StatusCode::PARTIAL_CONTENT {
            response = response.header(CONTENT_RANGE, format!("bytes {start}-{end}/{}", meta.size));
        }
        if head || length == 0 {
            return into_axum(response, Body::empty());
        }
        let object = match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(forwarded.version_id.clone())
            .set_response_content_type(forwarded.content_type.clone())
            .range(format!("bytes={start}-{end}"))
            .send()
            .await
        {
            Ok(object) => object,
            Err(e) => return bad_gateway(e),
        };
        // 256 KiB reads: ReaderStream's default 4 KiB chunks cost a third of the throughput.
        let body = ReaderStream::with_capacity(object.body.into_async_read(), 256 * 1024);
        into_axum(response, Body::from_stream(body))
    }
}

/// The query strings the distribution's cache policy forwards to S3 (template.yaml,
/// `VideoCachePolicy`): the version a URL is pinned to and the type to answer with. Every other
/// query string stays at the edge.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Forwarded {
    pub version_id: Option<String>,
    pub content_type: Option<String>,
}

impl From<&http::Uri> for Forwarded {
    fn from(uri: &http::Uri) -> Self {
        let mut forwarded = Self::default();
        for (name, value) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
            match name.as_ref() {
                "versionId" => forwarded.version_id = Some(value.into_owned()),
                "response-content-type" => forwarded.content_type = Some(value.into_owned()),
                _ => {}
            }
        }
        forwarded
    }
}

/// The one statement of a policy, canned or custom.
struct Statement {
    resource: Option<String>,
    less_than: i64,
    greater_than: Option<i64>,
    source_ip: Option<String>,
}

impl Statement {
    fn parse(policy: &[u8]) -> Result<Self, Denied> {
        let malformed = |why: &str| denied("MalformedPolicy", format!("Malformed Policy: {why}"));
        let policy: Value = serde_json::from_slice(policy).map_err(|_| malformed("not JSON"))?;
        let statements = policy["Statement"].as_array().ok_or_else(|| malformed("no Statement array"))?;
        let [statement] = statements.as_slice() else {
            return Err(malformed("CloudFront takes exactly one statement"));
        };
        let condition = &statement["Condition"];
        let epoch = |name: &str| condition[name]["AWS:EpochTime"].as_i64();
        Ok(Self {
            resource: statement["Resource"].as_str().map(str::to_owned),
            less_than: epoch("DateLessThan").ok_or_else(|| malformed("no DateLessThan"))?,
            greater_than: epoch("DateGreaterThan"),
            source_ip: condition["IpAddress"]["AWS:SourceIp"].as_str().map(str::to_owned),
        })
    }

    fn allows(&self, resource: &str, viewer: IpAddr, now: SystemTime) -> Result<(), Denied> {
        let now = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        if let Some(pattern) = &self.resource
            && !wildcard_match(pattern, resource)
        {
            return Err(denied("AccessDenied", "Access denied"));
        }
        if now >= self.less_than {
            return Err(denied("AccessDenied", "Access denied: the URL has expired"));
        }
        if self.greater_than.is_some_and(|after| now <= after) {
            return Err(denied("AccessDenied", "Access denied: the URL is not valid yet"));
        }
        if let Some(cidr) = &self.source_ip
            && !in_cidr(cidr, viewer)
        {
            return Err(denied("AccessDenied", "Access denied"));
        }
        Ok(())
    }
}

/// A policy's `Resource`: `*` matches any run of characters, `?` one character.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// `AWS:SourceIp`: an address or a CIDR block.
fn in_cidr(cidr: &str, ip: IpAddr) -> bool {
    let (net, bits) = cidr.split_once('/').unwrap_or((cidr, if cidr.contains(':') { "128" } else { "32" }));
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else { return false };
    let ip = match (net, ip) {
        (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        _ => ip,
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

fn into_axum(builder: http::response::Builder, body: Body) -> Response {
    builder.body(body).expect("valid headers")
}

/// CloudFront's error document.
fn error(status: StatusCode, denied: &Denied) -> Response {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>{}</Message></Error>",
        denied.code, denied.message
    );
    into_axum(http::Response::builder().status(status).header(CONTENT_TYPE, "text/xml"), Body::from(xml))
}

fn bad_gateway(e: impl std::fmt::Debug) -> Response {
    tracing::warn!(error = ?e, "local CDN: the origin failed");
    error(StatusCode::BAD_GATEWAY, &denied("OriginError", "The origin (the local S3) did not answer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_match_with_stars_and_question_marks() {
        assert!(wildcard_match("http://h/cdn/videos/*", "http://h/cdn/videos/ab/x.mp4"));
        assert!(wildcard_match("http://h/cdn/videos/ab/?.mp4", "http://h/cdn/videos/ab/x.mp4"));
        assert!(wildcard_match("*", "anything"));
        assert!(!wildcard_match("http://h/cdn/videos/ab/*", "http://h/cdn/videos/cd/x.mp4"));
        assert!(!wildcard_match("http://h/cdn/videos/ab/x.mp4", "http://h/cdn/videos/ab/x.mp4?a=1"));
    }

    #[test]
    fn source_ips_match_their_blocks() {
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(in_cidr("127.0.0.0/8", local));
        assert!(in_cidr("127.0.0.1", local));
        assert!(!in_cidr("10.0.0.0/8", local));
        assert!(in_cidr("0.0.0.0/0", local));
        assert!(in_cidr("::1/128", "::1".parse().unwrap()));
        assert!(!in_cidr("garbage", local));
    }
}
