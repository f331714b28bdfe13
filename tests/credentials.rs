//! Credentials mode, S3 events and the expiry sweeper against moto.
//!
//! moto's STS issues credentials without enforcing the session policy and its S3 checks no
//! signatures, so these tests show the flow works with only the issued credentials; the policy's
//! scope is tested as data (`domain::credentials`), exactly as STS would receive it.

use aws_lambda_events::event::s3::S3Event;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use reqwest::StatusCode;
use serde_json::{Value, json};
use vidgate_tests::{MIB, Stack, TABLE, bytes, noise, s};

/// An S3 client that holds nothing but the credentials vidgate issued.
fn sdk_client(stack: &Stack, grant: &Value) -> aws_sdk_s3::Client {
    let c = &grant["credentials"];
    let field = |name: &str| c[name].as_str().unwrap();
    let region = grant["region"].as_str().unwrap();
    stack.s3_client_with(field("accessKeyId"), field("secretAccessKey"), field("sessionToken"), region)
}

/// The notification S3 sends for an object: events/s3-object-created.json with this object's
/// bucket, URL-encoded key, size and ETag.
fn s3_event(bucket: &str, key: &str, size: usize, etag: &str) -> S3Event {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/s3-object-created.json");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let s3 = &mut event["Records"][0]["s3"];
    s3["bucket"]["name"] = json!(bucket);
    s3["bucket"]["arn"] = json!(format!("arn:aws:s3:::{bucket}"));
    s3["object"] = json!({"key": key.replace(' ', "+"), "size": size, "eTag": etag.trim_matches('"'), "sequencer": "0A1B2C3D4E5F678901"});
    serde_json::from_value(event).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_multipart_upload_with_only_the_issued_credentials_completes_and_the_bytes_match() {
    let stack = Stack::start().await;
    let source = bytes(6 * MIB + 123, 11);
    let (status, created) = stack
        .call(
            "POST",
            "/v1/uploads",
            Some("alice"),
            Some(&json!({"filename": "phone.mp4", "size": source.len(), "method": "credentials"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(created.get("uploadId").is_none());
    assert_eq!(created["bucket"], vidgate_tests::BUCKET);
    let id = created["videoId"].as_str().unwrap();
    let key = created["key"].as_str().unwrap();

    let (status, early) =
        stack.call("POST", &format!("/v1/uploads/{id}/complete"), Some("alice"), None).await;
    assert_eq!(
        (status, early["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("object_not_uploaded"))
    );

    let s3 = sdk_client(&stack, &created);
    let bucket = created["bucket"].as_str().unwrap();
    let mpu =
        s3.create_multipart_upload().bucket(bucket).key(key).content_type("video/mp4").send().await.unwrap();
    let upload_id = mpu.upload_id().unwrap();
    let mut parts = Vec::new();
    for (n, chunk) in source.chunks(5 * MIB).enumerate() {
        let n = n as i32 + 1;
        let out = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(n)
            .body(ByteStream::from(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        parts.push(CompletedPart::builder().part_number(n).e_tag(out.e_tag().unwrap()).build());
    }
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();

    let (status, done) = stack.call("POST", &format!("/v1/uploads/{id}/complete"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["video"]["status"], "uploaded");
    assert_eq!(done["video"]["size"], source.len());
    assert!(stack.object(key).await == source, "stored bytes differ");
    assert_eq!(s(&stack.item(id).await, "status"), "uploaded");

    // Finished: no more credentials, for the owner or anyone else.
    let path = format!("/v1/uploads/{id}/credentials");
    let (status, body) = stack.call("POST", &path, Some("alice"), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("upload_completed")));
    let (status, _) = stack.call("POST", &path, Some("bob"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_object_created_event_of_a_real_upload_marks_it_uploaded_once_and_rejects_non_video() {
    let stack = Stack::start().await;
    let mut ids = Vec::new();
    for (filename, content) in [("clip.mp4", bytes(70_000, 12)), ("not video.mp4", noise(70_000, 13))] {
        let (status, created) = stack
            .call(
                "POST",
                "/v1/uploads",
                Some("alice"),
                Some(&json!({"filename": filename, "method": "credentials"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, fresh) = stack
            .call(
                "POST",
                &format!("/v1/uploads/{}/credentials", created["videoId"].as_str().unwrap()),
                Some("alice"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{fresh}");
        let key = fresh["key"].as_str().unwrap();
        let put = sdk_client(&stack, &fresh)
            .put_object()
            .bucket(fresh["bucket"].as_str().unwrap())
            .key(key)
            .body(ByteStream::from(content.clone()))
            .send()
            .await
            .unwrap();
        let event = s3_event(vidgate_tests::BUCKET, key, content.len(), put.e_tag().unwrap());
        let reports = vidgate::events::on_s3_event(stack.app(), event.clone()).await.unwrap();
        ids.push((created["videoId"].as_str().unwrap().to_owned(), reports));
        // The same event again (S3 delivers at least once) changes nothing.
        let again = vidgate::events::on_s3_event(stack.app(), event).await.unwrap();
        assert!(matches!(again[0], vidgate::events::ObjectReport::Ignored { .. }), "{again:?}");
    }
    let video = stack.item(&ids[0].0).await;
    assert_eq!((s(&video, "status"), s(&video, "size")), ("uploaded".into(), "70000".into()));
    let junk = stack.item(&ids[1].0).await;
    assert_eq!(s(&junk, "status"), "rejected");
    assert!(s(&junk, "rejectReason").contains("not a known video container"));
    assert!(!junk.contains_key("expiryShard"), "final records leave the expiry index");

    // A rejected video can't be played.
    let (status, body) =
        stack.call("POST", &format!("/v1/videos/{}/playback", ids[1].0), Some("alice"), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("video_not_uploaded")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_expires_a_back_dated_upload_and_aborts_its_multipart_upload_in_s3() {
    let stack = Stack::start().await;
    let mut created = Vec::new();
    for name in ["abandoned.mp4", "active.mp4"] {
        let (status, body) =
            stack.call("POST", "/v1/uploads", Some("alice"), Some(&json!({"filename": name}))).await;
        assert_eq!(status, StatusCode::CREATED);
        created.push(body);
    }
    let (old, fresh) = (&created[0], &created[1]);
    let (old_id, old_key) = (old["videoId"].as_str().unwrap(), old["key"].as_str().unwrap());
    let (_, signed) = stack
        .call(
            "POST",
            &format!("/v1/uploads/{old_id}/part-urls"),
            Some("alice"),
            Some(&json!({"partNumbers": [1], "partSizes": [MIB]})),
        )
        .await;
    stack.put_part(signed["urls"][0]["url"].as_str().unwrap(), bytes(MIB, 14)).await;
    assert_eq!(stack.open_uploads(old_key).await, 1);

    // Back-date the deadline, as if the upload had been started a week ago.
    stack
        .dynamodb
        .update_item()
        .table_name(TABLE)
        .key("id", AttributeValue::S(old_id.to_owned()))
        .update_expression("SET expiresAt = :past")
        .expression_attribute_values(":past", AttributeValue::S("2026-01-01T00:00:00.000Z".into()))
        .send()
        .await
        .unwrap();

    let (first, second) = tokio::join!(
        vidgate::events::expire_uploads(stack.app()),
        vidgate::events::expire_uploads(stack.app()),
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.expired + second.expired, 1, "{first:?} {second:?}");
    let item = stack.item(old_id).await;
    assert_eq!(s(&item, "status"), "expired");
    assert!(!item.contains_key("expiryShard"));
    assert_eq!(stack.open_uploads(old_key).await, 0, "the multipart upload is aborted in S3");
    assert_eq!(s(&stack.item(fresh["videoId"].as_str().unwrap()).await, "status"), "uploading");

    let (status, body) =
        stack.call("POST", &format!("/v1/uploads/{old_id}/complete"), Some("alice"), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("upload_expired")));
    let again = vidgate::events::expire_uploads(stack.app()).await.unwrap();
    assert_eq!(again.due, 0);
}
