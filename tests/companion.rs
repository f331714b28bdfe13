//! Uppy Companion's S3 protocol over HTTP against moto: every `/s3/...` route, the browser-facing
//! CORS of the bucket (`ETag` readable), resume, and the uploads S3 events finish (`/s3/params`,
//! `/s3/sts`).

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use reqwest::StatusCode;
use serde_json::{Value, json};
use vidgate_tests::{MIB, Stack, bytes};

fn enc(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

const ORIGIN: &str = "http://127.0.0.1:5173";

/// `PUT`s `body` to a presigned URL as a browser on another origin does; returns the ETag the
/// browser's script can read (only if CORS exposes it).
async fn browser_put(stack: &Stack, url: &str, body: Vec<u8>, content_type: Option<&str>) -> String {
    let mut request = stack.http.put(url).header("origin", ORIGIN).body(body);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "PUT {url}");
    let exposed = response
        .headers()
        .get("access-control-expose-headers")
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
        .unwrap_or_default();
    assert!(exposed.contains("etag"), "the bucket's CORS does not expose ETag: {:?}", response.headers());
    response.headers()["etag"].to_str().unwrap().to_owned()
}

/// Polls the record of `id` until its status is not `uploading` (S3 events arrive asynchronously).
async fn settled(stack: &Stack, sub: &str, id: &str) -> Value {
    for _ in 0..100 {
        let (status, video) = stack.call("GET", &format!("/v1/videos/{id}"), Some(sub), None).await;
        assert_eq!(status, StatusCode::OK, "{video}");
        if video["status"] != "uploading" {
            return video;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("video {id} is still uploading after 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_multipart_route_with_resume_after_two_of_four_parts() {
    let stack = Stack::start().await;
    let source = bytes(16 * MIB + 4321, 61);
    let chunk = |n: usize| source[(n - 1) * 5 * MIB..(n * 5 * MIB).min(source.len())].to_vec();

    let meta = json!({"filename": "trip.mp4", "type": "video/mp4", "metadata": {"name": "trip.mp4", "caption": "alps"}});
    let (status, created) = stack.call("POST", "/s3/multipart", Some("alice"), Some(&meta)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let (key, upload) = (created["key"].as_str().unwrap(), created["uploadId"].as_str().unwrap());
    assert_eq!(created["bucket"], vidgate_tests::BUCKET);
    let id = created["video"]["id"].as_str().unwrap();
    let q = format!("key={}", enc(key));
    let base = format!("/s3/multipart/{}", enc(upload));

    // The browser's preflight for a part PUT is allowed by the bucket's CORS.
    let (status, batch) =
        stack.call("GET", &format!("{base}/batch?{q}&partNumbers=1,2"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::OK, "{batch}");
    let url1 = batch["presignedUrls"]["1"].as_str().unwrap();
    let preflight = stack
        .http
        .request(reqwest::Method::OPTIONS, url1)
        .header("origin", ORIGIN)
        .header("access-control-request-method", "PUT")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    assert!(preflight.headers().contains_key("access-control-allow-origin"), "{:?}", preflight.headers());

    let mut etags = vec![
        browser_put(&stack, url1, chunk(1), None).await,
        browser_put(&stack, batch["presignedUrls"]["2"].as_str().unwrap(), chunk(2), None).await,
    ];

    // The tab is closed here; a new one resumes from what S3 holds.
    let (status, listed) = stack.call("GET", &format!("{base}?{q}"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(
        listed,
        json!([{"PartNumber": 1, "ETag": etags[0], "Size": 5 * MIB}, {"PartNumber": 2, "ETag": etags[1], "Size": 5 * MIB}])
    );
    let (status, one) = stack.call("GET", &format!("{base}/3?{q}"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert!(one["expires"].as_u64().unwrap() > 0);
    etags.push(browser_put(&stack, one["url"].as_str().unwrap(), chunk(3), None).await);
    let (_, four) = stack.call("GET", &format!("{base}/batch?{q}&partNumbers=4"), Some("alice"), None).await;
    etags.push(browser_put(&stack, four["presignedUrls"]["4"].as_str().unwrap(), chunk(4), None).await);

    // Someone else can't see, complete or abort it, whatever they know of it.
    for (method, path) in [("GET", format!("{base}?{q}")), ("DELETE", format!("{base}?{q}"))] {
        let (status, body) = stack.call(method, &path, Some("bob"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }

    let parts: Vec<Value> =
        etags.iter().enumerate().map(|(i, etag)| json!({"PartNumber": i + 1, "ETag": etag})).collect();
    let (status, done) = stack
        .call("POST", &format!("{base}/complete?{q}"), Some("alice"), Some(&json!({"parts": parts})))
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        (done["key"].as_str(), done["location"].as_str()),
        (Some(key), Some(&*format!("/v1/videos/{id}")))
    );
    assert_eq!(done["video"]["status"], "uploaded");
    assert_eq!(done["video"]["size"], source.len());
    assert_eq!(stack.object(key).await, source);
    let item = stack.item(id).await;
    assert_eq!(item["status"].as_s().unwrap(), "uploaded");
    assert_eq!(item["metadata"].as_m().unwrap()["caption"].as_s().unwrap(), "alps");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_answers_an_empty_object_and_s3_forgets_the_upload() {
    let stack = Stack::start().await;
    let meta = json!({"filename": "gone.webm", "type": "video/webm", "metadata": {}});
    let (_, created) = stack.call("POST", "/s3/multipart", Some("alice"), Some(&meta)).await;
    let (key, upload) = (created["key"].as_str().unwrap(), created["uploadId"].as_str().unwrap());
    let path = format!("/s3/multipart/{}?key={}", enc(upload), enc(key));
    assert_eq!(stack.open_uploads(key).await, 1);
    let (status, body) = stack.call("DELETE", &path, Some("alice"), None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    assert_eq!(stack.open_uploads(key).await, 0);
    let (status, body) = stack.call("GET", &path, Some("alice"), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("upload_aborted")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_post_form_from_params_is_recorded_uploaded_by_the_s3_event() {
    let mut stack = Stack::start().await;
    stack.deliver_s3_events().await;
    let (status, params) = stack
        .call(
            "GET",
            "/s3/params?filename=short.mp4&type=video%2Fmp4&metadata%5Bname%5D=short.mp4",
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{params}");
    assert_eq!(params["method"], "POST");
    let id = params["video"]["id"].as_str().unwrap();
    let source = bytes(700_000, 62);
    // What Uppy's Companion client sends: the fields in order, then the file; it reads the ETag.
    let url = params["url"].as_str().unwrap();
    let response =
        vidgate_tests::post_form(&stack.http, url, &params["fields"], source.clone(), Some(ORIGIN)).await;
    assert_eq!(response.status(), 204);
    let exposed = response.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(exposed.contains("etag") && response.headers().contains_key("etag"), "{:?}", response.headers());

    // Nobody calls complete: the ObjectCreated notification does it.
    let video = settled(&stack, "alice", id).await;
    assert_eq!(
        (video["status"].as_str(), video["size"].as_u64()),
        (Some("uploaded"), Some(source.len() as u64))
    );
    assert_eq!(stack.object(params["key"].as_str().unwrap()).await, source);
    let head =
        stack.s3.head_object().bucket(vidgate_tests::BUCKET).key(params["key"].as_str().unwrap()).send();
    assert_eq!(head.await.unwrap().content_type(), Some("video/mp4"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_upload_with_sts_credentials_under_the_prefix_gets_a_record_of_its_owner() {
    let mut stack = Stack::start().await;
    stack.deliver_s3_events().await;
    let (status, grant) = stack.call("GET", "/s3/sts", Some("carol"), None).await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    let c = &grant["credentials"];
    let field = |name: &str| c[name].as_str().unwrap();
    let region = grant["region"].as_str().unwrap();
    let s3 =
        stack.s3_client_with(field("AccessKeyId"), field("SecretAccessKey"), field("SessionToken"), region);
    let prefix = vidgate::domain::keys::owner_prefix(&vidgate::domain::Owner::new("carol"));
    let key = format!("{prefix}from-the-sdk/beach.mp4");
    let source = bytes(300_000, 63);
    s3.put_object()
        .bucket(grant["bucket"].as_str().unwrap())
        .key(&key)
        .body(ByteStream::from(source.clone()))
        .send()
        .await
        .unwrap();

    let mut listed = Value::Null;
    for _ in 0..100 {
        let (status, page) = stack.call("GET", "/v1/videos?status=uploaded", Some("carol"), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        if !page["videos"].as_array().unwrap().is_empty() {
            listed = page;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let video = &listed["videos"][0];
    assert_eq!(video["key"], key, "{listed}");
    assert_eq!((video["filename"].as_str(), video["size"].as_u64()), (Some("beach.mp4"), Some(300_000)));
    // It is carol's alone.
    let (status, _) =
        stack.call("GET", &format!("/v1/videos/{}", video["id"].as_str().unwrap()), Some("dave"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
