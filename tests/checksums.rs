//! Checksums end to end on the strict local S3: each part URL signs the part's checksum, so S3
//! refuses a part whose bytes differ; the completion names the whole object's, so S3 refuses to
//! assemble a different object; the record keeps S3's checksum, the API and the stream route
//! show it, and it equals one computed here bit by bit.

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use vidgate_tests::{MIB, Outage, Stack, bytes, s3_error_code};

/// CRC-64/NVME (reflected, polynomial 0x9A6C9329AC4BC9B5), bit by bit: an independent check of
/// the checksums the server and the local S3 compute.
fn crc64nvme(bytes: &[u8]) -> String {
    let mut crc = !0u64;
    for &b in bytes {
        crc ^= u64::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x9A6C_9329_AC4B_C9B5 } else { crc >> 1 };
        }
    }
    base64::engine::general_purpose::STANDARD.encode((!crc).to_be_bytes())
}

async fn put(stack: &Stack, url: &str, headers: &Value, body: Vec<u8>) -> (StatusCode, String) {
    let mut request = stack.http.put(url).body(body);
    for (name, value) in headers.as_object().unwrap() {
        request = request.header(name, value.as_str().unwrap());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_checksum_is_enforced_by_s3_part_by_part_and_for_the_whole_object_and_recorded() {
    let stack = Stack::start().await;
    assert_eq!(crc64nvme(b"123456789"), "rosUhgp5mIg=", "the check value of CRC-64/NVME");
    let source = bytes(5 * MIB + 300_000, 41);
    let chunks: Vec<&[u8]> = source.chunks(5 * MIB).collect();
    let body = json!({"filename": "summit.mp4", "size": source.len(), "partSize": 5 * MIB, "checksumAlgorithm": "crc64nvme"});
    let (status, created) = stack.call("POST", "/v1/uploads", Some("alice"), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["videoId"].as_str().unwrap().to_owned();
    let sums: Vec<String> = chunks.iter().map(|c| crc64nvme(c)).collect();
    let path = format!("/v1/uploads/{id}/part-urls");

    // No checksums for an upload that declared one: refused.
    let (status, refused) =
        stack.call("POST", &path, Some("alice"), Some(&json!({"partNumbers": [1, 2]}))).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("part_checksums_required"))
    );
    let (status, signed) = stack
        .call("POST", &path, Some("alice"), Some(&json!({"partNumbers": [1, 2], "partChecksums": sums})))
        .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let urls = signed["urls"].as_array().unwrap();
    assert_eq!(urls[0]["headers"], json!({"x-amz-checksum-crc64nvme": sums[0]}));

    // One flipped byte, sent with the checksum of the right bytes: S3 refuses it, stores nothing.
    let mut flipped = chunks[0].to_vec();
    flipped[4242] ^= 0x01;
    let (status, error) = put(&stack, urls[0]["url"].as_str().unwrap(), &urls[0]["headers"], flipped).await;
    assert_eq!((status, s3_error_code(&error)), (StatusCode::BAD_REQUEST, "BadDigest"), "{error}");
    // Without the checksum header the signature fails: a client can't skip the check.
    let (status, error) = put(&stack, urls[0]["url"].as_str().unwrap(), &json!({}), chunks[0].to_vec()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    let (_, parts) = stack.call("GET", &format!("/v1/uploads/{id}/parts"), Some("alice"), None).await;
    assert_eq!(parts["parts"].as_array().map(Vec::len), Some(0), "{parts}");

    for (url, chunk) in urls.iter().zip(&chunks) {
        let (status, error) =
            put(&stack, url["url"].as_str().unwrap(), &url["headers"], chunk.to_vec()).await;
        assert_eq!(status, StatusCode::OK, "{error}");
    }

    // A whole-object checksum the parts don't add up to: S3 assembles nothing, the upload stays
    // open, and the retry with the right one succeeds.
    let complete = format!("/v1/uploads/{id}/complete");
    let wrong = crc64nvme(b"a different file");
    let (status, refused) =
        stack.call("POST", &complete, Some("alice"), Some(&json!({"checksum": wrong}))).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("checksum_mismatch")),
        "{refused}"
    );
    let (_, video) = stack.call("GET", &format!("/v1/videos/{id}"), Some("alice"), None).await;
    assert_eq!((video["status"].as_str(), &video["checksum"]), (Some("uploading"), &Value::Null));
    let whole = crc64nvme(&source);
    let (status, done) =
        stack.call("POST", &complete, Some("alice"), Some(&json!({"checksum": whole}))).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let recorded = json!({"algorithm": "crc64nvme", "type": "FULL_OBJECT", "value": whole});
    assert_eq!(done["video"]["checksum"], recorded);
    let (_, video) = stack.call("GET", &format!("/v1/videos/{id}"), Some("alice"), None).await;
    assert_eq!((&video["checksum"], video["checksumAlgorithm"].as_str()), (&recorded, Some("crc64nvme")));
    let item = stack.item(&id).await;
    assert_eq!(item["checksum"].as_m().unwrap()["value"].as_s().unwrap(), &whole);
    // What S3 itself holds agrees.
    let head = stack
        .s3
        .head_object()
        .bucket(vidgate_tests::BUCKET)
        .key(video["key"].as_str().unwrap())
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_crc64_nvme(), Some(whole.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_route_sends_the_checksum_with_a_whole_video_and_sdk_uploads_are_recorded_with_theirs() {
    let stack = Stack::start_configured(Outage::None, |c| c.cdn = None).await;
    let source = bytes(MIB, 42);
    let sum = crc64nvme(&source);
    let body = json!({"filename": "short.mp4", "size": source.len(), "checksumAlgorithm": "crc64nvme"});
    let (_, created) = stack.call("POST", "/v1/uploads", Some("alice"), Some(&body)).await;
    let id = created["videoId"].as_str().unwrap().to_owned();
    let (_, signed) = stack
        .call(
            "POST",
            &format!("/v1/uploads/{id}/part-urls"),
            Some("alice"),
            Some(&json!({"partNumbers": [1], "partChecksums": [sum]})),
        )
        .await;
    let url = &signed["urls"][0];
    assert_eq!(
        put(&stack, url["url"].as_str().unwrap(), &url["headers"], source.clone()).await.0,
        StatusCode::OK
    );
    let (status, done) = stack
        .call("POST", &format!("/v1/uploads/{id}/complete"), Some("alice"), Some(&json!({"checksum": sum})))
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let (_, playback) = stack.call("POST", &format!("/v1/videos/{id}/playback"), Some("alice"), None).await;
    let stream = playback["url"].as_str().unwrap();
    let whole = stack.http.get(stream).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["x-amz-checksum-crc64nvme"], sum.as_str());
    assert_eq!(whole.headers()["x-amz-checksum-type"], "FULL_OBJECT");
    let received = whole.bytes().await.unwrap();
    assert_eq!(crc64nvme(&received), sum, "what the stream route sent has the recorded checksum");
    // A range is not the representation: no checksum header.
    let part = stack.http.get(stream).header("range", "bytes=0-99").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert!(part.headers().get("x-amz-checksum-crc64nvme").is_none());

    // Credentials mode: the SDK sends its own checksum; vidgate records what S3 stored.
    let body = json!({"filename": "sdk.mp4", "size": source.len(), "method": "credentials"});
    let (status, granted) = stack.call("POST", "/v1/uploads", Some("alice"), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{granted}");
    let c = &granted["credentials"];
    let field = |name: &str| c[name].as_str().unwrap();
    let s3 = stack.s3_client_with(
        field("accessKeyId"),
        field("secretAccessKey"),
        field("sessionToken"),
        granted["region"].as_str().unwrap(),
    );
    s3.put_object()
        .bucket(granted["bucket"].as_str().unwrap())
        .key(granted["key"].as_str().unwrap())
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc64Nvme)
        .body(source.clone().into())
        .send()
        .await
        .unwrap();
    let sdk_id = granted["videoId"].as_str().unwrap();
    let (status, done) =
        stack.call("POST", &format!("/v1/uploads/{sdk_id}/complete"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        done["video"]["checksum"],
        json!({"algorithm": "crc64nvme", "type": "FULL_OBJECT", "value": sum})
    );
}
