//! Upload links on the real local stack: an app backend's token creates one, an end user's
//! can't; its token starts one upload and no second (a race has one winner); expired and used
//! links are refused; the token reaches nothing but its own upload; the link's limits hold at
//! start and at arrival (a 10 s video under a 5 s link is `rejected`); its metadata reaches the
//! lifecycle events.

use std::collections::BTreeSet;
use std::path::Path;

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::StatusCode;
use serde_json::{Value, json};
use vidgate_tests::receiver::Receiver;
use vidgate_tests::{MIB, Stack, s};

/// `method url` with an optional bearer token, JSON body and `Origin`; status and JSON body.
async fn send(
    stack: &Stack,
    method: &str,
    url: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
    origin: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = stack.http.request(method.parse().unwrap(), url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {url}: not JSON ({e}): {text:?}")),
    )
}

/// A link from the backend `backend-app`; the 201's body.
async fn link(stack: &Stack, body: Value) -> Value {
    let token = stack.backend_token("backend-app");
    let url = format!("{}/v1/upload-links", stack.api);
    let (status, created) = send(stack, "POST", &url, Some(&token), Some(&body), None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

/// Starts, signs, PUTs and completes the link's upload of `bytes`; the complete's status and body.
async fn upload_by_link(
    stack: &Stack,
    upload_url: &str,
    filename: &str,
    bytes: &[u8],
) -> (StatusCode, Value) {
    let body = json!({"filename": filename, "size": bytes.len()});
    let (status, started) =
        send(stack, "POST", &format!("{upload_url}/upload"), None, Some(&body), None).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let part_size = started["partSize"].as_u64().unwrap() as usize;
    let (status, signed) =
        send(stack, "POST", &format!("{upload_url}/part-urls"), None, Some(&json!({"from": 1})), None).await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    for (i, part) in signed["urls"].as_array().unwrap().iter().enumerate() {
        let chunk = &bytes[i * part_size..((i + 1) * part_size).min(bytes.len())];
        stack.put_part(part["url"].as_str().unwrap(), chunk.to_vec()).await;
    }
    send(stack, "POST", &format!("{upload_url}/complete"), None, None, None).await
}

/// A `seconds`-long H.264 MP4 made with ffmpeg (64×64, 10 fps): small, and its duration real.
fn video_of(seconds: u32, dir: &Path) -> Vec<u8> {
    let out = dir.join(format!("{seconds}s.mp4"));
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size=64x64:rate=10:duration={seconds}"))
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart"])
        .arg(&out)
        .status()
        .expect("ffmpeg runs (infra/local/setup installs it)");
    assert!(status.success());
    std::fs::read(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_token_creates_a_link_and_an_end_users_cannot() {
    let stack = Stack::start().await;
    let url = format!("{}/v1/upload-links", stack.api);
    let body = json!({"owner": "customer-42", "maxSizeBytes": 50 * MIB, "expiresInSeconds": 3600});
    // An end user's valid token has no upload-link scope: API Gateway's 403; none at all: 401.
    let (status, refused) = send(&stack, "POST", &url, Some(&stack.token("alice")), Some(&body), None).await;
    assert_eq!((status, refused), (StatusCode::FORBIDDEN, json!({"message": "Forbidden"})));
    let (status, _) = send(&stack, "POST", &url, None, Some(&body), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let created = link(&stack, body).await;
    let token = created["token"].as_str().unwrap();
    let link_id = created["linkId"].as_str().unwrap();
    assert_eq!(created["uploadUrl"], format!("{}/v1/links/{token}", stack.api));
    assert!(token.starts_with(&format!("{link_id}.")), "{token}");
    assert_eq!(created["link"]["owner"], "customer-42");
    assert_eq!(created["link"]["status"], "open");
    // The item keeps the secret's hash, not the token, and no `owner` (no index lists it).
    let item = stack.item(&format!("link#{link_id}")).await;
    assert_eq!(s(&item, "linkOwner"), "customer-42");
    assert_eq!(s(&item, "createdBy"), "backend-app");
    assert!(!item.contains_key("owner"));
    let secret = token.split_once('.').unwrap().1;
    assert!(!format!("{item:?}").contains(secret), "the secret is stored");
    assert!(matches!(item.get("purgeAt"), Some(AttributeValue::N(_))));
    // Bad requests are named.
    for (body, code) in [
        (json!({}), "invalid_owner"),
        (json!({"owner": "o", "maxDurationSeconds": 0}), "invalid_max_duration"),
        (json!({"owner": "o", "contentTypes": ["text/html"]}), "invalid_content_types"),
        (json!({"owner": "o", "corsOrigin": "https://a.example/path"}), "invalid_cors_origin"),
        (json!({"owner": "o", "extra": 1}), "invalid_body"),
    ] {
        let (status, err) =
            send(&stack, "POST", &url, Some(&stack.backend_token("b")), Some(&body), None).await;
        assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some(code)), "{body}");
    }
    // The link itself opens with its token only.
    let (status, seen) = send(&stack, "GET", created["uploadUrl"].as_str().unwrap(), None, None, None).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!((seen["link"]["linkId"].as_str(), &seen["video"]), (Some(link_id), &Value::Null));
    let forged = format!("{}/v1/links/{link_id}.{}", stack.api, "A".repeat(43));
    let (status, err) = send(&stack, "GET", &forged, None, None, None).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("link_not_found")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_starts_one_upload_a_race_has_one_winner_and_it_reaches_nothing_else() {
    let stack = Stack::start().await;
    let created = link(&stack, json!({"owner": "customer-7", "metadata": {"ticket": "T-9"}})).await;
    let upload_url = created["uploadUrl"].as_str().unwrap().to_owned();
    let dir = std::env::temp_dir().join(format!("vidgate-race-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let clip = video_of(2, &dir);
    std::fs::remove_dir_all(&dir).unwrap();
    // Eight starts at once: one 201, seven 409 link_used.
    let body = json!({"filename": "race.mp4", "size": clip.len()});
    let start = format!("{upload_url}/upload");
    let starts = (0..8).map(|_| send(&stack, "POST", &start, None, Some(&body), None));
    let answers = futures::future::join_all(starts).await;
    let won: Vec<&Value> =
        answers.iter().filter(|(s, _)| *s == StatusCode::CREATED).map(|(_, b)| b).collect();
    assert_eq!(won.len(), 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!((*status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("link_used")));
    }
    let video_id = won[0]["videoId"].as_str().unwrap().to_owned();
    let key = won[0]["key"].as_str().unwrap().to_owned();
    // One record, one quota slot, one open multipart upload: the losers left nothing.
    let (_, ids) = stack.stored().await;
    let videos: Vec<&String> = ids.iter().filter(|id| !id.contains('#')).collect();
    assert_eq!(videos, [&video_id]);
    let owner_prefix = key.rsplit_once('/').unwrap().0;
    assert_eq!(stack.open_uploads(owner_prefix).await, 1);
    let quota = stack.item("quota#customer-7").await;
    assert_eq!(quota.get("openUploads"), Some(&AttributeValue::N("1".into())));
    let item = stack.item(&format!("link#{}", created["linkId"].as_str().unwrap())).await;
    assert_eq!((s(&item, "status"), s(&item, "videoId")), ("used".into(), video_id.clone()));

    // Someone else's upload, and the API's own routes: the token opens none of them.
    let other =
        stack.call("POST", "/v1/uploads", Some("customer-7"), Some(&json!({"filename": "own.mp4"}))).await.1;
    let other_id = other["videoId"].as_str().unwrap();
    let token = created["token"].as_str().unwrap();
    for (method, path) in [
        ("GET", format!("/v1/videos/{other_id}")),
        ("POST", format!("/v1/uploads/{other_id}/part-urls")),
        ("GET", "/v1/videos".to_owned()),
        ("DELETE", format!("/v1/videos/{video_id}")),
    ] {
        let body = (method == "POST").then(|| json!({"partNumbers": [1]}));
        let url = format!("{}{path}", stack.api);
        let (status, _) = send(&stack, method, &url, Some(token), body.as_ref(), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} with the link's token");
    }
    // The link's routes name its upload only: signing answers that upload's plan.
    let (status, signed) =
        send(&stack, "POST", &format!("{upload_url}/part-urls"), None, Some(&json!({"from": 1})), None).await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    assert!(signed["urls"].as_array().unwrap().iter().all(|p| p["url"].as_str().unwrap().contains(&key)));
    stack.put_part(signed["urls"][0]["url"].as_str().unwrap(), clip).await;
    let (status, done) = send(&stack, "POST", &format!("{upload_url}/complete"), None, None, None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["video"]["status"], "uploaded");
    assert_eq!(done["video"]["metadata"]["ticket"], "T-9");
    assert_eq!(done["video"]["linkId"], created["linkId"]);
    let (status, seen) = send(&stack, "GET", &upload_url, None, None, None).await;
    assert_eq!((status, seen["link"]["status"].as_str()), (StatusCode::OK, Some("used")));
    assert_eq!(seen["video"]["id"], video_id.as_str());
    // The owner sees it as theirs.
    let (status, theirs) =
        stack.call("GET", &format!("/v1/videos/{video_id}"), Some("customer-7"), None).await;
    assert_eq!((status, theirs["status"].as_str()), (StatusCode::OK, Some("uploaded")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_used_links_are_refused_and_a_page_on_another_origin_too() {
    let stack = Stack::start().await;
    let created = link(&stack, json!({"owner": "o", "corsOrigin": "https://forms.example.com"})).await;
    let upload_url = created["uploadUrl"].as_str().unwrap();
    let body = json!({"filename": "a.mp4", "size": MIB});
    let start = format!("{upload_url}/upload");
    let (status, err) = send(&stack, "POST", &start, None, Some(&body), Some("https://evil.example")).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("origin_not_allowed")));
    // Before its start, the link has no upload to sign or complete.
    let (status, err) =
        send(&stack, "POST", &format!("{upload_url}/part-urls"), None, Some(&json!({"from": 1})), None).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("link_not_started")));
    let (status, _) =
        send(&stack, "POST", &start, None, Some(&body), Some("https://forms.example.com")).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, err) = send(&stack, "POST", &start, None, Some(&body), None).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("link_used")));

    // A link past its expiry (its item back-dated, as an hour passing would).
    let expiring = link(&stack, json!({"owner": "o"})).await;
    let id = format!("link#{}", expiring["linkId"].as_str().unwrap());
    stack
        .dynamodb
        .update_item()
        .table_name(vidgate_tests::TABLE)
        .key("id", AttributeValue::S(id.clone()))
        .update_expression("SET linkExpiresAt = :past")
        .expression_attribute_values(":past", AttributeValue::S("2026-01-01T00:00:00.000000Z".into()))
        .send()
        .await
        .unwrap();
    let start = format!("{}/upload", expiring["uploadUrl"].as_str().unwrap());
    let (status, err) = send(&stack, "POST", &start, None, Some(&body), None).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::GONE, Some("link_expired")));
    assert_eq!(s(&stack.item(&id).await, "status"), "open", "a refused start spends nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_s_limits_hold_at_start_and_at_arrival_and_its_metadata_reaches_the_events() {
    let mut stack =
        Stack::start_configured(vidgate_tests::Outage::None, |c| c.max_video_duration = Some(8)).await;
    let receiver = Receiver::start(Vec::new(), None).await;
    stack.publish_lifecycle_events(Some(receiver.webhook(5))).await.unwrap();
    let dir = std::env::temp_dir().join(format!("vidgate-links-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (four, ten) = (video_of(4, &dir), video_of(10, &dir));
    std::fs::remove_dir_all(&dir).unwrap();

    let limits = json!({"owner": "creator-1", "maxDurationSeconds": 5, "maxSizeBytes": 5 * MIB,
        "contentTypes": ["video/mp4"], "metadata": {"contest": "spring"}});
    // At start: the type and the size.
    let first = link(&stack, limits.clone()).await;
    let start = format!("{}/upload", first["uploadUrl"].as_str().unwrap());
    for (body, code) in [
        (json!({"filename": "a.webm", "size": MIB}), "content_type_not_allowed"),
        (json!({"filename": "a.mp4", "size": 6 * MIB}), "too_large_for_link"),
        (json!({"filename": "a.mp4"}), "size_required"),
    ] {
        let (status, err) = send(&stack, "POST", &start, None, Some(&body), None).await;
        assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some(code)), "{body}");
    }
    // At arrival: 10 s under a 5 s link is rejected, naming the limit.
    let (status, err) = upload_by_link(&stack, first["uploadUrl"].as_str().unwrap(), "long.mp4", &ten).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (_, seen) = send(&stack, "GET", first["uploadUrl"].as_str().unwrap(), None, None, None).await;
    assert_eq!(seen["video"]["status"], "rejected");
    let reason = seen["video"]["rejectReason"].as_str().unwrap();
    assert!(reason.contains("10.0 s") && reason.contains("maxDurationSeconds"), "{reason}");
    // 4 s fits.
    let second = link(&stack, limits).await;
    let (status, done) =
        upload_by_link(&stack, second["uploadUrl"].as_str().unwrap(), "short.mp4", &four).await;
    assert_eq!((status, done["video"]["status"].as_str()), (StatusCode::OK, Some("uploaded")), "{done}");
    // The deployment's bound (8 s here) holds for the API's own uploads too.
    let body = json!({"filename": "own.mp4", "size": ten.len()});
    let (_, own) = stack.call("POST", "/v1/uploads", Some("creator-1"), Some(&body)).await;
    let id = own["videoId"].as_str().unwrap();
    let signed = stack
        .call("POST", &format!("/v1/uploads/{id}/part-urls"), Some("creator-1"), Some(&json!({"from": 1})))
        .await
        .1;
    stack.put_part(signed["urls"][0]["url"].as_str().unwrap(), ten.clone()).await;
    let (status, err) =
        stack.call("POST", &format!("/v1/uploads/{id}/complete"), Some("creator-1"), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (_, own) = stack.call("GET", &format!("/v1/videos/{id}"), Some("creator-1"), None).await;
    assert_eq!(own["status"], "rejected", "{own}");
    assert!(own["rejectReason"].as_str().unwrap().contains("MaxVideoDurationSeconds"), "{own}");

    // Every lifecycle event of a link's upload carries its metadata and link id.
    let mine = [(&first, "Video Rejected"), (&second, "Video Uploaded")];
    let mut wanted = BTreeSet::new();
    for (created, last) in mine {
        let (_, seen) = send(&stack, "GET", created["uploadUrl"].as_str().unwrap(), None, None, None).await;
        let id = seen["video"]["id"].as_str().unwrap().to_owned();
        wanted.insert((id.clone(), "Video Upload Started".to_owned()));
        wanted.insert((id, last.to_owned()));
    }
    let events = receiver.wait_for(&wanted).await;
    for (created, _) in mine {
        let of_link: Vec<&Value> =
            events.iter().filter(|e| e["detail"]["linkId"] == created["linkId"]).collect();
        assert_eq!(of_link.len(), 2, "{events:?}");
        for event in of_link {
            assert_eq!(event["detail"]["metadata"]["contest"], "spring", "{event}");
            assert_eq!(event["detail"]["owner"], "creator-1");
        }
    }
}
