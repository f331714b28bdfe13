//! Deleting videos on the local stack: real DynamoDB items (moto), the strict local S3, S3 events
//! through the queue. A deleted video is gone from S3, from get, list and playback, and nothing
//! that arrives late brings it back.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use vidgate_tests::{MIB, Stack, bytes, s};

async fn object_exists(stack: &Stack, key: &str) -> bool {
    let s3 = aws_sdk_s3::Client::new(stack.sdk());
    s3.head_object().bucket(vidgate_tests::BUCKET).key(key).send().await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_video_is_gone_everywhere_and_stays_deleted() {
    let mut stack = Stack::start().await;
    stack.deliver_s3_events().await;
    let video = stack.upload("alice", "a.mp4", &bytes(MIB, 21)).await;
    let (id, key) = (video["id"].as_str().unwrap().to_owned(), video["key"].as_str().unwrap().to_owned());
    let (status, playback) =
        stack.call("POST", &format!("/v1/videos/{id}/playback"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::OK, "{playback}");
    let stream = playback["url"].as_str().unwrap().to_owned();
    let played = stack.http.get(&stream).header("range", "bytes=0-9").send().await.unwrap();
    assert_eq!(played.status(), 206);

    // Someone else: 404 and nothing removed.
    let path = format!("/v1/videos/{id}");
    let (status, body) = stack.call("DELETE", &path, Some("bob"), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("video_not_found")));
    assert!(object_exists(&stack, &key).await);

    let (status, body) = stack.call("DELETE", &path, Some("alice"), None).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    assert!(!object_exists(&stack, &key).await, "the object is still in S3");
    let item = stack.item(&id).await;
    assert_eq!(s(&item, "status"), "deleted");
    assert_eq!(s(&item, "deletedOwner"), "alice");
    assert_eq!(s(&item, "filename"), "");
    for gone in ["owner", "ownerStatus", "expiryShard", "metadata"] {
        assert!(!item.contains_key(gone), "the tombstone still has {gone}: {item:?}");
    }
    assert!(item.contains_key("purgeAt"), "{item:?}");
    let (status, _) = stack.call("DELETE", &path, Some("alice"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = stack.call("GET", &path, Some("alice"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, listed) = stack.call("GET", "/v1/videos", Some("alice"), None).await;
    assert_eq!((status, listed["videos"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{listed}");
    let played = stack.http.get(&stream).header("range", "bytes=0-9").send().await.unwrap();
    assert_eq!(played.status(), 404, "the playback URL issued before the delete still plays");
    let (status, _) = stack.call("POST", &format!("/v1/videos/{id}/playback"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A late write to the key (an SDK finishing after the delete) and its ObjectCreated event:
    // the object goes, the record stays deleted.
    let s3 = aws_sdk_s3::Client::new(stack.sdk());
    s3.put_object().bucket(vidgate_tests::BUCKET).key(&key).body(bytes(MIB, 22).into()).send().await.unwrap();
    let started = Instant::now();
    while object_exists(&stack, &key).await {
        assert!(started.elapsed() < Duration::from_secs(30), "the late object was never removed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(s(&stack.item(&id).await, "status"), "deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_in_progress_is_deleted_with_its_parts_and_a_complete_after_it_is_404() {
    let stack = Stack::start().await;
    let source = bytes(MIB, 23);
    let body = json!({"filename": "b.mp4", "size": source.len()});
    let (status, created) = stack.call("POST", "/v1/uploads", Some("alice"), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (id, key) = (created["videoId"].as_str().unwrap(), created["key"].as_str().unwrap());
    let (_, signed) = stack
        .call(
            "POST",
            &format!("/v1/uploads/{id}/part-urls"),
            Some("alice"),
            Some(&json!({"partNumbers": [1]})),
        )
        .await;
    stack.put_part(signed["urls"][0]["url"].as_str().unwrap(), source).await;
    assert_eq!(stack.open_uploads(key).await, 1);

    let (status, _) = stack.call("DELETE", &format!("/v1/videos/{id}"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(stack.open_uploads(key).await, 0, "the multipart upload is still open");
    let (status, body) = stack.call("POST", &format!("/v1/uploads/{id}/complete"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(!object_exists(&stack, key).await);
    let item = stack.item(id).await;
    assert_eq!(s(&item, "status"), "deleted");
    // The upload's share of alice's quota is back.
    let quota = stack.item("quota#alice").await;
    assert_eq!(quota["openUploads"].as_n().unwrap(), "0");
}
