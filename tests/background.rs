//! Uploads that survive their client going away, on the local stack: a client that behaves like
//! a phone's background session (the whole plan signed up front, parts sent out of order from
//! part files, pauses longer than some URLs live, only the expired ones signed again, and no
//! `complete`), the auto-complete pass finishing what it left, and the races around it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use vidgate::domain::VideoId;
use vidgate::domain::checksum::{self, ChecksumAlgorithm};
use vidgate_tests::receiver::{Receiver, key_of};
use vidgate_tests::{BUCKET, MIB, Stack, bytes, s};

/// The file a phone uploads: 12 MiB of video in 5 MiB parts (5, 5, 2).
const SIZE: usize = 12 * MIB;
const PART: usize = 5 * MIB;

/// One part as the background client holds it: its slice of the file and what signing said.
#[derive(Clone, Debug)]
struct Planned {
    offset: usize,
    length: usize,
    url: Option<String>,
    headers: BTreeMap<String, String>,
}

/// A client that behaves like an iOS background `URLSession` (or Android's WorkManager): it
/// queues the whole plan at once, and runs again only when the system wakes it.
struct BackgroundClient<'a> {
    stack: &'a Stack,
    sub: &'static str,
    id: String,
    file: Vec<u8>,
    checksums: Option<ChecksumAlgorithm>,
    plan: BTreeMap<u32, Planned>,
    expires_at: Instant,
    /// Part `PUT`s sent, refused ones included.
    puts: usize,
}

impl<'a> BackgroundClient<'a> {
    async fn create(stack: &'a Stack, sub: &'static str, seed: u64, extra: Value) -> Self {
        let mut body = json!({"filename": "phone.mov", "size": SIZE, "partSize": PART});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let (status, created) = stack.call("POST", "/v1/uploads", Some(sub), Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let checksums = extra["checksumAlgorithm"].as_str().and_then(ChecksumAlgorithm::parse);
        Self {
            stack,
            sub,
            id: created["videoId"].as_str().unwrap().to_owned(),
            file: bytes(SIZE, seed),
            checksums,
            plan: BTreeMap::new(),
            expires_at: Instant::now(),
            puts: 0,
        }
    }

    /// Signs `from` pages of the plan (`numbers`: only these) and keeps what each part is.
    async fn sign(&mut self, numbers: Option<Vec<u32>>) -> Value {
        let mut from = Some(1);
        let mut last = Value::Null;
        while let Some(start) = from {
            let mut body = match &numbers {
                Some(numbers) => json!({"partNumbers": numbers}),
                None => json!({"from": start}),
            };
            if let Some(algorithm) = self.checksums {
                let wanted: Vec<u32> = numbers.clone().unwrap_or_else(|| (start..=3).collect());
                let sums: Vec<String> =
                    wanted.iter().map(|n| checksum::of(algorithm, self.slice(*n))).collect();
                body["partChecksums"] = json!(sums);
            }
            let path = format!("/v1/uploads/{}/part-urls", self.id);
            let (status, signed) = self.stack.call("POST", &path, Some(self.sub), Some(&body)).await;
            assert_eq!(status, StatusCode::OK, "{signed}");
            let until = chrono::DateTime::parse_from_rfc3339(signed["expiresAt"].as_str().unwrap()).unwrap();
            let left = (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().unwrap_or_default();
            self.expires_at = Instant::now() + left;
            for part in signed["urls"].as_array().unwrap() {
                let planned = Planned {
                    offset: part["offset"].as_u64().unwrap() as usize,
                    length: part["length"].as_u64().unwrap() as usize,
                    url: part["url"].as_str().map(str::to_owned),
                    headers: serde_json::from_value(part["headers"].clone()).unwrap(),
                };
                self.plan.insert(part["partNumber"].as_u64().unwrap() as u32, planned);
            }
            from = if numbers.is_some() { None } else { signed["next"].as_u64().map(|n| n as u32) };
            last = signed;
        }
        last
    }

    fn slice(&self, n: u32) -> &[u8] {
        let start = (n as usize - 1) * PART;
        &self.file[start..(start + PART).min(SIZE)]
    }

    /// One background task: `PUT`s the part file cut by the plan's range; the status S3 gave.
    async fn upload(&mut self, n: u32) -> StatusCode {
        let planned = self.plan[&n].clone();
        let url = planned.url.expect("a part to send has a URL");
        let mut request = self
            .stack
            .http
            .put(url)
            .body(self.file[planned.offset..planned.offset + planned.length].to_vec());
        for (name, value) in &planned.headers {
            request = request.header(name, value);
        }
        self.puts += 1;
        request.send().await.unwrap().status()
    }

    async fn video(&self) -> Value {
        let (status, video) =
            self.stack.call("GET", &format!("/v1/videos/{}", self.id), Some(self.sub), None).await;
        assert_eq!(status, StatusCode::OK, "{video}");
        video
    }

    /// Waits until the video leaves `uploading`; its record then.
    async fn until_final(&self, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let video = self.video().await;
            if video["status"] != "uploading" {
                return video;
            }
            assert!(Instant::now() < deadline, "still uploading after {within:?}: {video}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// How long the local pass needs at most to see an upload quiet and complete it: two periods.
fn pass_bound(stack: &Stack) -> Duration {
    stack.app().config.autocomplete_idle * 2 + Duration::from_secs(5)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_client_that_never_completes_gets_its_video_and_bad_or_opted_out_uploads_are_left() {
    let mut stack = Stack::start().await;
    stack.complete_quiet_uploads();

    // The whole plan up front, the parts out of order with pauses, and no complete.
    let mut phone =
        BackgroundClient::create(&stack, "alice", 1, json!({"checksumAlgorithm": "crc64nvme"})).await;
    let signed = phone.sign(None).await;
    assert_eq!(signed["next"], Value::Null);
    let ranges: Vec<(usize, usize)> = phone.plan.values().map(|p| (p.offset, p.length)).collect();
    assert_eq!(ranges, [(0, PART), (PART, PART), (2 * PART, 2 * MIB)]);
    for n in [3, 1, 2] {
        assert_eq!(phone.upload(n).await, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // A part missing; a part of another length (written around vidgate, as a buggy client
    // could with its own SDK); all parts but opted out.
    let mut missing = BackgroundClient::create(&stack, "alice", 2, json!({})).await;
    missing.sign(None).await;
    for n in [1, 3] {
        assert_eq!(missing.upload(n).await, StatusCode::OK);
    }
    let mut wrong = BackgroundClient::create(&stack, "alice", 3, json!({})).await;
    wrong.sign(None).await;
    for n in [1, 3] {
        assert_eq!(wrong.upload(n).await, StatusCode::OK);
    }
    let item = stack.item(&wrong.id).await;
    stack
        .s3
        .upload_part()
        .bucket(BUCKET)
        .key(s(&item, "key"))
        .upload_id(s(&item, "uploadId"))
        .part_number(2)
        .body(wrong.file[PART..PART + 4 * MIB].to_vec().into())
        .send()
        .await
        .unwrap();
    let mut opted_out = BackgroundClient::create(&stack, "alice", 4, json!({"autoComplete": false})).await;
    assert_eq!(opted_out.video().await["autoComplete"], false);
    opted_out.sign(None).await;
    for n in [2, 3, 1] {
        assert_eq!(opted_out.upload(n).await, StatusCode::OK);
    }

    let video = phone.until_final(pass_bound(&stack)).await;
    assert_eq!(
        (video["status"].as_str(), video["completedBy"].as_str()),
        (Some("uploaded"), Some("server")),
        "{video}"
    );
    // S3 checked the whole object's CRC, combined from the parts', as it assembled them.
    let whole = checksum::of(ChecksumAlgorithm::Crc64nvme, &phone.file);
    assert_eq!(
        (video["checksum"]["type"].as_str(), video["checksum"]["value"].as_str()),
        (Some("FULL_OBJECT"), Some(whole.as_str()))
    );
    assert_eq!(video["size"], SIZE);
    let item = stack.item(&phone.id).await;
    assert_eq!((s(&item, "status"), s(&item, "completedBy")), ("uploaded".into(), "server".into()));
    assert_eq!(stack.object(&s(&item, "key")).await, phone.file);
    assert_eq!(phone.puts, 3);

    // Two more passes: none of the others moves.
    tokio::time::sleep(stack.app().config.autocomplete_idle * 2).await;
    for (client, what) in
        [(&missing, "a part missing"), (&wrong, "a part of another length"), (&opted_out, "opted out")]
    {
        let video = client.video().await;
        assert_eq!(
            (video["status"].as_str(), &video["completedBy"]),
            (Some("uploading"), &Value::Null),
            "{what}: {video}"
        );
        assert_eq!(stack.open_uploads(video["key"].as_str().unwrap()).await, 1, "{what}: its parts are kept");
    }
    // The opted-out client completes when it decides to.
    let (status, done) =
        stack.call("POST", &format!("/v1/uploads/{}/complete", opted_out.id), Some("alice"), None).await;
    assert_eq!((status, done["video"]["completedBy"].as_str()), (StatusCode::OK, Some("client")), "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_expire_with_their_signing_credentials_and_only_the_expired_ones_are_signed_again() {
    let lifetime = Duration::from_secs(4);
    let mut stack = Stack::start_signing_for(lifetime, |_| {}).await;
    stack.complete_quiet_uploads();
    let signed_at = chrono::Utc::now();
    let mut phone = BackgroundClient::create(&stack, "alice", 5, json!({})).await;
    let signed = phone.sign(None).await;
    // The part-URL TTL is an hour; the credentials that signed them live 4 s.
    assert_eq!(stack.app().config.part_url_ttl, Duration::from_secs(3600));
    let expires_at = chrono::DateTime::parse_from_rfc3339(signed["expiresAt"].as_str().unwrap()).unwrap();
    assert!(
        expires_at
            <= signed_at + chrono::Duration::from_std(lifetime).unwrap() + chrono::Duration::seconds(1),
        "{signed}"
    );
    assert_eq!(phone.upload(3).await, StatusCode::OK);

    // The app is suspended longer than the URLs live: S3 refuses what they sign.
    tokio::time::sleep(phone.expires_at.saturating_duration_since(Instant::now()) + Duration::from_secs(1))
        .await;
    assert_eq!(phone.upload(1).await, StatusCode::FORBIDDEN, "an expired URL is refused by the local S3");

    // Woken: it signs again only the parts it still has to send, whose URLs expired.
    let again = phone.sign(Some(vec![1, 2])).await;
    let urls = again["urls"].as_array().unwrap();
    assert!(urls.iter().all(|u| u["arrived"] == false && u["url"].is_string()), "{again}");
    // A part that arrived, asked for again (an app that lost track), is answered arrived, no URL.
    let path = format!("/v1/uploads/{}/part-urls", phone.id);
    let (status, held) = stack.call("POST", &path, Some("alice"), Some(&json!({"partNumbers": [3]}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&held["urls"][0]["arrived"], &held["urls"][0]["url"]),
        (&json!(true), &Value::Null),
        "{held}"
    );
    assert!(held["urls"][0]["etag"].as_str().is_some_and(|e| !e.is_empty()));
    for n in [2, 1] {
        assert_eq!(phone.upload(n).await, StatusCode::OK);
    }
    // Part PUTs: 3 once, 1 refused then sent, 2 once — nothing S3 held was sent again.
    assert_eq!(phone.puts, 4);
    let video = phone.until_final(pass_bound(&stack)).await;
    assert_eq!(
        (video["status"].as_str(), video["completedBy"].as_str()),
        (Some("uploaded"), Some("server")),
        "{video}"
    );
    assert_eq!(stack.object(video["key"].as_str().unwrap()).await, phone.file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_complete_racing_a_client_complete_and_an_abort_ends_one_way_with_one_event() {
    let mut stack = Stack::start().await;
    let receiver = Receiver::start(Vec::new(), None).await;
    stack.publish_lifecycle_events(Some(receiver.webhook(5))).await;
    let mut phones = Vec::new();
    for seed in 10..16 {
        let mut phone = BackgroundClient::create(&stack, "alice", seed, json!({})).await;
        phone.sign(None).await;
        for n in 1..=3 {
            assert_eq!(phone.upload(n).await, StatusCode::OK);
        }
        phones.push(phone);
    }
    // Quiet for the bound: the pass takes each, as the client completes and aborts it.
    tokio::time::sleep(stack.app().config.autocomplete_idle + Duration::from_millis(500)).await;
    let api = &stack;
    let races = phones.iter().map(|phone| async move {
        let id: VideoId = phone.id.parse().unwrap();
        let record = api.app().videos.get(&id).await.unwrap().unwrap();
        let complete = format!("/v1/uploads/{}/complete", phone.id);
        let abort = format!("/v1/uploads/{}", phone.id);
        let (server, client, aborted) = tokio::join!(
            vidgate::uploads::complete_quiet(api.app(), &record),
            api.call("POST", &complete, Some("alice"), None),
            api.call("DELETE", &abort, Some("alice"), None),
        );
        (
            server.map(|q| format!("{q:?}").split('(').next().unwrap_or_default().to_owned()),
            client.0,
            aborted.0,
        )
    });
    let answers = futures::future::join_all(races).await;

    let mut wanted = BTreeSet::new();
    let mut outcomes = BTreeMap::new();
    for (phone, (server, client, aborted)) in phones.iter().zip(answers) {
        let server = server.unwrap();
        let video = phone.video().await;
        let item = stack.item(&phone.id).await;
        let key = video["key"].as_str().unwrap();
        match video["status"].as_str().unwrap() {
            "uploaded" => {
                let by = video["completedBy"].as_str().unwrap().to_owned();
                assert_eq!(s(&item, "completedBy"), by);
                assert_eq!(client, StatusCode::OK, "the client's complete answers the uploaded video");
                assert_eq!(aborted, StatusCode::CONFLICT, "the abort lost: upload_completed");
                assert_eq!(stack.object(key).await, phone.file);
                assert_eq!(by == "server", server == "Completed", "the pass says {server}; the record {by}");
                wanted.insert((phone.id.clone(), "Video Uploaded".to_owned()));
                *outcomes.entry(format!("uploaded by {by}")).or_insert(0) += 1;
            }
            "aborted" => {
                assert_eq!(video["completedBy"], Value::Null);
                assert!(aborted.is_success(), "{aborted}");
                assert_eq!(client, StatusCode::CONFLICT, "the complete lost: upload_aborted");
                assert_ne!(server, "Completed");
                wanted.insert((phone.id.clone(), "Video Upload Aborted".to_owned()));
                *outcomes.entry("aborted".to_owned()).or_insert(0) += 1;
            }
            other => panic!("{other}: {video}"),
        }
        assert_eq!(stack.open_uploads(key).await, 0, "nothing left open in S3");
    }
    receiver.wait_for(&wanted).await;
    // Nothing else arrives: one final event per video.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for phone in &phones {
        let finals: Vec<String> = receiver
            .events()
            .iter()
            .map(key_of)
            .filter(|(id, kind)| {
                id == &phone.id && kind != "Video Upload Started" && !kind.starts_with("Video Images")
            })
            .map(|(_, kind)| kind)
            .collect();
        assert_eq!(finals.len(), 1, "{}: {finals:?}", phone.id);
    }
    println!("race outcomes: {outcomes:?}");
}
