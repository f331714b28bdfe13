//! What was checked is what is served: for every path that writes an object, finish a video,
//! then try to write other bytes (and an HTML page) over it. Either S3 refuses the write (412 or
//! 403), or playback — through the CDN and through the stream route — still serves the checked
//! bytes as a video with `nosniff`, and the bytes written over it are deleted.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, RANGE};
use serde_json::{Value, json};
use vidgate_tests::{BUCKET, Outage, Stack, bytes, post_form, s, s3_error_code};

const HTML: &[u8] = b"<html><script>alert(document.cookie)</script></html>";

/// The versions S3 keeps of `key`.
async fn versions(stack: &Stack, key: &str) -> Vec<String> {
    let out = stack.s3.list_object_versions().bucket(BUCKET).prefix(key).send().await.unwrap();
    let mut ids: Vec<String> =
        out.versions().iter().filter_map(|v| v.version_id().map(str::to_owned)).collect();
    ids.extend(out.delete_markers().iter().filter_map(|m| m.version_id().map(str::to_owned)));
    ids
}

/// Waits until S3 keeps exactly the recorded version of the video (its event deleted the rest).
async fn only_checked_version_remains(stack: &Stack, id: &str, key: &str) {
    let checked = s(&stack.item(id).await, "versionId");
    let started = Instant::now();
    loop {
        let now = versions(stack, key).await;
        if now == [checked.clone()] {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "foreign versions stay: {now:?} (checked {checked})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts `url` serves the checked bytes as `video/mp4` with `nosniff` (whole, and as a range).
async fn serves_checked_bytes(stack: &Stack, url: &str, source: &[u8]) {
    let whole = stack.http.get(url).send().await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK, "{url}");
    assert_eq!(whole.headers()[CONTENT_TYPE], "video/mp4", "{url}");
    assert_eq!(whole.headers()["x-content-type-options"], "nosniff", "{url}");
    assert!(whole.bytes().await.unwrap()[..] == source[..], "{url} serves other bytes");
    let range = stack.http.get(url).header(RANGE, "bytes=0-99").send().await.unwrap();
    assert_eq!(range.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(range.headers()[CONTENT_TYPE], "video/mp4");
    assert_eq!(range.headers()["x-content-type-options"], "nosniff");
    assert!(range.bytes().await.unwrap()[..] == source[..100]);
}

/// Both playback paths: the CDN URL `create-playback` answers (the default), and the stream
/// route a deployment without a CDN answers (its token minted with the stack's secret).
async fn both_paths_serve(stack: &Stack, sub: &str, id: &str, source: &[u8]) {
    let (status, playback) = stack.call("POST", &format!("/v1/videos/{id}/playback"), Some(sub), None).await;
    assert_eq!(status, StatusCode::OK, "{playback}");
    let cdn = playback["url"].as_str().unwrap();
    assert!(cdn.contains("/cdn/"), "{cdn}");
    serves_checked_bytes(stack, cdn, source).await;
    let secret = stack.app().config.playback_secret.clone().unwrap();
    let expires = vidgate::domain::time::now() + chrono::Duration::minutes(5);
    let token = vidgate::domain::playback::issue(secret.as_bytes(), &id.parse().unwrap(), expires);
    let route = format!("{}/v1/videos/{id}/stream?token={token}", stack.api);
    serves_checked_bytes(stack, &route, source).await;
}

/// What a holder of write credentials does once the video is final: an HTML page over its key.
async fn write_html_over(s3: &aws_sdk_s3::Client, key: &str) {
    s3.put_object()
        .bucket(BUCKET)
        .key(key)
        .content_type("text/html")
        .body(ByteStream::from(HTML.to_vec()))
        .send()
        .await
        .unwrap();
}

/// A write S3 could not refuse left no trace: both playback paths serve the checked bytes, and
/// the written version is deleted.
async fn leaves_no_trace(stack: &Stack, sub: &str, id: &str, key: &str, source: &[u8]) {
    both_paths_serve(stack, sub, id, source).await;
    only_checked_version_remains(stack, id, key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_url_replayed_after_the_video_arrived_is_refused_by_s3() {
    let mut stack = Stack::start().await;
    stack.deliver_s3_events().await;
    let source = bytes(300_000, 1);
    let body = json!({"filename": "a.mp4", "method": "put", "size": source.len()});
    let (status, created) = stack.call("POST", "/v1/uploads", Some("alice"), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (id, key) = (created["videoId"].as_str().unwrap(), created["key"].as_str().unwrap());
    let put = &created["put"];
    assert_eq!(put["headers"]["if-none-match"], "*", "the URL signs If-None-Match");
    let send = |bytes: Vec<u8>, if_none_match: Option<&str>| {
        let mut request = stack
            .http
            .put(put["url"].as_str().unwrap())
            .header("content-type", put["headers"]["content-type"].as_str().unwrap());
        if let Some(value) = if_none_match {
            request = request.header("if-none-match", value);
        }
        request.body(bytes).send()
    };
    assert_eq!(send(source.clone(), Some("*")).await.unwrap().status(), StatusCode::OK);
    let (status, done) = stack.call("POST", &format!("/v1/uploads/{id}/complete"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::OK, "{done}");

    // The same signed headers, other bytes of the same length: S3 refuses, the object exists.
    let replay = send(bytes(300_000, 2), Some("*")).await.unwrap();
    assert_eq!(replay.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(s3_error_code(&replay.text().await.unwrap()), "PreconditionFailed");
    // Without the header the signature no longer matches.
    let unsigned = send(bytes(300_000, 3), None).await.unwrap();
    assert_eq!(unsigned.status(), StatusCode::FORBIDDEN);
    assert_eq!(stack.object(key).await, source);
    assert_eq!(versions(&stack, key).await.len(), 1);
    both_paths_serve(&stack, "alice", id, &source).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_completed_upload_is_not_replaced_by_a_later_complete_or_an_sdk_write() {
    let mut stack = Stack::start().await;
    stack.deliver_s3_events().await;
    let source = bytes(400_000, 4);
    let video = stack.upload("alice", "a.mp4", &source).await;
    let (id, key) = (video["id"].as_str().unwrap(), video["key"].as_str().unwrap());
    // The server's own CompleteMultipartUpload carried If-None-Match: another complete on the key
    // (an upload the owner's prefix credentials started) is refused by S3.
    let open = stack.s3.create_multipart_upload().bucket(BUCKET).key(key).send().await.unwrap();
    let part = stack
        .s3
        .upload_part()
        .bucket(BUCKET)
        .key(key)
        .upload_id(open.upload_id().unwrap())
        .part_number(1)
        .body(ByteStream::from(HTML.to_vec()))
        .send()
        .await
        .unwrap();
    let refused = stack
        .s3
        .complete_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(open.upload_id().unwrap())
        .if_none_match("*")
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.raw_response().unwrap().status().as_u16(), 412);
    assert_eq!(stack.object(key).await, source);
    both_paths_serve(&stack, "alice", id, &source).await;
}

/// An S3 client holding only credentials a grant answered (`/v1` credentials mode, or `/s3/sts`).
fn client(stack: &Stack, c: &Value, region: &str) -> aws_sdk_s3::Client {
    let field = |a: &str, b: &str| c[a].as_str().or_else(|| c[b].as_str()).unwrap().to_owned();
    stack.s3_client_with(
        &field("accessKeyId", "AccessKeyId"),
        &field("secretAccessKey", "SecretAccessKey"),
        &field("sessionToken", "SessionToken"),
        region,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_still_valid_after_arrival_write_html_over_it_and_nothing_of_it_is_served() {
    let mut stack = Stack::start().await;
    stack.deliver_s3_events().await;
    let source = bytes(300_000, 5);
    let body = json!({"filename": "phone.mp4", "size": source.len(), "method": "credentials"});
    let (status, created) = stack.call("POST", "/v1/uploads", Some("alice"), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (id, key) = (created["videoId"].as_str().unwrap(), created["key"].as_str().unwrap());
    let s3 = client(&stack, &created["credentials"], created["region"].as_str().unwrap());
    s3.put_object()
        .bucket(BUCKET)
        .key(key)
        .content_type("video/mp4")
        .if_none_match("*")
        .body(ByteStream::from(source.clone()))
        .send()
        .await
        .unwrap();
    let (status, done) = stack.call("POST", &format!("/v1/uploads/{id}/complete"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::OK, "{done}");

    // With If-None-Match, as the docs' snippet sends it: refused.
    let again = s3
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .if_none_match("*")
        .body(ByteStream::from(bytes(300_000, 6)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.raw_response().unwrap().status().as_u16(), 412);
    // Without it S3 can't refuse (the credentials allow PutObject on the key for their hour): the
    // HTML page becomes the current version, and is never served, then deleted by its event.
    write_html_over(&s3, key).await;
    leaves_no_trace(&stack, "alice", id, key, &source).await;
    assert_eq!(stack.object(key).await, source, "the checked version is current again");
    both_paths_serve(&stack, "alice", id, &source).await;
    // SSE-C and archive storage classes are refused (the bucket policy's lockdown).
    let sse_c = s3
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .sse_customer_algorithm("AES256")
        .sse_customer_key("MDEyMzQ1Njc4OUFCQ0RFRjAxMjM0NTY3ODlBQkNERUY=")
        .sse_customer_key_md5("fSNdbyk2zG+bU/E7Ymb+3A==")
        .body(ByteStream::from(HTML.to_vec()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(sse_c.raw_response().unwrap().status().as_u16(), 403);
    let glacier = s3
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .storage_class(aws_sdk_s3::types::StorageClass::Glacier)
        .body(ByteStream::from(HTML.to_vec()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(glacier.raw_response().unwrap().status().as_u16(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefix_credentials_asked_for_again_overwrite_no_finished_video() {
    let mut stack = Stack::start().await;
    stack.deliver_s3_events().await;
    let source = bytes(300_000, 7);
    let video = stack.upload("carol", "a.mp4", &source).await;
    let (id, key) = (video["id"].as_str().unwrap(), video["key"].as_str().unwrap());
    for path in ["/s3/sts", "/uppy/credentials"] {
        let (status, grant) = stack.call("GET", path, Some("carol"), None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {grant}");
        let region = grant["region"].as_str().unwrap();
        let s3 = client(&stack, &grant["credentials"], region);
        write_html_over(&s3, key).await;
        leaves_no_trace(&stack, "carol", id, key, &source).await;
    }
    assert_eq!(stack.item(id).await["status"].as_s().unwrap(), "uploaded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uppy_sign_and_companion_post_urls_replayed_leave_no_trace_in_what_is_served() {
    let mut stack = Stack::start().await;
    stack.deliver_s3_events().await;

    // Uppy 6 signRequest: a presigned PutObject for a new key of the caller's.
    let source = bytes(200_000, 8);
    let body = json!({"method": "PUT", "key": "u.mp4", "contentType": "video/mp4"});
    let (status, signed) = stack.call("POST", "/uppy/sign", Some("dave"), Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let url = signed["url"].as_str().unwrap().to_owned();
    let put =
        |bytes: Vec<u8>, ct: &'static str| stack.http.put(&url).header("content-type", ct).body(bytes).send();
    assert_eq!(put(source.clone(), "video/mp4").await.unwrap().status(), StatusCode::OK);
    let id = wait_uploaded(&stack, "dave", 1).await;
    let key = stack.item(&id).await["key"].as_s().unwrap().clone();
    assert_eq!(put(HTML.to_vec(), "text/html").await.unwrap().status(), StatusCode::OK);
    leaves_no_trace(&stack, "dave", &id, &key, &source).await;

    // Uppy 5 on Companion: the /s3/params POST form.
    let source = bytes(150_000, 9);
    let (status, params) =
        stack.call("GET", "/s3/params?filename=c.mp4&type=video%2Fmp4", Some("dave"), None).await;
    assert_eq!(status, StatusCode::OK, "{params}");
    let url = params["url"].as_str().unwrap();
    let response = post_form(&stack.http, url, &params["fields"], source.clone(), None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let id = wait_uploaded(&stack, "dave", 2).await;
    let key = params["key"].as_str().unwrap();
    let replay = post_form(&stack.http, url, &params["fields"], bytes(150_000, 10), None).await;
    assert_eq!(replay.status(), StatusCode::NO_CONTENT, "a POST policy can't carry If-None-Match");
    leaves_no_trace(&stack, "dave", &id, key, &source).await;
}

/// The id of `sub`'s newest uploaded video once `count` are uploaded.
async fn wait_uploaded(stack: &Stack, sub: &str, count: usize) -> String {
    let started = Instant::now();
    loop {
        let (status, page) = stack.call("GET", "/v1/videos?status=uploaded", Some(sub), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let videos = page["videos"].as_array().unwrap();
        if videos.len() == count {
            return videos[0]["id"].as_str().unwrap().to_owned();
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_credential_flood_over_the_quota_leaves_at_most_the_quota_in_videos_and_objects() {
    const SIZE: usize = 200_000;
    // Room for three videos of SIZE in what the owner may keep.
    let mut stack = Stack::start_configured(Outage::None, |c| c.quota.stored = 3 * SIZE as u64).await;
    stack.deliver_s3_events().await;
    let (status, grant) = stack.call("GET", "/uppy/credentials", Some("erin"), None).await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    let s3 = client(&stack, &grant["credentials"], grant["region"].as_str().unwrap());
    let prefix = vidgate::domain::keys::owner_prefix(&vidgate::domain::Owner::new("erin"));
    for i in 0..6 {
        s3.put_object()
            .bucket(BUCKET)
            .key(format!("{prefix}flood-{i}.mp4"))
            .body(ByteStream::from(bytes(SIZE, 20 + i)))
            .send()
            .await
            .unwrap();
    }
    // Every object gets its record: three uploaded, three rejected with the bound named.
    let started = Instant::now();
    let (uploaded, rejected) = loop {
        let (_, page) = stack.call("GET", "/v1/videos?limit=50", Some("erin"), None).await;
        let videos = page["videos"].as_array().unwrap().clone();
        let with =
            |status: &str| videos.iter().filter(|v| v["status"] == status).cloned().collect::<Vec<_>>();
        if with("uploaded").len() + with("rejected").len() == 6 {
            break (with("uploaded"), with("rejected"));
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(uploaded.len(), 3);
    for video in &rejected {
        assert!(video["rejectReason"].as_str().unwrap().contains("bytes you may store"), "{video}");
    }
    // And S3 keeps exactly the uploaded three: no byte of the others stays.
    let listed = stack.s3.list_object_versions().bucket(BUCKET).prefix(&prefix).send().await.unwrap();
    let mut kept: Vec<&str> = listed.versions().iter().filter_map(|v| v.key()).collect();
    kept.sort();
    let mut expected: Vec<&str> = uploaded.iter().map(|v| v["key"].as_str().unwrap()).collect();
    expected.sort();
    assert_eq!(kept, expected);
    assert!(listed.delete_markers().is_empty());

    // Deleting a video gives its bytes back (the quota item in DynamoDB says so); another fits.
    let stored = || async {
        let quota = vidgate::aws::dynamodb::DynamoVideoStore::new(stack.sdk(), vidgate_tests::TABLE);
        vidgate::store::VideoStore::quota_use(&quota, &vidgate::domain::Owner::new("erin"))
            .await
            .unwrap()
            .stored
    };
    assert_eq!(stored().await, 3 * SIZE as u64);
    let gone = uploaded[0]["id"].as_str().unwrap();
    let (status, _) = stack.call("DELETE", &format!("/v1/videos/{gone}"), Some("erin"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(stored().await, 2 * SIZE as u64);
    s3.put_object()
        .bucket(BUCKET)
        .key(format!("{prefix}after-delete.mp4"))
        .body(ByteStream::from(bytes(SIZE, 40)))
        .send()
        .await
        .unwrap();
    let started = Instant::now();
    while stored().await != 3 * SIZE as u64 {
        assert!(started.elapsed() < Duration::from_secs(20), "the new video was not counted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_poisoned_record_does_not_stop_the_sweeper_on_the_local_stack() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let stack = Stack::start().await;
    let mut ids = Vec::new();
    for name in ["poisoned.mp4", "a.mp4", "b.mp4", "c.mp4"] {
        let body = json!({"filename": name, "method": "put", "size": 1000});
        let (status, created) = stack.call("POST", "/v1/uploads", Some("alice"), Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        ids.push(created["videoId"].as_str().unwrap().to_owned());
    }
    // All overdue, the poisoned one the oldest (first in every run). Its key is one S3 refuses
    // outright (over 1,024 bytes: HeadObject is a 400), as a record corrupted by hand would be.
    let prefix = vidgate::domain::keys::owner_prefix(&vidgate::domain::Owner::new("alice"));
    for (i, id) in ids.iter().enumerate() {
        let mut update = stack
            .dynamodb
            .update_item()
            .table_name(vidgate_tests::TABLE)
            .key("id", AttributeValue::S(id.clone()))
            .update_expression(if i == 0 {
                "SET expiresAt = :past, #key = :key"
            } else {
                "SET expiresAt = :past"
            })
            .expression_attribute_values(
                ":past",
                AttributeValue::S(format!("2026-01-0{}T00:00:00.000Z", i + 1)),
            );
        if i == 0 {
            update = update.expression_attribute_names("#key", "key").expression_attribute_values(
                ":key",
                AttributeValue::S(format!("{prefix}{}", "x".repeat(1100))),
            );
        }
        update.send().await.unwrap();
    }
    let report = vidgate::events::expire_uploads(stack.app()).await.unwrap();
    assert_eq!((report.due, report.failed, report.expired), (4, 1, 3), "{report:?}");
    for id in &ids[1..] {
        assert_eq!(s(&stack.item(id).await, "status"), "expired");
    }
    assert_eq!(s(&stack.item(&ids[0]).await, "status"), "uploading", "retried next run, alone");
    let again = vidgate::events::expire_uploads(stack.app()).await.unwrap();
    assert_eq!((again.due, again.failed, again.expired), (1, 1, 0));
}
