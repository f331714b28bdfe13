//! Ranged reads through the stream route (deployments with the CDN off), against bytes stored in
//! the local S3.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, ETAG, RANGE};
use serde_json::Value;
use vidgate_tests::{Outage, Stack, bytes};

const CAP: u64 = 64 * 1024;

async fn playback(stack: &Stack, id: &str) -> String {
    let (status, reply) = stack.call("POST", &format!("/v1/videos/{id}/playback"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    reply["url"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_read_through_the_stream_route_equal_the_stored_bytes() {
    let stack = Stack::start_configured(Outage::None, |c| {
        c.range_cap = CAP;
        c.cdn = None;
    })
    .await;
    let source = bytes(200_000, 7);
    let video = stack.upload("alice", "clip.mp4", &source).await;
    let id = video["id"].as_str().unwrap();
    let url = playback(&stack, id).await;
    assert!(url.starts_with(&stack.api), "{url} is served by this API");

    let n = source.len();
    for (range, start, end) in [
        ("bytes=0-1", 0, 1),
        ("bytes=1000-", 1000, 1000 + CAP as usize - 1),
        ("bytes=-100", n - 100, n - 1),
        ("bytes=199990-300000", 199_990, n - 1),
    ] {
        let response = stack.http.get(&url).header(RANGE, range).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(response.headers()[CONTENT_RANGE], format!("bytes {start}-{end}/{n}").as_str());
        assert_eq!(response.headers()[CONTENT_LENGTH], (end - start + 1).to_string().as_str());
        assert_eq!(response.headers()["content-type"], "video/mp4");
        assert_eq!(response.headers()[ETAG], video["etag"].as_str().unwrap());
        let body = response.bytes().await.unwrap();
        assert!(body[..] == source[start..=end], "{range}: bytes differ");
    }

    let response = stack.http.get(&url).header(RANGE, format!("bytes={n}-")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(response.headers()[CONTENT_RANGE], format!("bytes */{n}").as_str());

    // No range on a video over the cap: a redirect to S3, which reqwest follows to every byte.
    let response = stack.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.url().as_str().contains("X-Amz-Signature"), "{}", response.url());
    assert!(response.bytes().await.unwrap()[..] == source[..]);

    let head = stack.http.head(&url).header(RANGE, "bytes=0-1").send().await.unwrap();
    assert_eq!(head.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(head.headers()[CONTENT_LENGTH], "2");

    let response =
        stack.http.get(&url).header("if-none-match", video["etag"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_route_wants_a_valid_token_and_an_uploaded_video() {
    let stack = Stack::start_configured(Outage::None, |c| c.cdn = None).await;
    let video = stack.upload("alice", "clip.mp4", &bytes(1000, 8)).await;
    let id = video["id"].as_str().unwrap();
    let url = playback(&stack, id).await;

    let ok = stack.http.get(&url).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.bytes().await.unwrap().len(), 1000);

    let bare = url.split('?').next().unwrap().to_owned();
    for bad in [bare.clone(), format!("{bare}?token=123.abc"), url.replace("token=", "token=9")] {
        let response = stack.http.get(&bad).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_playback_token");
    }

    let (status, unfinished) = stack
        .call("POST", "/v1/uploads", Some("alice"), Some(&serde_json::json!({"filename": "x.mp4"})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let other = unfinished["videoId"].as_str().unwrap();
    let (status, reply) =
        stack.call("POST", &format!("/v1/videos/{other}/playback"), Some("alice"), None).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("video_not_uploaded")));
    let (status, _) = stack.call("POST", &format!("/v1/videos/{id}/playback"), Some("bob"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A token for one video does not open another.
    let foreign = url.replace(id, other);
    assert_eq!(stack.http.get(&foreign).send().await.unwrap().status(), StatusCode::FORBIDDEN);
}
