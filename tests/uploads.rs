//! The multipart upload API end to end: HTTP to the local gateway, bytes straight to moto's S3,
//! records in moto's DynamoDB.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use vidgate_tests::{MIB, Outage, Stack, bytes, s};

const ALICE: Option<&str> = Some("alice");
const BOB: Option<&str> = Some("bob");

async fn create(stack: &Stack, body: Value) -> Value {
    let (status, reply) = stack.call("POST", "/v1/uploads", ALICE, Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    reply
}

async fn sign(stack: &Stack, id: &str, numbers: &[u32]) -> Vec<(u32, String)> {
    sign_with(stack, id, json!({"partNumbers": numbers})).await
}

/// Part URLs of an upload of unknown size: each part's length is stated, and signed.
async fn sign_unsized(stack: &Stack, id: &str, parts: &[(u32, usize)]) -> Vec<(u32, String)> {
    let (numbers, sizes): (Vec<u32>, Vec<usize>) = parts.iter().copied().unzip();
    sign_with(stack, id, json!({"partNumbers": numbers, "partSizes": sizes})).await
}

async fn sign_with(stack: &Stack, id: &str, body: Value) -> Vec<(u32, String)> {
    let (status, reply) =
        stack.call("POST", &format!("/v1/uploads/{id}/part-urls"), ALICE, Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    reply["urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["partNumber"].as_u64().unwrap() as u32, u["url"].as_str().unwrap().to_owned()))
        .collect()
}

fn id_of(created: &Value) -> String {
    created["videoId"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_23_mib_file_in_5_mib_parts_put_in_parallel_out_of_order_is_stored_byte_for_byte() {
    let stack = Stack::start().await;
    let source = bytes(23 * MIB, 23);
    let created = create(
        &stack,
        json!({"filename": "holiday.mp4", "contentType": "video/mp4", "size": source.len(), "partSize": 5 * MIB}),
    )
    .await;
    assert_eq!(created["partCount"], 5);
    let id = id_of(&created);

    let urls = sign(&stack, &id, &[1, 2, 3, 4, 5]).await;
    assert_eq!(urls.len(), 5);
    let mut order = urls.clone();
    order.reverse();
    order.swap(1, 3);
    let puts = order.iter().map(|(n, url)| {
        let start = (*n as usize - 1) * 5 * MIB;
        let chunk = source[start..(start + 5 * MIB).min(source.len())].to_vec();
        let stack = &stack;
        async move { (*n, stack.put_part(url, chunk).await) }
    });
    let mut etags = join_all(puts).await;
    etags.sort();

    let (status, listed) = stack.call("GET", &format!("/v1/uploads/{id}/parts"), ALICE, None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["uploadedBytes"], source.len());
    let listed_parts = listed["parts"].as_array().unwrap();
    assert_eq!(listed_parts.len(), 5);
    assert_eq!(listed_parts[4]["size"], 3 * MIB);
    assert_eq!(listed_parts[0]["etag"], etags[0].1);

    let parts: Vec<Value> = etags.iter().map(|(n, e)| json!({"partNumber": n, "etag": e})).collect();
    let (status, done) = stack
        .call("POST", &format!("/v1/uploads/{id}/complete"), ALICE, Some(&json!({"parts": parts})))
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["video"]["status"], "uploaded");
    assert_eq!(done["video"]["size"], source.len());
    let etag = done["video"]["etag"].as_str().unwrap();
    assert!(etag.ends_with("-5\""), "multipart ETag: {etag}");

    let key = created["key"].as_str().unwrap();
    assert!(stack.object(key).await == source, "stored bytes differ from the source");
    let head = stack.s3.head_object().bucket(vidgate_tests::BUCKET).key(key).send().await.unwrap();
    assert_eq!(head.content_type(), Some("video/mp4"));

    let item = stack.item(&id).await;
    assert_eq!(s(&item, "status"), "uploaded");
    assert_eq!(s(&item, "size"), source.len().to_string());
    assert_eq!(s(&item, "etag"), etag);
    assert_eq!(s(&item, "owner"), "alice");
    assert_eq!(s(&item, "ownerStatus"), "alice#uploaded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_size_upload_signs_parts_on_demand_and_completes_with_what_s3_lists() {
    let stack = Stack::start().await;
    let created = create(&stack, json!({"filename": "live.webm"})).await;
    assert_eq!(created["partCount"], Value::Null);
    // 32 GiB, the maximum video size, in 8 MiB parts.
    assert_eq!(created["maxParts"], 4096);
    let id = id_of(&created);
    let part_size = created["partSize"].as_u64().unwrap() as usize;

    let first = bytes(part_size, 1);
    let last = bytes(MIB + 17, 2);
    let url = &sign_unsized(&stack, &id, &[(1, first.len())]).await[0].1;
    stack.put_part(url, first.clone()).await;
    let url = &sign_unsized(&stack, &id, &[(2, last.len())]).await[0].1;
    stack.put_part(url, last.clone()).await;

    let (status, done) = stack.call("POST", &format!("/v1/uploads/{id}/complete"), ALICE, None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["video"]["size"], part_size + MIB + 17);
    let stored = stack.object(created["key"].as_str().unwrap()).await;
    assert!(stored == [first, last].concat());
    assert_eq!(s(&stack.item(&id).await, "status"), "uploaded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_forgets_the_upload_in_s3_and_marks_the_record_aborted() {
    let stack = Stack::start().await;
    let created = create(&stack, json!({"filename": "a.mov"})).await;
    let id = id_of(&created);
    let key = created["key"].as_str().unwrap();
    let url = &sign_unsized(&stack, &id, &[(1, MIB)]).await[0].1;
    stack.put_part(url, bytes(MIB, 3)).await;
    assert_eq!(stack.open_uploads(key).await, 1);

    let (status, body) = stack.call("DELETE", &format!("/v1/uploads/{id}"), ALICE, None).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(stack.open_uploads(key).await, 0);
    let item = stack.item(&id).await;
    assert_eq!(s(&item, "status"), "aborted");
    assert_eq!(s(&item, "ownerStatus"), "alice#aborted");

    let (status, _) = stack.call("DELETE", &format!("/v1/uploads/{id}"), ALICE, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "aborting twice is harmless");
    for (method, path, body) in [
        ("POST", format!("/v1/uploads/{id}/complete"), None),
        ("POST", format!("/v1/uploads/{id}/part-urls"), Some(json!({"partNumbers": [2]}))),
        ("GET", format!("/v1/uploads/{id}/parts"), None),
    ] {
        let (status, reply) = stack.call(method, &path, ALICE, body.as_ref()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{method} {path}: {reply}");
        assert_eq!(reply["error"]["code"], "upload_aborted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completing_twice_answers_the_same_and_aborting_a_completed_upload_is_409() {
    let stack = Stack::start().await;
    let created = create(&stack, json!({"filename": "a.mp4", "size": 1000})).await;
    let id = id_of(&created);
    let url = &sign(&stack, &id, &[1]).await[0].1;
    stack.put_part(url, bytes(1000, 4)).await;

    let path = format!("/v1/uploads/{id}/complete");
    let (first_status, first) = stack.call("POST", &path, ALICE, None).await;
    let (second_status, second) = stack.call("POST", &path, ALICE, None).await;
    assert_eq!((first_status, second_status), (StatusCode::OK, StatusCode::OK), "{first} {second}");
    assert_eq!(first, second);

    let (status, reply) = stack.call("DELETE", &format!("/v1/uploads/{id}"), ALICE, None).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("upload_completed")));
    assert_eq!(s(&stack.item(&id).await, "status"), "uploaded");
    assert_eq!(stack.object(created["key"].as_str().unwrap()).await.len(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_racing_abort_has_exactly_one_winner_and_records_agree_with_s3() {
    let stack = Stack::start().await;
    for round in 0..6 {
        let created = create(&stack, json!({"filename": "race.mp4"})).await;
        let id = id_of(&created);
        let key = created["key"].as_str().unwrap();
        let url = &sign_unsized(&stack, &id, &[(1, 4096)]).await[0].1;
        stack.put_part(url, bytes(4096, round)).await;

        let complete_path = format!("/v1/uploads/{id}/complete");
        let abort_path = format!("/v1/uploads/{id}");
        // The local S3 decides complete∥abort once, as S3 does (the loser gets NoSuchUpload), so
        // neither answer may be a 503: no retries here.
        let ((completed, c_body), (aborted, a_body)) = tokio::join!(
            stack.call("POST", &complete_path, ALICE, None),
            stack.call("DELETE", &abort_path, ALICE, None),
        );
        let status = s(&stack.item(&id).await, "status");
        let object_exists =
            stack.s3.head_object().bucket(vidgate_tests::BUCKET).key(key).send().await.is_ok();
        match (completed, aborted) {
            (StatusCode::OK, StatusCode::CONFLICT) => {
                assert_eq!(a_body["error"]["code"], "upload_completed");
                assert_eq!(status, "uploaded");
                assert!(object_exists);
            }
            (StatusCode::CONFLICT, StatusCode::NO_CONTENT) => {
                assert_eq!(c_body["error"]["code"], "upload_aborted");
                assert_eq!(status, "aborted");
                assert!(!object_exists);
            }
            other => panic!("round {round}: no single winner: {other:?} {c_body} {a_body}"),
        }
        assert_eq!(stack.open_uploads(key).await, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_owner_gets_404_on_every_route() {
    let stack = Stack::start().await;
    let created = create(&stack, json!({"filename": "private.mp4"})).await;
    let id = id_of(&created);
    for (method, path, body) in [
        ("POST", format!("/v1/uploads/{id}/part-urls"), Some(json!({"partNumbers": [1]}))),
        ("GET", format!("/v1/uploads/{id}/parts"), None),
        ("POST", format!("/v1/uploads/{id}/complete"), None),
        ("DELETE", format!("/v1/uploads/{id}"), None),
        ("GET", format!("/v1/videos/{id}"), None),
    ] {
        let (status, reply) = stack.call(method, &path, BOB, body.as_ref()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {reply}");
        assert_eq!(reply["error"]["code"], "video_not_found");
    }
    let (status, listing) = stack.call("GET", "/v1/videos", BOB, None).await;
    assert_eq!((status, listing["videos"].as_array().unwrap().len()), (StatusCode::OK, 0));
    assert_eq!(s(&stack.item(&id).await, "status"), "uploading", "bob changed nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_json_4xx_on_every_route() {
    let stack = Stack::start().await;
    let created = create(&stack, json!({"filename": "a.mp4", "size": 10 * MIB, "partSize": 5 * MIB})).await;
    let id = id_of(&created);
    let unknown = "01a20000-0000-7000-8000-000000000000";
    let cases: Vec<(&str, String, Option<Value>, u16, &str)> = vec![
        (
            "POST",
            "/v1/uploads".into(),
            Some(json!({"filename": "a.txt", "contentType": "text/plain"})),
            400,
            "unsupported_content_type",
        ),
        (
            "POST",
            "/v1/uploads".into(),
            Some(json!({"filename": "a.mp4", "size": 1, "partSize": 1024})),
            400,
            "invalid_part_size",
        ),
        ("POST", "/v1/uploads".into(), Some(json!({"contentType": "video/mp4"})), 400, "missing_filename"),
        ("POST", "/v1/uploads".into(), None, 400, "invalid_body"),
        (
            "POST",
            format!("/v1/uploads/{id}/part-urls"),
            Some(json!({"partNumbers": [3]})),
            400,
            "part_number_out_of_range",
        ),
        (
            "POST",
            format!("/v1/uploads/{id}/part-urls"),
            Some(json!({"partNumbers": []})),
            400,
            "invalid_part_numbers",
        ),
        ("POST", format!("/v1/uploads/{id}/part-urls"), Some(json!({"parts": [1]})), 400, "invalid_body"),
        (
            "POST",
            format!("/v1/uploads/{unknown}/part-urls"),
            Some(json!({"partNumbers": [1]})),
            404,
            "video_not_found",
        ),
        ("GET", "/v1/uploads/not-an-id/parts".into(), None, 404, "video_not_found"),
        ("POST", format!("/v1/uploads/{id}/complete"), None, 400, "no_parts"),
        (
            "POST",
            format!("/v1/uploads/{id}/complete"),
            Some(json!({"parts": [{"partNumber": 1, "etag": "\"x\""}]})),
            400,
            "missing_part",
        ),
        ("POST", format!("/v1/uploads/{id}/complete"), Some(json!({"parts": "all"})), 400, "invalid_body"),
        ("DELETE", format!("/v1/uploads/{unknown}"), None, 404, "video_not_found"),
        ("GET", "/v1/videos?limit=1000".into(), None, 400, "invalid_limit"),
        ("GET", "/v1/videos?status=finished".into(), None, 400, "invalid_status"),
        ("GET", "/v1/videos?cursor=garbage".into(), None, 400, "invalid_cursor"),
        ("GET", format!("/v1/videos/{unknown}"), None, 404, "video_not_found"),
    ];
    for (method, path, body, want_status, want_code) in cases {
        let (status, reply) = stack.call(method, &path, ALICE, body.as_ref()).await;
        assert_eq!(status.as_u16(), want_status, "{method} {path}: {reply}");
        assert_eq!(reply["error"]["code"], want_code, "{method} {path}: {reply}");
        assert!(reply["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{reply}");
    }

    // Raw bodies a JSON client would never send.
    let response = stack
        .http
        .post(format!("{}/v1/uploads", stack.api))
        .bearer_auth(stack.token("alice"))
        .body(vec![0xff, 0xfe, 0x00])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["error"]["code"], "invalid_body");

    // No token, a forged token, a route that does not exist.
    for (method, path) in [
        ("POST", "/v1/uploads".to_string()),
        ("POST", format!("/v1/uploads/{id}/part-urls")),
        ("GET", format!("/v1/uploads/{id}/parts")),
        ("POST", format!("/v1/uploads/{id}/complete")),
        ("DELETE", format!("/v1/uploads/{id}")),
        ("GET", "/v1/videos".to_string()),
        ("GET", format!("/v1/videos/{id}")),
    ] {
        let (status, reply) = stack.call(method, &path, None, None).await;
        assert_eq!(
            (status, reply["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthorized"))
        );
        let forged = vidgate_local::jwt::DevJwt::new("wrong-secret").issue("alice", 60);
        let response = stack
            .http
            .request(method.parse().unwrap(), format!("{}{path}", stack.api))
            .bearer_auth(forged)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{method} {path} with a forged token");
    }
    let (status, reply) = stack.call("GET", "/v1/nothing", ALICE, None).await;
    assert_eq!((status, reply["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("route_not_found")));
    assert_eq!(s(&stack.item(&id).await, "status"), "uploading");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_unreachable_is_a_503_with_retry_after_and_no_record() {
    let stack = Stack::start_with(Outage::S3).await;
    let response = stack
        .http
        .post(format!("{}/v1/uploads", stack.api))
        .bearer_auth(stack.token("alice"))
        .json(&json!({"filename": "a.mp4"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "2");
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["error"]["code"], "service_unavailable");
    let (_, listing) = stack.call("GET", "/v1/videos", ALICE, None).await;
    assert_eq!(listing["videos"], json!([]), "no record without an S3 upload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_unreachable_is_a_503_and_the_s3_upload_is_not_left_behind() {
    let stack = Stack::start_with(Outage::DynamoDb).await;
    let (status, reply) = stack.call("POST", "/v1/uploads", ALICE, Some(&json!({"filename": "a.mp4"}))).await;
    assert_eq!(
        (status, reply["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("service_unavailable"))
    );
    assert_eq!(stack.open_uploads("videos/").await, 0, "the multipart upload was orphaned");
    let (status, _) = stack.call("GET", "/v1/videos", ALICE, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_newest_first_and_filters_by_status_in_dynamodb() {
    let stack = Stack::start().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(id_of(&create(&stack, json!({"filename": format!("{i}.mp4")})).await));
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    stack.call("DELETE", &format!("/v1/uploads/{}", ids[1]), ALICE, None).await;

    let mut seen = Vec::new();
    let mut path = "/v1/videos?limit=2".to_string();
    loop {
        let (status, page) = stack.call("GET", &path, ALICE, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page["videos"].as_array().unwrap().len() <= 2);
        seen.extend(page["videos"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_owned()));
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/v1/videos?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    let (_, uploading) = stack.call("GET", "/v1/videos?status=uploading", ALICE, None).await;
    let uploading: Vec<&str> =
        uploading["videos"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(uploading.len(), 4);
    assert!(!uploading.contains(&ids[1].as_str()));
    let (_, aborted) = stack.call("GET", "/v1/videos?status=aborted", ALICE, None).await;
    assert_eq!(aborted["videos"][0]["id"], ids[1]);
    assert_eq!(aborted["nextCursor"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_parts_follows_s3_pagination_past_1000() {
    let stack = Stack::start().await;
    let created = create(&stack, json!({"filename": "many.mp4"})).await;
    let id = id_of(&created);
    let parts: Vec<(u32, usize)> = (1..=1003).map(|n| (n, 1)).collect();
    let mut urls = sign_unsized(&stack, &id, &parts[..1000]).await;
    urls.extend(sign_unsized(&stack, &id, &parts[1000..]).await);
    assert_eq!(urls.len(), 1003);
    // One byte per part: S3 enforces part sizes only when completing.
    for chunk in urls.chunks(32) {
        join_all(chunk.iter().map(|(n, url)| stack.put_part(url, vec![*n as u8]))).await;
    }
    let (status, listed) = stack.call("GET", &format!("/v1/uploads/{id}/parts"), ALICE, None).await;
    assert_eq!(status, StatusCode::OK);
    let parts = listed["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 1003);
    assert_eq!(parts[1002]["partNumber"], 1003);
    assert_eq!(listed["uploadedBytes"], 1003);
}
