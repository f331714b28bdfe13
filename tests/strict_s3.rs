//! The local S3 says no as S3 does: each refusal with S3's status and error code, against the
//! same AWS endpoint `infra/local/up` serves (`vidgate_local::aws::AwsEndpoint`, here on a free
//! port).

use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart, ObjectAttributes,
};
use base64::Engine as _;
use reqwest::StatusCode;
use sha2::Digest as _;
use vidgate_tests::{BUCKET, MIB, Stack, noise, s3_error_code as code};

fn sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
}

fn md5_of_nothing_else() -> String {
    // The Content-MD5 of "other bytes" — not of what is sent.
    "0nMC0Z/HbLHqD8+kGM0V7g==".to_owned()
}

/// An S3 client with the given long-lived keys (no session token).
fn client_with(stack: &Stack, access_key: &str, secret: &str) -> aws_sdk_s3::Client {
    let credentials = aws_sdk_s3::config::Credentials::new(access_key, secret, None, None, "test");
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(stack.s3_endpoint())
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

async fn presigned_put(stack: &Stack, key: &str, expires: Duration) -> String {
    stack
        .s3
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .presigned(PresigningConfig::expires_in(expires).unwrap())
        .await
        .unwrap()
        .uri()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_are_checked_for_header_signed_and_presigned_requests() {
    let stack = Stack::start().await;
    let url = format!("{}/{BUCKET}/plain", stack.s3_endpoint());

    // Unsigned.
    let response = stack.http.put(&url).body("x").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(code(&response.text().await.unwrap()), "AccessDenied");

    // Signed with the wrong secret, or a key nobody issued.
    let err = client_with(&stack, "test", "wrong")
        .put_object()
        .bucket(BUCKET)
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (err.raw_response().map(|r| r.status().as_u16()), err.code()),
        (Some(403), Some("SignatureDoesNotMatch"))
    );
    let err = client_with(&stack, "nobody", "test")
        .put_object()
        .bucket(BUCKET)
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (err.raw_response().map(|r| r.status().as_u16()), err.code()),
        (Some(403), Some("InvalidAccessKeyId"))
    );

    // Presigned: as signed → 200; the URL changed (another key) → 403.
    let signed = presigned_put(&stack, "videos/a.mp4", Duration::from_secs(60)).await;
    assert_eq!(stack.http.put(&signed).body("abc").send().await.unwrap().status(), StatusCode::OK);
    let tampered = signed.replace("videos/a.mp4", "videos/b.mp4");
    let response = stack.http.put(&tampered).body("abc").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(code(&response.text().await.unwrap()), "SignatureDoesNotMatch");

    // A header the URL signed, sent changed or not at all → 403.
    let typed = stack
        .s3
        .put_object()
        .bucket(BUCKET)
        .key("videos/typed.mp4")
        .content_type("video/mp4")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();
    assert!(typed.headers().any(|(name, _)| name == "content-type"), "the presigner signs content-type");
    let ok =
        stack.http.put(typed.uri()).header("content-type", "video/mp4").body("abc").send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    for changed in [Some("text/plain"), None] {
        let mut request = stack.http.put(typed.uri()).body("abc");
        if let Some(value) = changed {
            request = request.header("content-type", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "content-type {changed:?}");
        assert_eq!(code(&response.text().await.unwrap()), "SignatureDoesNotMatch");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_presigned_url_is_refused_with_s3s_words() {
    let stack = Stack::start().await;
    let url = presigned_put(&stack, "videos/late.mp4", Duration::from_secs(1)).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let response = stack.http.put(&url).body("abc").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = response.text().await.unwrap();
    assert_eq!(code(&body), "AccessDenied");
    assert!(body.contains("Request has expired"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checksums_are_verified_on_put_and_on_parts_stored_and_returned() {
    let stack = Stack::start().await;
    let body = noise(1000, 1);

    let err = stack
        .s3
        .put_object()
        .bucket(BUCKET)
        .key("c")
        .checksum_sha256(sha256(b"other"))
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap_err();
    assert_eq!((err.raw_response().map(|r| r.status().as_u16()), err.code()), (Some(400), Some("BadDigest")));
    let err = stack
        .s3
        .put_object()
        .bucket(BUCKET)
        .key("c")
        .checksum_sha256("bm90IGEgZGlnZXN0")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (err.raw_response().map(|r| r.status().as_u16()), err.code()),
        (Some(400), Some("InvalidRequest"))
    );
    let err = stack
        .s3
        .put_object()
        .bucket(BUCKET)
        .key("c")
        .content_md5(md5_of_nothing_else())
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap_err();
    assert_eq!((err.raw_response().map(|r| r.status().as_u16()), err.code()), (Some(400), Some("BadDigest")));
    assert!(stack.s3.head_object().bucket(BUCKET).key("c").send().await.is_err(), "nothing was stored");

    let put = stack
        .s3
        .put_object()
        .bucket(BUCKET)
        .key("c")
        .checksum_sha256(sha256(&body))
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(put.checksum_sha256(), Some(sha256(&body).as_str()));
    let head = stack
        .s3
        .head_object()
        .bucket(BUCKET)
        .key("c")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_sha256(), Some(sha256(&body).as_str()));
    let attributes = stack
        .s3
        .get_object_attributes()
        .bucket(BUCKET)
        .key("c")
        .object_attributes(ObjectAttributes::Checksum)
        .object_attributes(ObjectAttributes::ObjectSize)
        .send()
        .await
        .unwrap();
    assert_eq!(attributes.checksum().and_then(|c| c.checksum_sha256()), Some(sha256(&body).as_str()));
    assert_eq!(attributes.object_size(), Some(1000));

    // A presigned part URL whose query carries a checksum: the body must match it.
    let upload = stack.s3.create_multipart_upload().bucket(BUCKET).key("p").send().await.unwrap();
    let id = upload.upload_id().unwrap();
    // The checksum goes into the query before signing (where a presigner puts a checksum it
    // signs), so the URL's signature covers it.
    let query = format!(
        "x-amz-checksum-sha256={}",
        form_urlencoded::byte_serialize(sha256(&body).as_bytes()).collect::<String>()
    );
    let presigned = stack
        .s3
        .upload_part()
        .bucket(BUCKET)
        .key("p")
        .upload_id(id)
        .part_number(1)
        .customize()
        .mutate_request(move |request| {
            let uri = format!("{}&{query}", request.uri());
            request.set_uri(uri).unwrap();
        })
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();
    let with_checksum = presigned.uri().to_owned();
    assert!(with_checksum.contains("x-amz-checksum-sha256="), "{with_checksum}");
    let response = stack.http.put(&with_checksum).body(noise(1000, 2)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&response.text().await.unwrap()), "BadDigest");
    let response = stack.http.put(&with_checksum).body(body.clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-amz-checksum-sha256"], sha256(&body).as_str());
}

async fn upload_parts(
    stack: &Stack,
    key: &str,
    sizes: &[usize],
    algorithm: Option<ChecksumAlgorithm>,
    kind: Option<ChecksumType>,
) -> (String, Vec<CompletedPart>, Vec<u8>) {
    let mut create = stack.s3.create_multipart_upload().bucket(BUCKET).key(key);
    if let Some(a) = algorithm.clone() {
        create = create.checksum_algorithm(a);
    }
    if let Some(k) = kind {
        create = create.checksum_type(k);
    }
    let id = create.send().await.unwrap().upload_id().unwrap().to_owned();
    let mut parts = Vec::new();
    let mut all = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let bytes = noise(*size, i as u64 + 7);
        all.extend_from_slice(&bytes);
        let mut request = stack
            .s3
            .upload_part()
            .bucket(BUCKET)
            .key(key)
            .upload_id(&id)
            .part_number(i as i32 + 1)
            .body(ByteStream::from(bytes));
        if let Some(a) = algorithm.clone() {
            request = request.checksum_algorithm(a);
        }
        let out = request.send().await.unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(i as i32 + 1)
                .e_tag(out.e_tag().unwrap())
                .set_checksum_sha256(out.checksum_sha256().map(str::to_owned))
                .set_checksum_crc32(out.checksum_crc32().map(str::to_owned))
                .build(),
        );
    }
    (id, parts, all)
}

async fn complete(
    stack: &Stack,
    key: &str,
    id: &str,
    parts: Vec<CompletedPart>,
) -> Result<
    aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput,
    (Option<u16>, Option<String>),
> {
    stack
        .s3
        .complete_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .map_err(|e| (e.raw_response().map(|r| r.status().as_u16()), e.code().map(str::to_owned)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_rules_are_s3s() {
    let stack = Stack::start().await;
    let (id, parts, _) = upload_parts(&stack, "small", &[1000, 1000], None, None).await;
    assert_eq!(
        complete(&stack, "small", &id, parts.clone()).await.unwrap_err(),
        (Some(400), Some("EntityTooSmall".into()))
    );
    let mut wrong = parts.clone();
    wrong[1] = CompletedPart::builder().part_number(2).e_tag("\"00000000000000000000000000000000\"").build();
    assert_eq!(
        complete(&stack, "small", &id, wrong).await.unwrap_err(),
        (Some(400), Some("InvalidPart".into()))
    );
    let reversed: Vec<CompletedPart> = parts.iter().rev().cloned().collect();
    assert_eq!(
        complete(&stack, "small", &id, reversed).await.unwrap_err(),
        (Some(400), Some("InvalidPartOrder".into()))
    );
    // The last part alone is allowed to be small.
    let first = complete(&stack, "small", &id, parts[..1].to_vec()).await.unwrap();
    // Completed: S3 answers the same upload id again with 200 and the first result.
    let again = complete(&stack, "small", &id, parts).await.unwrap();
    assert_eq!(again.e_tag(), first.e_tag());
    let err = stack.s3.abort_multipart_upload().bucket(BUCKET).key("small").upload_id(&id).send().await;
    assert_eq!(err.unwrap_err().raw_response().map(|r| r.status().as_u16()), Some(404));

    // Checksums of the whole: composite SHA-256 (checksum of the part checksums, -N) and full-object CRC32.
    let (id, parts, _) =
        upload_parts(&stack, "composite", &[5 * MIB, 10], Some(ChecksumAlgorithm::Sha256), None).await;
    let sums: Vec<u8> = parts
        .iter()
        .flat_map(|p| base64::engine::general_purpose::STANDARD.decode(p.checksum_sha256().unwrap()).unwrap())
        .collect();
    let done = complete(&stack, "composite", &id, parts).await.unwrap();
    assert_eq!(done.checksum_sha256(), Some(format!("{}-2", sha256(&sums)).as_str()));
    let (id, parts, all) = upload_parts(
        &stack,
        "full",
        &[5 * MIB, 10],
        Some(ChecksumAlgorithm::Crc32),
        Some(ChecksumType::FullObject),
    )
    .await;
    let done = complete(&stack, "full", &id, parts).await.unwrap();
    let crc = crc32(&all);
    assert_eq!(
        done.checksum_crc32(),
        Some(base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes()).as_str())
    );
    assert_eq!(stack.object("full").await, all);
}

/// CRC-32 (ISO-HDLC), bit by bit: an independent check of the server's.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_racing_abort_is_decided_once_never_a_500() {
    let stack = Stack::start().await;
    for round in 0..20 {
        let key = format!("race/{round}");
        let (id, parts, all) = upload_parts(&stack, &key, &[5 * MIB, 100], None, None).await;
        let abort = stack.s3.abort_multipart_upload().bucket(BUCKET).key(&key).upload_id(&id).send();
        let (completed, aborted) = tokio::join!(complete(&stack, &key, &id, parts), abort);
        let aborted =
            aborted.map_err(|e| (e.raw_response().map(|r| r.status().as_u16()), e.code().map(str::to_owned)));
        match (completed, aborted) {
            (Ok(_), Err(e)) => {
                assert_eq!(e, (Some(404), Some("NoSuchUpload".into())));
                assert_eq!(stack.object(&key).await, all);
            }
            (Err(e), Ok(_)) => {
                assert_eq!(e, (Some(404), Some("NoSuchUpload".into())));
                assert!(stack.s3.head_object().bucket(BUCKET).key(&key).send().await.is_err());
            }
            other => panic!("round {round}: both or neither won: {other:?}"),
        }
        assert_eq!(stack.open_uploads(&key).await, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflights_are_answered_from_the_buckets_rules_and_etag_is_exposed() {
    let stack = Stack::start().await;
    let url = presigned_put(&stack, "videos/cors.mp4", Duration::from_secs(60)).await;
    let preflight = stack
        .http
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::OK);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let put =
        stack.http.put(&url).header("origin", "http://localhost:5173").body("abc").send().await.unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    assert_eq!(put.headers()["access-control-expose-headers"], "ETag");
    let refused = stack
        .http
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "DELETE")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_credentials_need_their_token_and_stay_inside_their_session_policy() {
    let stack = Stack::start().await;
    let (status, grant) = stack
        .call(
            "POST",
            "/v1/uploads",
            Some("alice"),
            Some(&serde_json::json!({"filename": "phone.mp4", "size": 10, "method": "credentials"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    let c = &grant["credentials"];
    let field = |name: &str| c[name].as_str().unwrap().to_owned();
    let key = grant["key"].as_str().unwrap();
    let issued = stack.s3_client_with(
        &field("accessKeyId"),
        &field("secretAccessKey"),
        &field("sessionToken"),
        "us-east-1",
    );
    let body = || ByteStream::from(vidgate_tests::bytes(10, 3));
    issued.put_object().bucket(BUCKET).key(key).body(body()).send().await.unwrap();

    let err = issued
        .put_object()
        .bucket(BUCKET)
        .key("videos/someone-else/x.mp4")
        .body(body())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (err.raw_response().map(|r| r.status().as_u16()), err.code()),
        (Some(403), Some("AccessDenied"))
    );
    let err = issued.get_object().bucket(BUCKET).key(key).send().await.unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"), "the policy grants no GetObject");

    let tokenless = client_with(&stack, &field("accessKeyId"), &field("secretAccessKey"));
    let err = tokenless.put_object().bucket(BUCKET).key(key).body(body()).send().await.unwrap_err();
    assert_eq!(
        (err.raw_response().map(|r| r.status().as_u16()), err.code()),
        (Some(400), Some("InvalidToken"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gaps_a_client_harness_finds_are_closed_as_s3_closes_them() {
    let stack = Stack::start().await;
    // Anonymous writes, as a PUT and as a POST form without a policy: 403, nothing stored.
    let url = format!("{}/{BUCKET}/anonymous", stack.s3_endpoint());
    let put = stack.http.put(&url).body("x").send().await.unwrap();
    assert_eq!(put.status(), StatusCode::FORBIDDEN);
    let form = reqwest::multipart::Form::new()
        .text("key", "anonymous-post")
        .part("file", reqwest::multipart::Part::bytes(b"x".to_vec()));
    let post =
        stack.http.post(format!("{}/{BUCKET}", stack.s3_endpoint())).multipart(form).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::FORBIDDEN, "{}", post.text().await.unwrap());
    let listed = stack.s3.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0));

    // A negative X-Amz-Expires is S3's 403, not a 400.
    let signed = presigned_put(&stack, "videos/neg.mp4", Duration::from_secs(60)).await;
    let negative = signed.replace("X-Amz-Expires=60", "X-Amz-Expires=-60");
    assert_ne!(negative, signed);
    let response = stack.http.put(&negative).body("abc").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(code(&response.text().await.unwrap()), "AuthorizationQueryParametersError");

    // A multipart object without a checksum gets S3's default full-object CRC-64/NVME.
    let key = "videos/plain-multipart.bin";
    let (id, parts, bytes) = upload_parts(&stack, key, &[5 * 1024 * 1024, 1000], None, None).await;
    let first = complete(&stack, key, &id, parts.clone()).await.unwrap();
    let head = stack
        .s3
        .head_object()
        .bucket(BUCKET)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    let expected =
        vidgate::domain::checksum::of(vidgate::domain::checksum::ChecksumAlgorithm::Crc64nvme, &bytes);
    assert_eq!(head.checksum_crc64_nvme(), Some(expected.as_str()));
    assert_eq!(head.checksum_type(), Some(&ChecksumType::FullObject));
    // The same CompleteMultipartUpload again: 200 and the same result, as S3 answers it.
    let again = complete(&stack, key, &id, parts).await.unwrap();
    assert_eq!((again.e_tag(), again.version_id()), (first.e_tag(), first.version_id()));
    assert_eq!(again.checksum_crc64_nvme(), Some(expected.as_str()));
    // Still only one version: the repeat wrote nothing.
    let versions = stack.s3.list_object_versions().bucket(BUCKET).prefix(key).send().await.unwrap();
    assert_eq!(versions.versions().len(), 1);
    // Another upload id of the key still can't be completed twice over a stranger's: NoSuchUpload.
    let err = complete(&stack, key, "no-such-upload", Vec::new()).await.unwrap_err();
    assert!(matches!(err.0, Some(400 | 404)), "{err:?}");

    // Clean-up the way a harness does it: every version, then the bucket.
    let all = stack.s3.list_object_versions().bucket(BUCKET).send().await.unwrap();
    let objects: Vec<aws_sdk_s3::types::ObjectIdentifier> = all
        .versions()
        .iter()
        .map(|v| (v.key().unwrap(), v.version_id().unwrap()))
        .chain(all.delete_markers().iter().map(|m| (m.key().unwrap(), m.version_id().unwrap())))
        .map(|(k, v)| aws_sdk_s3::types::ObjectIdentifier::builder().key(k).version_id(v).build().unwrap())
        .collect();
    assert!(!objects.is_empty());
    let deleted = stack
        .s3
        .delete_objects()
        .bucket(BUCKET)
        .delete(aws_sdk_s3::types::Delete::builder().set_objects(Some(objects)).build().unwrap())
        .send()
        .await
        .unwrap();
    assert!(deleted.errors().is_empty());
    assert!(stack.s3.list_object_versions().bucket(BUCKET).send().await.unwrap().versions().is_empty());
    stack.s3.delete_bucket().bucket(BUCKET).send().await.unwrap();
}
