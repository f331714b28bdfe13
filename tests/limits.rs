//! Every bound an operator relies on, each refused by whoever enforces it: S3 itself (signed
//! lengths and POST policies, on the strict local S3), the API (maximum size, quotas counted in
//! DynamoDB), the object's check on arrival (credentials mode), and the gateway (throttling).

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;
use reqwest::StatusCode;
use serde_json::{Value, json};
use vidgate::http::routes::{RateLimit, Throttle};
use vidgate_tests::{BUCKET, MIB, Stack, TABLE, Throttles, bytes, s3_error_code as code};

async fn put(stack: &Stack, url: &str, body: Vec<u8>) -> (StatusCode, String) {
    let response = stack.http.put(url).body(body).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn create(stack: &Stack, sub: &str, body: Value) -> (StatusCode, Value) {
    stack.call("POST", "/v1/uploads", Some(sub), Some(&body)).await
}

async fn sign(stack: &Stack, id: &str, body: Value) -> (StatusCode, Value) {
    stack.call("POST", &format!("/v1/uploads/{id}/part-urls"), Some("alice"), Some(&body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_refuses_a_part_one_byte_longer_or_shorter_than_its_url_signs() {
    let stack = Stack::start().await;
    let source = bytes(12 * MIB, 71);
    let (status, created) =
        create(&stack, "alice", json!({"filename": "a.mp4", "size": source.len(), "partSize": 5 * MIB}))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["videoId"].as_str().unwrap();
    let (status, signed) = sign(&stack, id, json!({"partNumbers": [1, 2, 3]})).await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let url = |i: usize| signed["urls"][i]["url"].as_str().unwrap().to_owned();
    assert!(url(2).contains("content-length"), "{}", url(2));

    // The last part is 2 MiB; a byte more or less breaks the signature before anything is stored.
    let last = source[10 * MIB..].to_vec();
    for wrong in [[last.as_slice(), b"x"].concat(), last[..last.len() - 1].to_vec()] {
        let (status, body) = put(&stack, &url(2), wrong).await;
        assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "SignatureDoesNotMatch"), "{body}");
    }
    let (status, listed) = stack.call("GET", &format!("/v1/uploads/{id}/parts"), Some("alice"), None).await;
    assert_eq!((status, listed["parts"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{listed}");
    for (i, range) in [(0, 0..5 * MIB), (1, 5 * MIB..10 * MIB), (2, 10 * MIB..12 * MIB)] {
        let (status, body) = put(&stack, &url(i), source[range].to_vec()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, done) = stack.call("POST", &format!("/v1/uploads/{id}/complete"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(stack.object(created["key"].as_str().unwrap()).await, source);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_maximum_video_size_bounds_creates_and_the_parts_of_an_unknown_size_upload() {
    let stack =
        Stack::start_configured(vidgate_tests::Outage::None, |c| c.max_video_size = 12 * MIB as u64).await;
    let (status, refused) = create(&stack, "alice", json!({"filename": "a.mp4", "size": 12 * MIB + 1})).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("video_too_large"))
    );

    let (status, created) = create(&stack, "alice", json!({"filename": "a.mp4", "partSize": 5 * MIB})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["maxParts"], 3);
    let id = created["videoId"].as_str().unwrap();
    // Parts 1 and 2 full make 10 MiB: part 3 may be 2 MiB, not a byte more.
    let (status, reply) = sign(&stack, id, json!({"partNumbers": [3], "partSizes": [2 * MIB + 1]})).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("video_too_large")));
    let (status, reply) = sign(&stack, id, json!({"partNumbers": [4], "partSizes": [1]})).await;
    assert_eq!(reply["error"]["code"], "part_number_out_of_range", "{status} {reply}");
    let (status, reply) = sign(&stack, id, json!({"partNumbers": [1]})).await;
    assert_eq!(reply["error"]["code"], "part_sizes_required", "{status} {reply}");

    // What the URLs sign is what S3 takes.
    let source = bytes(7 * MIB, 72);
    let (status, signed) =
        sign(&stack, id, json!({"partNumbers": [1, 2], "partSizes": [5 * MIB, 2 * MIB]})).await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let url = |i: usize| signed["urls"][i]["url"].as_str().unwrap().to_owned();
    let (status, body) = put(&stack, &url(1), source[5 * MIB..].iter().chain(b"!").copied().collect()).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "SignatureDoesNotMatch"));
    assert_eq!(put(&stack, &url(0), source[..5 * MIB].to_vec()).await.0, StatusCode::OK);
    assert_eq!(put(&stack, &url(1), source[5 * MIB..].to_vec()).await.0, StatusCode::OK);
    let (status, done) = stack.call("POST", &format!("/v1/uploads/{id}/complete"), Some("alice"), None).await;
    assert_eq!((status, done["video"]["size"].as_u64()), (StatusCode::OK, Some(7 * MIB as u64)), "{done}");
}

/// The quota item's counts, as DynamoDB holds them.
async fn counted(stack: &Stack, owner: &str) -> (i64, i64) {
    let item = stack
        .dynamodb
        .get_item()
        .table_name(TABLE)
        .key("id", AttributeValue::S(format!("quota#{owner}")))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_default();
    let n = |name: &str| match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse().unwrap(),
        _ => 0,
    };
    (n("openUploads"), n("bytesInFlight"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_creates_never_pass_the_quota_and_a_finished_upload_makes_room() {
    let stack = Stack::start_configured(vidgate_tests::Outage::None, |c| c.quota.uploads = 4).await;
    let creates = (0..50).map(|_| create(&stack, "alice", json!({"filename": "a.mp4", "size": 3 * MIB})));
    let answers = futures::future::join_all(creates).await;
    let created: Vec<&Value> =
        answers.iter().filter(|(s, _)| *s == StatusCode::CREATED).map(|(_, v)| v).collect();
    assert_eq!(created.len(), 4, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!(
            (*status, body["error"]["code"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("quota_exceeded"))
        );
    }
    assert_eq!(counted(&stack, "alice").await, (4, 4 * 3 * MIB as i64));
    let (_, uploading) = stack.call("GET", "/v1/videos?status=uploading", Some("alice"), None).await;
    assert_eq!(uploading["videos"].as_array().unwrap().len(), 4);

    // The 429 says when to come back; bob has his own quota.
    let refused = reqwest::Client::new()
        .post(format!("{}/v1/uploads", stack.api))
        .bearer_auth(stack.token("alice"))
        .json(&json!({"filename": "a.mp4", "size": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "30");
    assert_eq!(create(&stack, "bob", json!({"filename": "b.mp4"})).await.0, StatusCode::CREATED);

    // One finishes: there is room for exactly one more.
    let first = created[0];
    let id = first["videoId"].as_str().unwrap();
    let (status, signed) = sign(&stack, id, json!({"partNumbers": [1]})).await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    stack.put_part(signed["urls"][0]["url"].as_str().unwrap(), bytes(3 * MIB, 73)).await;
    let (status, done) = stack.call("POST", &format!("/v1/uploads/{id}/complete"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(counted(&stack, "alice").await, (3, 3 * 3 * MIB as i64));
    assert_eq!(
        create(&stack, "alice", json!({"filename": "a.mp4", "size": 10})).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        create(&stack, "alice", json!({"filename": "a.mp4", "size": 10})).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_in_flight_are_bounded_and_an_unknown_size_holds_the_maximum() {
    let stack = Stack::start_configured(vidgate_tests::Outage::None, |c| {
        c.max_video_size = 100 * MIB as u64;
        c.quota.bytes = 250 * MIB as u64;
    })
    .await;
    assert_eq!(create(&stack, "alice", json!({"filename": "a.mp4"})).await.0, StatusCode::CREATED);
    assert_eq!(
        create(&stack, "alice", json!({"filename": "a.mp4", "size": 100 * MIB})).await.0,
        StatusCode::CREATED
    );
    let (status, refused) = create(&stack, "alice", json!({"filename": "a.mp4"})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("unknown size"), "{refused}");
    assert_eq!(
        create(&stack, "alice", json!({"filename": "a.mp4", "size": 50 * MIB})).await.0,
        StatusCode::CREATED
    );
    assert_eq!(counted(&stack, "alice").await, (3, 250 * MIB as i64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_size_credentials_mode_object_is_rejected_and_deleted() {
    let mut stack =
        Stack::start_configured(vidgate_tests::Outage::None, |c| c.max_video_size = 6 * MIB as u64).await;
    stack.deliver_s3_events().await;
    let (status, created) =
        create(&stack, "alice", json!({"filename": "big.mp4", "method": "credentials"})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let c = &created["credentials"];
    let field = |name: &str| c[name].as_str().unwrap();
    let s3 = stack.s3_client_with(
        field("accessKeyId"),
        field("secretAccessKey"),
        field("sessionToken"),
        created["region"].as_str().unwrap(),
    );
    let key = created["key"].as_str().unwrap();
    s3.put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from(bytes(6 * MIB + 1, 74)))
        .send()
        .await
        .unwrap();

    let id = created["videoId"].as_str().unwrap();
    let mut video = Value::Null;
    for _ in 0..100 {
        video = stack.call("GET", &format!("/v1/videos/{id}"), Some("alice"), None).await.1;
        if video["status"] != "uploading" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(video["status"], "rejected", "{video}");
    assert!(video["rejectReason"].as_str().unwrap().contains("maximum video size"), "{video}");
    let head = stack.s3.head_object().bucket(BUCKET).key(key).send().await;
    assert!(head.is_err_and(|e| e.into_service_error().is_not_found()), "the object is still there");
    assert_eq!(counted(&stack, "alice").await, (0, 0));
}

async fn post_form(stack: &Stack, url: &str, fields: &Value, file: Vec<u8>) -> (StatusCode, String) {
    let response = vidgate_tests::post_form(&stack.http, url, fields, file, None).await;
    (response.status(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn companion_params_answer_a_post_policy_that_s3_holds_the_file_to() {
    let mut stack =
        Stack::start_configured(vidgate_tests::Outage::None, |c| c.max_video_size = MIB as u64).await;
    stack.deliver_s3_events().await;
    let (status, params) =
        stack.call("GET", "/s3/params?filename=short.mp4&type=video%2Fmp4", Some("alice"), None).await;
    assert_eq!((status, params["method"].as_str()), (StatusCode::OK, Some("POST")), "{params}");
    let url = params["url"].as_str().unwrap();

    let (status, body) = post_form(&stack, url, &params["fields"], bytes(MIB + 1, 75)).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "EntityTooLarge"), "{body}");
    let mut other_key = params["fields"].clone();
    other_key["key"] = json!("videos/elsewhere.mp4");
    // S3 answers 403 AccessDenied for a failed condition, the local S3 (s3s) 400
    // InvalidPolicyDocument: refused either way, and nothing is stored.
    let (status, body) = post_form(&stack, url, &other_key, bytes(1000, 75)).await;
    assert!(status.is_client_error() && body.contains("Policy"), "{status} {body}");
    let elsewhere = stack.s3.head_object().bucket(BUCKET).key("videos/elsewhere.mp4").send().await;
    assert!(elsewhere.is_err(), "an object was stored at the key the policy does not allow");

    let source = bytes(MIB, 76);
    let (status, body) = post_form(&stack, url, &params["fields"], source.clone()).await;
    assert!(status.is_success(), "{status} {body}");
    let key = params["key"].as_str().unwrap();
    assert_eq!(stack.object(key).await, source);
    let id = params["video"]["id"].as_str().unwrap();
    for _ in 0..100 {
        let (_, video) = stack.call("GET", &format!("/v1/videos/{id}"), Some("alice"), None).await;
        if video["status"] == "uploaded" {
            assert_eq!(video["size"].as_u64(), Some(MIB as u64));
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the POST upload was never recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_throttles_a_route_as_api_gateway_does() {
    let stack = Stack::start_throttled(Throttles::new(|class| match class {
        Throttle::Start => RateLimit { rate: 1, burst: 2 },
        other => other.default_limit(),
    }))
    .await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(create(&stack, "alice", json!({"filename": "a.mp4", "size": 10})).await);
    }
    assert_eq!(statuses.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [201, 201, 429]);
    assert_eq!(statuses[2].1, json!({"message": "Too Many Requests"}));
    // Other routes have their own buckets.
    assert_eq!(stack.call("GET", "/v1/videos", Some("alice"), None).await.0, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        create(&stack, "alice", json!({"filename": "a.mp4", "size": 10})).await.0,
        StatusCode::CREATED
    );
}
