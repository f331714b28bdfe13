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
    // Through the CDN: the object is gone, and S3 answers CloudFront's Origin Access Control 403.
    assert_eq!(played.status(), 403, "the playback URL issued before the delete still plays");
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

/// Everything S3 holds under `prefix`: objects, and multipart uploads still open.
async fn held_under(stack: &Stack, prefix: &str) -> (usize, usize) {
    let objects =
        stack.s3.list_objects_v2().bucket(vidgate_tests::BUCKET).prefix(prefix).send().await.unwrap();
    let uploads =
        stack.s3.list_multipart_uploads().bucket(vidgate_tests::BUCKET).prefix(prefix).send().await.unwrap();
    (objects.contents.unwrap_or_default().len(), uploads.uploads.unwrap_or_default().len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_with_25_videos_in_every_state_is_erased_over_interrupted_runs() {
    let stack = Stack::start().await;
    let mut ids = Vec::new();
    // 3 rejected, 10 uploaded, 4 aborted, 8 still uploading (half of them with a part in S3).
    let start = |name: String| {
        let stack = &stack;
        async move {
            let (status, created) = stack
                .call("POST", "/v1/uploads", Some("carol"), Some(&json!({"filename": name, "size": MIB})))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            let id = created["videoId"].as_str().unwrap().to_owned();
            let (_, signed) = stack
                .call(
                    "POST",
                    &format!("/v1/uploads/{id}/part-urls"),
                    Some("carol"),
                    Some(&json!({"partNumbers": [1]})),
                )
                .await;
            (id, signed["urls"][0]["url"].as_str().unwrap().to_owned())
        }
    };
    for n in 0..3 {
        let (id, url) = start(format!("bad{n}.mp4")).await;
        stack.put_part(&url, vidgate_tests::noise(MIB, 200 + n)).await;
        let (status, _) =
            stack.call("POST", &format!("/v1/uploads/{id}/complete"), Some("carol"), None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        ids.push(id);
    }
    // Uploaded after the rejected ones: newer, so erased before them.
    for n in 0..10 {
        ids.push(
            stack.upload("carol", &format!("up{n}.mp4"), &bytes(MIB, 100 + n)).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for n in 0..4 {
        let (id, _) = start(format!("gone{n}.mp4")).await;
        let (status, _) = stack.call("DELETE", &format!("/v1/uploads/{id}"), Some("carol"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        ids.push(id);
    }
    for n in 0..8 {
        let (id, url) = start(format!("open{n}.mp4")).await;
        if n % 2 == 0 {
            stack.put_part(&url, bytes(MIB, 300 + n)).await;
        }
        ids.push(id);
    }
    assert_eq!(ids.len(), 25);
    // Prefix-scoped credentials leave a prefix item; someone else's video stays.
    let (status, _) = stack.call("GET", "/s3/sts", Some("carol"), None).await;
    assert_eq!(status, StatusCode::OK);
    let dave = stack.upload("dave", "dave.mp4", &bytes(MIB, 400)).await;
    let prefix = vidgate::domain::keys::owner_prefix(&vidgate::domain::Owner::new("carol"));
    // 10 uploaded objects (rejected ones were deleted once their reason was recorded); 8
    // multipart uploads open.
    assert_eq!(held_under(&stack, &prefix).await, (10, 8));

    // The first run is cut short by its limit, the second dies with S3 unreachable part-way
    // (an outage, a timeout): each leaves the rest for the next, which needs nothing from it.
    // Newest first: the 8 open and 4 aborted uploads, so the broken run starts on an uploaded
    // video, whose object is in S3.
    let first =
        vidgate::events::erase_owner(stack.app(), json!({"owner": "carol", "limit": 12})).await.unwrap();
    assert_eq!((first.deleted, first.done), (12, false), "{first:?}");
    assert_eq!((first.by_status.get("uploading"), first.by_status.get("aborted")), (Some(&8), Some(&4)));
    let broken = vidgate::App::new(
        (*stack.app().config).clone(),
        stack.app().videos.clone(),
        std::sync::Arc::new(vidgate::aws::s3::S3ObjectStore::new(
            &vidgate_local::bootstrap::sdk_config("http://127.0.0.1:9").await,
            vidgate_tests::BUCKET,
            true,
        )),
    );
    let err =
        vidgate::events::erase_owner(&broken, json!({"owner": "carol", "limit": 10})).await.unwrap_err();
    assert!(err.0.is_unavailable(), "{err}");
    let mut runs = vec![first];
    loop {
        let run =
            vidgate::events::erase_owner(stack.app(), json!({"owner": "carol", "limit": 10})).await.unwrap();
        let done = run.done;
        runs.push(run);
        if done {
            break;
        }
        assert!(runs.len() < 6, "{runs:?}");
    }
    let counted: u32 = runs.iter().map(|r| r.deleted).sum();
    // The broken run buried one video before S3 failed it: no later run lists its tombstone,
    // and the last run removes what S3 still held of it under the owner's prefix.
    assert_eq!(counted, 24, "{runs:?}");
    let last = runs.last().unwrap();
    assert_eq!((last.unrecorded_objects, last.unrecorded_uploads), (1, 0), "{last:?}");
    for id in &ids {
        let item = stack.item(id).await;
        assert_eq!(s(&item, "status"), "deleted", "{id}");
        assert!(!item.contains_key("owner"), "{item:?}");
    }
    assert_eq!(held_under(&stack, &prefix).await, (0, 0), "objects or open uploads of carol are left in S3");
    for gone in ["quota#carol".to_owned(), format!("prefix#{prefix}")] {
        let item = stack
            .dynamodb
            .get_item()
            .table_name(vidgate_tests::TABLE)
            .key("id", aws_sdk_dynamodb::types::AttributeValue::S(gone.clone()))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        assert!(item.item.is_none(), "{gone} is left: {:?}", item.item);
    }
    let (status, listed) = stack.call("GET", "/v1/videos", Some("carol"), None).await;
    assert_eq!((status, listed["videos"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)));
    let (status, still) =
        stack.call("GET", &format!("/v1/videos/{}", dave["id"].as_str().unwrap()), Some("dave"), None).await;
    assert_eq!((status, still["status"].as_str()), (StatusCode::OK, Some("uploaded")));
    // Idempotent: again, nothing to do.
    let again = vidgate::events::erase_owner(stack.app(), json!({"owner": "carol"})).await.unwrap();
    assert_eq!((again.deleted, again.done), (0, true));
}
