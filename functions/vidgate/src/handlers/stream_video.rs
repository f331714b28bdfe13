//! `GET|HEAD /v1/videos/{videoId}/stream?token=…`: the video's bytes, the way media players ask.
//!
//! RFC 9110 throughout: single byte ranges (206 with exact `Content-Range`/`Content-Length`),
//! 416 with `bytes */size`, `If-None-Match`/`If-Modified-Since` → 304, `If-Range` falling back to
//! the whole representation. A reply carries at most `VIDGATE_RANGE_CAP` bytes (Lambda's 6 MB
//! limit): longer ranges are cut short, which players follow with the next request; a whole video
//! over the cap is a 307 to a short-lived presigned S3 URL. Memory stays bounded by the cap.

use std::time::Duration;

use http::header::{ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, LOCATION, RANGE};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

use super::playback_secret;
use crate::app::Objects;
use crate::domain::range::{self, Selection};
use crate::domain::{Status, playback, time};
use crate::http::ApiError;
use crate::http::representation::{Representation, header};
use crate::http::request::{query, video_id};
use crate::objects::ObjectError;

/// How long a redirect to S3 stays valid: enough to start the download.
const REDIRECT_TTL: Duration = Duration::from_secs(300);

pub(super) async fn handle(app: &impl Objects, req: &Request) -> Result<Response<Body>, ApiError> {
    let secret = playback_secret(app)?;
    let id = video_id(req)?;
    let token =
        query(req, "token").ok_or_else(|| ApiError::Forbidden("a playback token is required".into()))?;
    playback::verify(secret.as_bytes(), &token, &id, time::now())
        .map_err(|e| ApiError::Forbidden(e.to_string()))?;
    // Requests that read no bytes from S3 (HEAD, the redirect) read the record itself: a deleted
    // video must not be vouched for by a warm function's memo. Byte reads find out from S3.
    let head = req.method() == Method::HEAD;
    let memo = if head || query(req, "redirect").is_some() { None } else { app.uploaded().get(&id) };
    let video = match memo {
        Some(video) => video,
        None => {
            let video = app
                .videos()
                .get(&id)
                .await?
                .filter(|v| v.status == Status::Uploaded)
                .ok_or(ApiError::NotFound)?;
            app.uploaded().remember(&video);
            video
        }
    };
    let read = async |start: u64, end: u64| match app
        .objects()
        .get_range(&video.key, video.version_id.as_deref(), start, end)
        .await
    {
        Ok(bytes) => Ok(bytes),
        // Deleted since the memo took it.
        Err(ObjectError::NoSuchKey) => {
            app.uploaded().forget(&id);
            Err(ApiError::NotFound)
        }
        Err(e) => Err(ApiError::from(e)),
    };

    let meta = Representation::of(&video);
    let headers = req.headers();
    if meta.not_modified(headers) {
        return Ok(meta.response(StatusCode::NOT_MODIFIED).body(Body::Empty).expect("valid headers"));
    }
    let range_header = header(headers, RANGE).filter(|_| meta.if_range_holds(headers));
    let cap = app.config().range_cap;

    match range::select(range_header, meta.size).capped(cap) {
        Selection::Unsatisfiable => Err(ApiError::RangeNotSatisfiable { size: meta.size }),
        Selection::Full if query(req, "redirect").as_deref() == Some("1") || meta.size > cap => {
            let url = app
                .objects()
                .presign_get(&video.key, video.version_id.as_deref(), video.playback_type(), REDIRECT_TTL)
                .await?;
            Ok(Response::builder()
                .status(StatusCode::TEMPORARY_REDIRECT)
                .header(LOCATION, url)
                .header(CACHE_CONTROL, "no-store")
                .header(ACCEPT_RANGES, "bytes")
                .body(Body::Empty)
                .expect("valid headers"))
        }
        Selection::Full => {
            let body = match (head, meta.size) {
                (true, _) | (_, 0) => Vec::new(),
                (false, size) => read(0, size - 1).await?,
            };
            let mut response = meta.response(StatusCode::OK).header(CONTENT_LENGTH, meta.size);
            // The whole representation: its checksum, as S3 answers a GET in checksum mode, so a
            // client can verify what it received.
            if let Some(checksum) = &video.checksum {
                response = response
                    .header(checksum.algorithm.header(), &checksum.value)
                    .header("x-amz-checksum-type", checksum.kind.as_str());
            }
            Ok(response.body(binary(body)).expect("valid headers"))
        }
        Selection::Partial { start, end } => {
            let body = if head { Vec::new() } else { read(start, end).await? };
            if !head && body.len() as u64 != end - start + 1 {
                return Err(ApiError::Internal(format!(
                    "S3 returned {} bytes for range {start}-{end} of {}",
                    body.len(),
                    video.key
                )));
            }
            Ok(meta
                .response(StatusCode::PARTIAL_CONTENT)
                .header(CONTENT_RANGE, format!("bytes {start}-{end}/{}", meta.size))
                .header(CONTENT_LENGTH, end - start + 1)
                .body(binary(body))
                .expect("valid headers"))
        }
    }
}

fn binary(bytes: Vec<u8>) -> Body {
    if bytes.is_empty() { Body::Empty } else { Body::Binary(bytes) }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use crate::domain::{Status, Video, playback, time};
    use crate::handlers::testing::Harness;
    use crate::http::HttpFunction;

    /// An uploaded video of `bytes` with a stream URL path (and token) for it.
    async fn uploaded(h: &Harness, bytes: Vec<u8>) -> (Video, String) {
        let created = h.create(json!({"filename": "v.mp4"})).await;
        let mut video = h.stored(created["videoId"].as_str().unwrap()).await.unwrap();
        let etag = h.objects.put_object(&video.key, bytes.clone());
        video = h
            .app
            .videos
            .transition(
                &video,
                &crate::domain::Change::Complete {
                    by: crate::domain::CompletedBy::Client,
                    size: bytes.len() as u64,
                    etag,
                    checksum: None,
                    version: None,
                    media: None,
                },
                time::now(),
            )
            .await
            .unwrap();
        assert_eq!(video.status, Status::Uploaded);
        let secret = h.app.config.playback_secret.clone().unwrap();
        let token =
            playback::issue(secret.as_bytes(), &video.id, time::now() + chrono::Duration::seconds(60));
        let path = format!("/v1/videos/{}/stream?token={token}", video.id);
        (video, path)
    }

    async fn get(
        h: &Harness,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> lambda_http::Response<lambda_http::Body> {
        let mut req = h.request(method, path, "", None);
        for (name, value) in headers {
            req.headers_mut().insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_str(value).unwrap(),
            );
        }
        crate::handlers::handle(&h.app, HttpFunction::StreamVideo, req).await.unwrap()
    }

    fn hdr<'a>(r: &'a lambda_http::Response<lambda_http::Body>, name: &str) -> &'a str {
        r.headers().get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[tokio::test]
    async fn a_playback_url_issued_before_a_delete_stops_working_even_on_a_warm_function() {
        let h = Harness::new();
        let (video, path) = uploaded(&h, data(1000)).await;
        assert_eq!(get(&h, "GET", &path, &[("range", "bytes=0-9")]).await.status(), 206);
        // Deleted through another function instance: this one's memo still holds the record.
        crate::uploads::delete(&h.app, video.clone()).await.unwrap();
        assert!(h.app.uploaded.get(&video.id).is_some());
        for (method, path, range) in [
            ("GET", path.clone(), "bytes=0-9"),
            ("GET", path.clone(), ""),
            ("HEAD", path.clone(), ""),
            ("GET", format!("{path}&redirect=1"), ""),
        ] {
            let headers: &[(&str, &str)] = if range.is_empty() { &[] } else { &[("range", range)] };
            let r = get(&h, method, &path, headers).await;
            assert_eq!(r.status(), 404, "{method} {path} {range}");
        }
        assert!(h.app.uploaded.get(&video.id).is_none(), "the memo forgot it");
    }

    #[tokio::test]
    async fn ranges_are_served_exactly() {
        let h = Harness::new();
        let bytes = data(1000);
        let (_, path) = uploaded(&h, bytes.clone()).await;
        for (range, start, end) in [
            ("bytes=0-1", 0, 1),
            ("bytes=990-", 990, 999),
            ("bytes=-10", 990, 999),
            ("bytes=500-5000", 500, 999),
            ("bytes=999-999", 999, 999),
        ] {
            let r = get(&h, "GET", &path, &[("range", range)]).await;
            assert_eq!(r.status(), 206, "{range}");
            assert_eq!(hdr(&r, "content-range"), format!("bytes {start}-{end}/1000"), "{range}");
            assert_eq!(hdr(&r, "content-length"), (end - start + 1).to_string());
            assert_eq!(r.body().as_ref(), &bytes[start..=end], "{range}");
            assert_eq!(hdr(&r, "accept-ranges"), "bytes");
            assert_eq!(hdr(&r, "content-type"), "video/mp4");
            assert!(hdr(&r, "etag").starts_with('"'));
            assert!(hdr(&r, "last-modified").ends_with("GMT"));
            assert!(!hdr(&r, "cache-control").is_empty());
        }
    }

    #[tokio::test]
    async fn a_warm_function_reads_an_uploaded_record_once() {
        let h = Harness::new();
        let (_, path) = uploaded(&h, data(100)).await;
        assert_eq!(get(&h, "GET", &path, &[("range", "bytes=0-9")]).await.status(), 206);
        // The record is final: later ranges don't need DynamoDB.
        h.videos.set_unavailable(true);
        let r = get(&h, "GET", &path, &[("range", "bytes=10-19")]).await;
        assert_eq!(r.status(), 206);
        assert_eq!(r.body().as_ref(), &data(100)[10..20]);
    }

    #[tokio::test]
    async fn no_range_gives_the_whole_small_video_and_a_redirect_for_a_large_one() {
        let h = Harness::new();
        let (_, path) = uploaded(&h, data(100)).await;
        let r = get(&h, "GET", &path, &[]).await;
        assert_eq!((r.status().as_u16(), r.body().as_ref().len()), (200, 100));
        let r = get(&h, "GET", &format!("{path}&redirect=1"), &[]).await;
        assert_eq!(r.status(), 307);
        assert!(hdr(&r, "location").starts_with("memory://"));

        let big = h.app.config.range_cap as usize + 1;
        let (_, path) = uploaded(&h, data(big)).await;
        let r = get(&h, "GET", &path, &[]).await;
        assert_eq!(r.status(), 307);
        let r = get(&h, "GET", &path, &[("range", "bytes=0-")]).await;
        assert_eq!(r.status(), 206);
        assert_eq!(hdr(&r, "content-range"), format!("bytes 0-{}/{big}", big - 2));
        assert_eq!(r.body().as_ref().len(), big - 1);
    }

    #[tokio::test]
    async fn unsatisfiable_ranges_are_416_with_the_size() {
        let h = Harness::new();
        let (_, path) = uploaded(&h, data(10)).await;
        let r = get(&h, "GET", &path, &[("range", "bytes=10-")]).await;
        assert_eq!(r.status(), 416);
        assert_eq!(hdr(&r, "content-range"), "bytes */10");
        let (_, empty) = uploaded(&h, Vec::new()).await;
        let r = get(&h, "GET", &empty, &[("range", "bytes=0-")]).await;
        assert_eq!((r.status().as_u16(), hdr(&r, "content-range")), (416, "bytes */0"));
        let r = get(&h, "GET", &empty, &[]).await;
        assert_eq!((r.status().as_u16(), hdr(&r, "content-length")), (200, "0"));
    }

    #[tokio::test]
    async fn validators_give_304_and_if_range_falls_back_to_the_whole_video() {
        let h = Harness::new();
        let (video, path) = uploaded(&h, data(50)).await;
        let etag = hdr(&get(&h, "GET", &path, &[]).await, "etag").to_owned();
        let modified = hdr(&get(&h, "GET", &path, &[]).await, "last-modified").to_owned();
        let r = get(&h, "GET", &path, &[("if-none-match", &etag)]).await;
        assert_eq!((r.status().as_u16(), r.body().as_ref().len()), (304, 0));
        assert_eq!(hdr(&r, "etag"), etag);
        let r = get(&h, "GET", &path, &[("if-modified-since", &modified)]).await;
        assert_eq!(r.status(), 304);
        let r = get(&h, "GET", &path, &[("if-none-match", "\"other\""), ("range", "bytes=0-1")]).await;
        assert_eq!(r.status(), 206);

        let r = get(&h, "GET", &path, &[("if-range", &etag), ("range", "bytes=0-1")]).await;
        assert_eq!(r.status(), 206);
        let r = get(&h, "GET", &path, &[("if-range", "\"stale\""), ("range", "bytes=0-1")]).await;
        assert_eq!((r.status().as_u16(), r.body().as_ref().len()), (200, 50));
        let r = get(&h, "GET", &path, &[("if-range", &modified), ("range", "bytes=0-1")]).await;
        assert_eq!(r.status(), 206);
        let r =
            get(&h, "GET", &path, &[("if-range", "Mon, 01 Jan 2001 00:00:00 GMT"), ("range", "bytes=0-1")])
                .await;
        assert_eq!(r.status(), 200);
        assert_eq!(video.status, Status::Uploaded);
    }

    #[tokio::test]
    async fn head_has_gets_headers_and_no_body() {
        let h = Harness::new();
        let (_, path) = uploaded(&h, data(300)).await;
        for range in ["", "bytes=10-19"] {
            let headers: &[(&str, &str)] = if range.is_empty() { &[] } else { &[("range", range)] };
            let g = get(&h, "GET", &path, headers).await;
            let head = h.request("HEAD", &path, "", None);
            let mut head = head;
            for (n, v) in headers {
                head.headers_mut().insert(*n, v.parse().unwrap());
            }
            let r = crate::handlers::handle(&h.app, HttpFunction::StreamVideo, head).await.unwrap();
            assert_eq!(r.status(), g.status());
            assert_eq!(r.headers(), g.headers());
            assert!(r.body().as_ref().is_empty());
        }
    }

    #[tokio::test]
    async fn tokens_and_states_are_checked() {
        let h = Harness::new();
        let (video, path) = uploaded(&h, data(10)).await;
        let no_token = format!("/v1/videos/{}/stream", video.id);
        let tampered = path.replace("token=", "token=1");
        let (other, _) = uploaded(&h, data(10)).await;
        let foreign = path.replace(&video.id.to_string(), &other.id.to_string());
        for p in [no_token, tampered, foreign] {
            let r = get(&h, "GET", &p, &[]).await;
            assert_eq!(r.status(), 403, "{p}");
            let body: serde_json::Value = serde_json::from_slice(r.body().as_ref()).unwrap();
            assert_eq!(body["error"]["code"], "invalid_playback_token");
        }
        let secret = h.app.config.playback_secret.clone().unwrap();
        let expired =
            playback::issue(secret.as_bytes(), &video.id, time::now() - chrono::Duration::seconds(1));
        let r = get(&h, "GET", &format!("/v1/videos/{}/stream?token={expired}", video.id), &[]).await;
        assert_eq!(r.status(), 403);

        // Still uploading: as unknown as a missing video.
        let created = h.create(json!({"filename": "v.mp4"})).await;
        let id: crate::domain::VideoId = created["videoId"].as_str().unwrap().parse().unwrap();
        let token = playback::issue(secret.as_bytes(), &id, time::now() + chrono::Duration::seconds(60));
        let r = get(&h, "GET", &format!("/v1/videos/{id}/stream?token={token}"), &[]).await;
        assert_eq!(r.status(), 404);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// For random objects and ranges, the bytes served are the object's slice, and every
        /// reply is one of 200/206/307/416 with headers that agree with the body.
        #[test]
        fn served_bytes_equal_the_objects_slice(
            size in 0usize..3000,
            a in 0u64..3500,
            b in 0u64..3500,
            form in 0u8..4,
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let h = Harness::with_range_cap(1024);
                let bytes = data(size);
                let (_, path) = uploaded(&h, bytes.clone()).await;
                let range = match form {
                    0 => format!("bytes={}-{}", a.min(b), a.max(b)),
                    1 => format!("bytes={a}-"),
                    2 => format!("bytes=-{}", a.max(1)),
                    _ => format!("bytes={a}-{b}"),
                };
                let r = get(&h, "GET", &path, &[("range", &range)]).await;
                match r.status().as_u16() {
                    206 => {
                        let cr = hdr(&r, "content-range").to_owned();
                        let (span, total) = cr.strip_prefix("bytes ").unwrap().split_once('/').unwrap();
                        let (s, e) = span.split_once('-').unwrap();
                        let (s, e): (usize, usize) = (s.parse().unwrap(), e.parse().unwrap());
                        assert_eq!(total, size.to_string());
                        assert!(e - s < 1024, "capped");
                        assert_eq!(r.body().as_ref(), &bytes[s..=e], "{range}");
                        assert_eq!(hdr(&r, "content-length"), (e - s + 1).to_string());
                    }
                    200 => assert_eq!(r.body().as_ref(), &bytes[..], "{range}"),
                    307 => assert!(size > 1024, "{range}"),
                    416 => assert_eq!(hdr(&r, "content-range"), format!("bytes */{size}")),
                    other => panic!("{range} of {size}: {other}"),
                }
            });
        }

        /// Whatever arrives as Range / If-Range, the handler never panics and never answers 5xx.
        #[test]
        fn random_headers_never_panic_or_5xx(range in "\\PC{0,30}", if_range in "\\PC{0,20}", raw in proptest::collection::vec(any::<u8>(), 0..24)) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let h = Harness::with_range_cap(1024);
                let (_, path) = uploaded(&h, data(2000)).await;
                let mut req = h.request("GET", &path, "", None);
                if let Ok(v) = http::HeaderValue::from_str(&format!("bytes={range}")) {
                    req.headers_mut().insert("range", v);
                }
                if let Ok(v) = http::HeaderValue::from_bytes(&raw) {
                    req.headers_mut().insert("if-none-match", v);
                }
                if let Ok(v) = http::HeaderValue::from_str(&if_range) {
                    req.headers_mut().insert("if-range", v);
                }
                let r = crate::handlers::handle(&h.app, HttpFunction::StreamVideo, req).await.unwrap();
                assert!(r.status().as_u16() < 500, "{range:?} {if_range:?}: {}", r.status());
            });
        }
    }
}
