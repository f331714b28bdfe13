//! The `vidgate` binary against the local stack (moto + the gateway), run as a user runs it: as a
//! child process with flags and environment, killed with SIGKILL mid-upload, rerun.
//!
//! Part `PUT`s go through an [`S3Edge`](vidgate_tests::s3_edge::S3Edge) in front of moto, which
//! records each one (so a test can count what was sent) and enforces URL expiry as S3 does
//! (moto doesn't).

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use vidgate_tests::{MIB, Stack, bytes};

const BIN: &str = env!("CARGO_BIN_EXE_vidgate");

struct Run {
    dir: PathBuf,
    api: String,
    token: String,
}

impl Run {
    fn new(stack: &Stack, name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("vidgate-cli-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir, api: stack.api.clone(), token: stack.token("alice") }
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("VIDGATE_API_URL", &self.api)
            .env("VIDGATE_TOKEN", &self.token)
            .env("VIDGATE_STATE_DIR", self.state_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut command = self.command(args);
        tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap()
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args).spawn().unwrap()
    }

    fn file(&self, name: &str, contents: &[u8]) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_of(output: &Output) -> Value {
    assert!(output.status.success(), "vidgate failed: {}\n{}", text(&output.stderr), text(&output.stdout));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&output.stdout)))
}

/// Waits until the edge has stored at least `n` parts since record `from`.
async fn parts_stored(stack: &Stack, from: usize, n: usize) {
    let edge = stack.edge.as_ref().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while edge.stored_parts_since(from).len() < n {
        assert!(Instant::now() < deadline, "only {:?} parts stored", edge.stored_parts_since(from));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// SIGKILL, as a crash or `kill -9` would; then lets requests it left in flight land.
async fn kill_9(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

/// The part numbers S3 holds for the file's unfinished upload (through the API, as alice).
async fn parts_in_s3(stack: &Stack) -> Vec<u32> {
    let (_, page) = stack.call("GET", "/v1/videos?status=uploading", Some("alice"), None).await;
    let id = page["videos"][0]["id"].as_str().expect("an unfinished upload").to_owned();
    let (_, parts) = stack.call("GET", &format!("/v1/uploads/{id}/parts"), Some("alice"), None).await;
    parts["parts"].as_array().unwrap().iter().map(|p| p["partNumber"].as_u64().unwrap() as u32).collect()
}

fn sorted(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v
}

async fn stored_bytes(stack: &Stack, report: &Value) -> Vec<u8> {
    stack.object(report["video"]["key"].as_str().unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_64_mib_in_parallel_parts_and_the_bytes_match() {
    let stack = Stack::start_behind_edge(Duration::ZERO, |_| {}).await;
    let run = Run::new(&stack, "64");
    let source = bytes(64 * MIB, 71);
    let file = run.file("big.mp4", &source);
    let out = run
        .run(&["upload", file.to_str().unwrap(), "--concurrency", "6", "--part-size", "8M", "--json"])
        .await;
    let report = json_of(&out);
    assert_eq!(report["video"]["status"], "uploaded");
    assert_eq!(report["video"]["size"], 64 * MIB);
    assert_eq!((report["partsTotal"].as_u64(), report["partsSent"].as_u64()), (Some(8), Some(8)));
    assert_eq!(stored_bytes(&stack, &report).await, source);
    assert_eq!(sorted(stack.edge.as_ref().unwrap().stored_parts_since(0)), (1..=8).collect::<Vec<_>>());
    // Plain lines on a pipe, not a bar.
    assert!(text(&out.stderr).contains("big.mp4: 64.0 MiB of 64.0 MiB (100 %)"), "{}", text(&out.stderr));
    // A finished upload leaves no state behind.
    assert_eq!(std::fs::read_dir(run.state_dir()).unwrap().count(), 0);

    // The other commands on the same video.
    let id = report["video"]["id"].as_str().unwrap();
    let ls = run.run(&["ls"]).await;
    assert!(text(&ls.stdout).contains(id) && text(&ls.stdout).contains("uploaded"), "{}", text(&ls.stdout));
    let info = json_of(&run.run(&["info", id]).await);
    assert_eq!(info["id"], id);
    let play = run.run(&["play", id]).await;
    let key = report["video"]["key"].as_str().unwrap();
    // A CloudFront signed URL for the local CDN, pinned to the checked version and answered as
    // the record's type, which the download below reads through.
    assert!(
        text(&play.stdout).starts_with(&format!("{}/cdn/{key}?versionId=", stack.api))
            && text(&play.stdout).contains("&response-content-type=video%2Fmp4&Expires="),
        "{}",
        text(&play.stdout)
    );
    let copy = run.dir.join("copy.mp4");
    let down = run.run(&["download", id, "-o", copy.to_str().unwrap(), "-c", "4"]).await;
    assert!(down.status.success(), "{}", text(&down.stderr));
    assert_eq!(std::fs::read(&copy).unwrap(), source);
    let abort = run.run(&["abort", id]).await;
    assert_eq!(abort.status.code(), Some(2));
    assert!(text(&abort.stderr).contains("upload_completed"), "{}", text(&abort.stderr));

    // rm: the video is gone from S3 and from the listing; a second rm succeeds; an unknown id
    // fails the command after the others were deleted.
    let unknown = "01900000-0000-7000-8000-000000000000";
    let rm = run.run(&["rm", unknown, id]).await;
    assert_eq!(rm.status.code(), Some(2), "{}", text(&rm.stderr));
    assert!(text(&rm.stderr).contains("video_not_found"), "{}", text(&rm.stderr));
    assert_eq!(text(&rm.stdout).trim(), format!("deleted {id}"));
    let s3 = aws_sdk_s3::Client::new(stack.sdk());
    assert!(s3.head_object().bucket(vidgate_tests::BUCKET).key(key).send().await.is_err(), "still in S3");
    assert!(!text(&run.run(&["ls"]).await.stdout).contains(id));
    assert!(run.run(&["rm", id]).await.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_twice_it_resumes_from_state_then_from_the_server_and_never_resends_a_stored_part() {
    // 200 ms per part PUT: slow enough to kill the CLI between parts.
    let stack = Stack::start_behind_edge(Duration::from_millis(200), |_| {}).await;
    let run = Run::new(&stack, "kill");
    let source = bytes(10 * 5 * MIB + 777, 72);
    let file = run.file("trip.mp4", &source);
    let path = file.to_str().unwrap();
    let args = ["upload", path, "--concurrency", "2", "--part-size", "5M", "--json"];
    let edge = stack.edge.as_ref().unwrap();

    kill_9_after(&stack, &run, &args, 0, 3).await;
    let first = sorted(parts_in_s3(&stack).await);
    assert!(first.len() >= 3 && first.len() < 11, "{first:?}");

    // Second run: the state file names the upload; only missing parts go out. Killed again.
    let mark = edge.puts().len();
    kill_9_after(&stack, &run, &args, mark, 2).await;
    let second_run = edge.stored_parts_since(mark);
    assert!(
        second_run.iter().all(|n| !first.contains(n)),
        "re-sent a stored part: {second_run:?} vs {first:?}"
    );
    let second = sorted(parts_in_s3(&stack).await);
    assert!(second.len() > first.len() && second.len() < 11, "{second:?}");

    // Third run without the state file: the upload is found on the server by its metadata.
    std::fs::remove_dir_all(run.state_dir()).unwrap();
    let mark = edge.puts().len();
    let report = json_of(&run.run(&args).await);
    let third_run = sorted(edge.stored_parts_since(mark));
    let missing: Vec<u32> = (1..=11).filter(|n| !second.contains(n)).collect();
    assert_eq!(third_run, missing, "exactly the missing parts were sent");
    assert_eq!(report["resumed"], true);
    assert_eq!(report["partsSkipped"].as_u64(), Some(second.len() as u64));
    assert_eq!(report["partsSent"].as_u64(), Some(missing.len() as u64));
    assert_eq!(report["video"]["status"], "uploaded");
    assert_eq!(stored_bytes(&stack, &report).await, source);
}

async fn kill_9_after(stack: &Stack, run: &Run, args: &[&str], mark: usize, parts: usize) {
    let child = run.spawn(args);
    parts_stored(stack, mark, parts).await;
    kill_9(child).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_file_changed_since_its_upload_began_is_refused_with_or_without_local_state() {
    let stack = Stack::start_behind_edge(Duration::from_millis(200), |_| {}).await;
    let run = Run::new(&stack, "changed");
    let source = bytes(6 * 5 * MIB, 73);
    let file = run.file("edit.mp4", &source);
    let path = file.to_str().unwrap().to_owned();
    let args = ["upload", path.as_str(), "--concurrency", "1", "--part-size", "5M"];
    kill_9_after(&stack, &run, &args, 0, 1).await;

    let mut changed = source.clone();
    changed.extend_from_slice(b"one more frame");
    std::fs::write(&file, &changed).unwrap();
    for state in ["with state", "without state"] {
        let out = run.run(&args).await;
        assert_eq!(out.status.code(), Some(2), "{state}: {}", text(&out.stderr));
        let message = text(&out.stderr);
        assert!(
            message.contains("changed since upload") && message.contains("vidgate abort"),
            "{state}: {message}"
        );
        std::fs::remove_dir_all(run.state_dir()).ok();
    }
    // Nothing more was sent for the changed file.
    assert_eq!(parts_in_s3(&stack).await.len(), stack.edge.as_ref().unwrap().stored_parts_since(0).len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_part_urls_are_signed_again_and_the_upload_completes() {
    // URLs live 2 s; each part PUT takes 500 ms: URLs signed in one batch expire before their turn.
    // Batches are signed without checksums (with them, each URL is signed as its part is read).
    let stack = Stack::start_behind_edge(Duration::from_millis(500), |config| {
        config.part_url_ttl = Duration::from_secs(2);
    })
    .await;
    let run = Run::new(&stack, "expired");
    let source = bytes(8 * 5 * MIB, 74);
    let file = run.file("slow.mp4", &source);
    let out = run
        .run(&[
            "upload",
            file.to_str().unwrap(),
            "--concurrency",
            "1",
            "--part-size",
            "5M",
            "--json",
            "--no-checksum",
        ])
        .await;
    let report = json_of(&out);
    assert_eq!((&report["checksum"], &report["video"]["checksumAlgorithm"]), (&Value::Null, &Value::Null));
    let expired: Vec<u32> = stack
        .edge
        .as_ref()
        .unwrap()
        .puts()
        .iter()
        .filter(|p| p.status == 403)
        .map(|p| p.part_number)
        .collect();
    assert!(!expired.is_empty(), "no URL expired: the test proves nothing");
    assert_eq!(report["resigned"].as_u64(), Some(expired.len() as u64));
    assert!(text(&out.stderr).contains("the URL expired; signing a new one"), "{}", text(&out.stderr));
    assert_eq!(report["video"]["status"], "uploaded");
    assert_eq!(stored_bytes(&stack, &report).await, source);
}

/// Each mistake a new user makes gets a message saying what to do next, and the documented exit
/// code: 2 for what the user must change, 1 for a failure on the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mistake_says_what_to_do_next_with_its_exit_code() {
    let stack = Stack::start().await;
    let run = Run::new(&stack, "mistakes");
    let expect = |out: &Output, code: i32, says: &[&str]| {
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{err}{}", text(&out.stdout));
        for s in says {
            assert!(err.contains(s), "{s:?} not in: {err}");
        }
    };
    let no_token = Command::new(BIN)
        .args(["ls", "--api-url", &stack.api])
        .env_remove("VIDGATE_TOKEN")
        .env_remove("VIDGATE_DEV_USER")
        .output()
        .unwrap();
    expect(&no_token, 2, &["no token", "infra/local/token NAME"]);

    let mut refused = run.command(&["ls"]);
    refused.env("VIDGATE_TOKEN", stack.refused_token("alice"));
    expect(&refused.output().unwrap(), 2, &["HTTP 401", "Get a new one", "infra/local/token NAME"]);

    // Nothing listens: said at once (one quick retry), with how to start the stack.
    let dead =
        format!("http://{}", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap());
    let started = Instant::now();
    let down = run.command(&["ls", "--api-url", dead.as_str()]).output().unwrap();
    expect(&down, 1, &["can't reach the vidgate API at", "Connection refused", "infra/local/up"]);
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());

    let missing = run.run(&["upload", run.dir.join("nope.mp4").to_str().unwrap()]).await;
    expect(&missing, 2, &["nope.mp4", "No such file"]);

    // Options are checked before any call: these run against the dead address and still say
    // what is wrong with them.
    let video = run.file("clip.mp4", &bytes(6 * MIB, 5));
    let video = video.to_str().unwrap();
    for (args, says) in [
        (vec!["--concurrency", "0"], "must be within 1..=64"),
        (vec!["--part-size", "10G"], "--part-size must be within 5 MiB..=5 GiB"),
        (vec!["--part-size", "1M"], "--part-size must be within 5 MiB..=5 GiB"),
    ] {
        let out = run
            .command(&[&["upload", video, "--api-url", dead.as_str()][..], &args[..]].concat())
            .output()
            .unwrap();
        expect(&out, 2, &[says]);
    }
    // Large parts: a memory estimate, before the (here failing) first call.
    let big =
        run.command(&["upload", video, "--api-url", dead.as_str(), "--part-size", "1G"]).output().unwrap();
    expect(&big, 1, &["up to 16.0 GiB of memory for parts (2 × 8 workers × 1.0 GiB parts)"]);

    // A usage line doesn't mark --token as required when VIDGATE_TOKEN gives it.
    let usage = run.run(&["upload"]).await;
    expect(&usage, 2, &["Usage: vidgate upload <FILE>"]);

    let empty = run.run(&["ls"]).await;
    assert!(empty.status.success() && empty.stdout.is_empty());
    expect(&empty, 0, &["no videos yet; `vidgate upload FILE` uploads one"]);
    let none = run.run(&["ls", "--status", "rejected"]).await;
    expect(&none, 0, &["no rejected videos"]);

    // A rejected video never plays, and the message says why.
    let (_, rejected) = stack
        .call(
            "POST",
            "/v1/uploads",
            Some("alice"),
            Some(&serde_json::json!({
        "filename": "notes.mp4", "size": 5})),
        )
        .await;
    let id = rejected["videoId"].as_str().unwrap().to_owned();
    let (_, urls) = stack
        .call(
            "POST",
            &format!("/v1/uploads/{id}/part-urls"),
            Some("alice"),
            Some(&serde_json::json!({"partNumbers": [1]})),
        )
        .await;
    stack.put_part(urls["urls"][0]["url"].as_str().unwrap(), b"notes".to_vec()).await;
    let (status, _) = stack.call("POST", &format!("/v1/uploads/{id}/complete"), Some("alice"), None).await;
    assert_eq!(status, 422);
    let play = run.run(&["play", &id]).await;
    expect(
        &play,
        2,
        &["was rejected and will never play", "not a known video container", "Upload a different file"],
    );
}

/// CRC-64/NVME, bit by bit (base64): an independent check of the CLI's hardware CRC and of S3's.
fn crc64nvme(bytes: &[u8]) -> String {
    use base64::Engine as _;
    let mut crc = !0u64;
    for &b in bytes {
        crc ^= u64::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x9A6C_9329_AC4B_C9B5 } else { crc >> 1 };
        }
    }
    base64::engine::general_purpose::STANDARD.encode((!crc).to_be_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_part_corrupted_on_the_way_is_refused_by_s3_and_sent_again_and_the_checksums_agree() {
    let stack = Stack::start_behind_edge(Duration::ZERO, |_| {}).await;
    let run = Run::new(&stack, "corrupt-once");
    let source = bytes(3 * 5 * MIB + 4321, 73);
    let file = run.file("river.mp4", &source);
    let edge = stack.edge.as_ref().unwrap();
    edge.corrupt_part(2, 1);
    let report = json_of(&run.run(&["upload", file.to_str().unwrap(), "--part-size", "5M", "--json"]).await);
    assert_eq!(report["video"]["status"], "uploaded");
    assert_eq!(report["resentAfterBadDigest"], 1);
    // Part 2 reached S3 twice: refused (400 BadDigest: its bytes did not match the signed
    // checksum), then stored.
    let part2: Vec<u16> = edge.puts().iter().filter(|p| p.part_number == 2).map(|p| p.status).collect();
    assert_eq!(part2, [400, 200]);
    let whole = crc64nvme(&source);
    assert_eq!(report["checksum"], whole.as_str());
    assert_eq!(
        report["video"]["checksum"],
        serde_json::json!({"algorithm": "crc64nvme", "type": "FULL_OBJECT", "value": whole})
    );
    assert_eq!(stored_bytes(&stack, &report).await, source);

    // The download is checked against that checksum; `verify` catches a corrupted local copy.
    let id = report["video"]["id"].as_str().unwrap();
    let copy = run.dir.join("copy.mp4");
    let down = json_of(&run.run(&["download", id, "-o", copy.to_str().unwrap(), "--json"]).await);
    assert_eq!(down["checksum"], whole.as_str());
    let ok = run.run(&["verify", id, copy.to_str().unwrap()]).await;
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let mut damaged = std::fs::read(&copy).unwrap();
    damaged[12_345] ^= 1;
    std::fs::write(&copy, &damaged).unwrap();
    let bad = run.run(&["verify", id, copy.to_str().unwrap()]).await;
    assert_eq!(bad.status.code(), Some(2));
    let err = text(&bad.stderr);
    assert!(err.contains("is not video") && err.contains(&whole), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_part_corrupted_every_time_fails_the_upload_naming_it_and_nothing_is_assembled() {
    let stack = Stack::start_behind_edge(Duration::ZERO, |_| {}).await;
    let run = Run::new(&stack, "corrupt-always");
    let source = bytes(2 * 5 * MIB + 99, 74);
    let file = run.file("storm.mp4", &source);
    stack.edge.as_ref().unwrap().corrupt_part(3, 100);
    let out = run.run(&["upload", file.to_str().unwrap(), "--part-size", "5M"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("S3 refused part 3") && err.contains("BadDigest twice"), "{err}");
    // Still uploading, without part 3; a rerun over a sound link sends only part 3.
    assert_eq!(sorted(parts_in_s3(&stack).await), [1, 2]);
    stack.edge.as_ref().unwrap().corrupt_part(3, 0);
    let report = json_of(&run.run(&["upload", file.to_str().unwrap(), "--part-size", "5M", "--json"]).await);
    assert_eq!((report["partsSkipped"].as_u64(), report["partsSent"].as_u64()), (Some(2), Some(1)));
    assert_eq!(report["video"]["checksum"]["value"], crc64nvme(&source).as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_ls_and_info_show_the_media_facts_and_a_file_without_video_is_refused_with_why() {
    let stack = Stack::start().await;
    let run = Run::new(&stack, "media");
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/media");
    let phone = run.file("phone.mov", &std::fs::read(format!("{fixtures}/phone-rotated.mov")).unwrap());
    let out = run.run(&["upload", phone.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = "0:02 480x270 rotated 90° 30 fps avc1.4D4015 + mp4a.40.2 (not faststart: moov after mdat)";
    let printed = text(&out.stdout);
    assert_eq!(printed.lines().nth(1), Some(summary), "{printed}");

    let listed = text(&run.run(&["ls"]).await.stdout);
    assert!(listed.lines().any(|l| l.contains("phone.mov") && l.ends_with(summary)), "{listed}");
    let id = printed.split_whitespace().next().unwrap();
    let info = json_of(&run.run(&["info", id]).await);
    assert_eq!(info["media"]["rotation"], 90);
    assert_eq!(info["media"]["container"], "quicktime");

    let audio = run.file("talk.mp4", &std::fs::read(format!("{fixtures}/audio-only.mp4")).unwrap());
    let refused = run.run(&["upload", audio.to_str().unwrap()]).await;
    assert_eq!(refused.status.code(), Some(2), "a 422: the file is what must change");
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("no video track: the file holds only audio (mp4a.40.2)"), "{stderr}");
}

/// docs/capacity.md's tables are what `vidgate capacity` prints for their arguments.
#[test]
fn the_capacity_pages_tables_are_the_capacity_commands_output() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/capacity.md")).unwrap();
    let mut checked = 0;
    for block in readme.split("<!-- capacity: ").skip(1) {
        let (args, rest) = block.split_once(" -->\n").unwrap();
        let shown = rest.split("<!-- /capacity -->").next().unwrap();
        let out = Command::new(BIN).arg("capacity").args(args.split_whitespace()).output().unwrap();
        assert!(out.status.success(), "vidgate capacity {args}: {}", text(&out.stderr));
        assert_eq!(
            shown.trim(),
            text(&out.stdout).trim(),
            "docs/capacity.md block for `vidgate capacity {args}`"
        );
        checked += 1;
    }
    assert_eq!(checked, 3, "the three shapes: hobby, 10k uploads a day, one viral video");
    let refused =
        Command::new(BIN).args(["capacity", "--uploads-per-day", "1", "--mean-size", "1M"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2), "clap names the missing --watch-hours-per-day");
    let bad = Command::new(BIN)
        .args(["capacity", "--uploads-per-day", "1", "--mean-size", "1M", "--watch-hours-per-day", "1"])
        .args(["--cache-hit", "1.5"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("cache hit must be within 0..=1, not 1.5"), "{}", text(&bad.stderr));

    // Its own help (it calls no API), a singular, the T unit, and JSON.
    let help = text(&Command::new(BIN).args(["capacity", "--help"]).output().unwrap().stdout);
    assert!(help.contains("--retention-days") && help.contains("--json"), "{help}");
    assert!(!help.contains("--api-url") && !help.contains("--token"), "{help}");
    let args = ["capacity", "--uploads-per-day", "1", "--mean-size", "1T", "--watch-hours-per-day", "1"];
    let one = text(&Command::new(BIN).args(args).output().unwrap().stdout);
    assert!(one.starts_with("1 upload/day of 1048576 MiB kept 365 days,"), "{one}");
    let out = Command::new(BIN).args(args).args(["--retention-days", "30", "--json"]).output().unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["shape"]["meanSizeBytes"], 1u64 << 40);
    let stored = json["cdnOff"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["unit"] == "GB stored (steady state)")
        .unwrap();
    // 30 days of one 1 TiB upload a day, kept 30 days.
    assert!((stored["perMonth"].as_f64().unwrap() - 30.0 * (1u64 << 40) as f64 / 1e9).abs() < 1e-6);
    assert!(json["cdnOn"]["totalUsd"].as_f64().unwrap() > 0.0);
    assert!(json["cdnOff"]["firstLimit"].is_string());
}

/// Ids of alice's videos, straight from the API.
async fn video_ids(stack: &Stack) -> Vec<String> {
    let (_, page) = stack.call("GET", "/v1/videos?limit=100", Some("alice"), None).await;
    page["videos"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_upload_of_the_same_bytes_creates_no_record_unless_asked_again() {
    let stack = Stack::start().await;
    let run = Run::new(&stack, "again");
    let source = bytes(7 * MIB, 77);
    let file = run.file("trip.mp4", &source);
    let first = json_of(&run.run(&["upload", file.to_str().unwrap(), "--json"]).await);
    let id = first["video"]["id"].as_str().unwrap().to_owned();
    assert_eq!(first["alreadyUploaded"], false);
    let before = stack.stored().await;

    // The same command again: the same video, nothing sent, no record.
    let rerun = run.run(&["upload", file.to_str().unwrap()]).await;
    assert!(rerun.status.success(), "{}", text(&rerun.stderr));
    let printed = text(&rerun.stdout);
    assert!(
        printed.starts_with(&format!("{id} uploaded trip.mp4")) && printed.contains("nothing sent"),
        "{printed}"
    );
    assert!(text(&rerun.stderr).contains("`--again` uploads a copy"), "{}", text(&rerun.stderr));
    // A copy of the file elsewhere (another path and modified time): the same bytes, found by
    // size and CRC-64/NVME.
    let copy = run.file("copy-of-trip.mp4", &source);
    let again = json_of(&run.run(&["upload", copy.to_str().unwrap(), "--json"]).await);
    assert_eq!(
        (again["alreadyUploaded"].as_bool(), again["video"]["id"].as_str()),
        (Some(true), Some(id.as_str()))
    );
    assert_eq!(again["bytesSent"], 0);
    assert_eq!(stack.stored().await, before, "no S3 object and no DynamoDB item was added");
    assert_eq!(video_ids(&stack).await, std::slice::from_ref(&id));

    // Other bytes of the same size are another video.
    let mut changed = source.clone();
    changed[3 * MIB] ^= 1;
    let other = run.file("other.mp4", &changed);
    let other = json_of(&run.run(&["upload", other.to_str().unwrap(), "--json"]).await);
    assert_eq!(other["alreadyUploaded"], false);
    assert_ne!(other["video"]["id"], id.as_str());

    // --again: a copy on purpose.
    let copied = json_of(&run.run(&["upload", file.to_str().unwrap(), "--again", "--json"]).await);
    assert_eq!(copied["alreadyUploaded"], false);
    assert_eq!(copied["video"]["status"], "uploaded");
    assert_eq!(video_ids(&stack).await.len(), 3);
    assert_eq!(stored_bytes(&stack, &copied).await, source);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_video_is_refused_with_the_servers_reason_before_anything_is_created_or_sent() {
    let stack = Stack::start_behind_edge(Duration::ZERO, |_| {}).await;
    let run = Run::new(&stack, "not-video");
    let before = stack.stored().await;
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/media");
    let cases = [
        // 11 MiB of text named like a video: the sniff's reason.
        (run.file("holiday.mp4", &vec![b'x'; 11 * MIB]), "the first bytes are not a known video container"),
        (run.file("notes.txt", b"hello"), "the first bytes are not a known video container"),
        // A real MP4 with no video track: the media reader's reason.
        (
            run.file("talk.mp4", &std::fs::read(format!("{fixtures}/audio-only.mp4")).unwrap()),
            "no video track: the file holds only audio (mp4a.40.2)",
        ),
    ];
    for (file, reason) in cases {
        let out = run.run(&["upload", file.to_str().unwrap()]).await;
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(reason) && err.contains("Nothing was sent."), "{err}");
    }
    assert!(stack.edge.as_ref().unwrap().puts().is_empty(), "no byte reached S3");
    assert_eq!(stack.stored().await, before, "no record and no object");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_id_prefix_works_and_download_writes_the_videos_filename() {
    let stack = Stack::start().await;
    let run = Run::new(&stack, "prefix");
    let source = bytes(3 * MIB, 78);
    let file = run.file("beach.mp4", &source);
    let done = json_of(&run.run(&["upload", file.to_str().unwrap(), "--json"]).await);
    let id = done["video"]["id"].as_str().unwrap();
    // One video: a short prefix is unique.
    let info = json_of(&run.run(&["info", &id[..8]]).await);
    assert_eq!(info["id"], id);
    let unknown = run.run(&["info", "ffffffff"]).await;
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("none of your videos has an ID starting with ffffffff"));
    let second = json_of(&run.run(&["upload", file.to_str().unwrap(), "--again", "--json"]).await);
    let common: usize =
        id.chars().zip(second["video"]["id"].as_str().unwrap().chars()).take_while(|(a, b)| a == b).count();
    let ambiguous = run.run(&["info", &id[..common]]).await;
    assert_eq!(ambiguous.status.code(), Some(2));
    assert!(
        text(&ambiguous.stderr).contains("2 of your videos have IDs starting with"),
        "{}",
        text(&ambiguous.stderr)
    );

    // `download` without -o: the video's filename, in the current directory; never over a file.
    let into = run.dir.join("downloads");
    std::fs::create_dir_all(&into).unwrap();
    let mut download = run.command(&["download", &id[..common + 1]]);
    download.current_dir(&into);
    let out = download.output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(into.join("beach.mp4")).unwrap(), source);
    let mut again = run.command(&["download", id]);
    again.current_dir(&into);
    let out = again.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("beach.mp4 exists; pass -o PATH"), "{}", text(&out.stderr));
}

/// The rate and ETA in progress lines, as (bytes per second, seconds).
fn rates(stderr: &str) -> Vec<(f64, f64)> {
    let unit = |u: &str| match u {
        "B/s" => 1.0,
        "KiB/s" => 1024.0,
        "MiB/s" => 1024.0 * 1024.0,
        "GiB/s" => 1024.0 * 1024.0 * 1024.0,
        other => panic!("unit {other}"),
    };
    stderr
        .lines()
        .filter_map(|l| l.split_once(" at "))
        .map(|(_, rest)| {
            let words: Vec<&str> = rest.split_whitespace().collect();
            let rate = words[0].parse::<f64>().unwrap() * unit(words[1].trim_end_matches(','));
            (rate, words[3].parse::<f64>().unwrap())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ctrl_c_says_how_to_resume_and_the_resumed_progress_counts_only_this_runs_bytes() {
    // Slow part PUTs, so the upload is still going when Ctrl-C comes.
    let stack = Stack::start_behind_edge(Duration::from_millis(700), |_| {}).await;
    let run = Run::new(&stack, "ctrl-c");
    let source = bytes(12 * 5 * MIB, 79);
    let file = run.file("long trip.mp4", &source);
    let path = file.to_str().unwrap();
    let mark = stack.edge.as_ref().unwrap().puts().len();
    let child = run.spawn(&["upload", path, "--part-size", "5M", "--concurrency", "2"]);
    parts_stored(&stack, mark, 2).await;
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    let id = parts_in_s3_id(&stack).await;
    assert!(err.contains(&format!("interrupted (upload {id})")), "{err}");
    let said = err.lines().find(|l| l.trim_start().starts_with("vidgate upload")).unwrap_or_default();
    assert_eq!(said.trim(), format!("vidgate upload '{path}'"), "{err}");

    // The command it printed resumes; the progress lines' rates count this run's bytes over
    // this run's time (no rate in the first second), so none exceeds what is left to send.
    let held = parts_in_s3(&stack).await.len() as f64;
    let resumed = run.run(&["upload", path, "--part-size", "6M", "--concurrency", "2"]).await;
    let err = text(&resumed.stderr);
    assert!(resumed.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "upload {id} keeps its 5.0 MiB parts (--part-size 6.0 MiB applies to a new upload"
        )),
        "{err}"
    );
    let first = err.lines().find(|l| l.starts_with("long trip.mp4: ")).unwrap();
    assert!(!first.contains(" at "), "a rate before a second of sending: {first}");
    let left = source.len() as f64 * (1.0 - held / 12.0);
    for (rate, eta) in rates(&err) {
        assert!(rate > 0.0 && rate <= left, "rate {rate} B/s with {left} bytes left: {err}");
        assert!((0.0..600.0).contains(&eta), "{err}");
    }
    assert_eq!(stored_bytes(&stack, &json_of(&run.run(&["upload", path, "--json"]).await)).await, source);
}

async fn parts_in_s3_id(stack: &Stack) -> String {
    let (_, page) = stack.call("GET", "/v1/videos?status=uploading", Some("alice"), None).await;
    page["videos"][0]["id"].as_str().expect("an unfinished upload").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poster_saves_the_made_poster_and_at_another_moment_replaces_it_and_info_shows_the_images() {
    let mut stack = Stack::start().await;
    stack.publish_lifecycle_events(None).await;
    stack.make_images().await;
    let run = Run::new(&stack, "poster");
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/media");
    let phone = run.file("phone.mov", &std::fs::read(format!("{fixtures}/phone-rotated.mov")).unwrap());
    let out = run.run(&["upload", phone.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = text(&out.stdout).split_whitespace().next().unwrap().to_owned();

    // It waits for make-images, then writes <file name>.jpg here.
    let mut saved = run.command(&["poster", &id]);
    saved.current_dir(&run.dir);
    let out = tokio::task::spawn_blocking(move || saved.output().unwrap()).await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let jpeg = std::fs::read(run.dir.join("phone.jpg")).unwrap();
    assert_eq!(&jpeg[..3], [0xFF, 0xD8, 0xFF], "a JPEG");
    let info = json_of(&run.run(&["info", &id]).await);
    let poster = &info["images"]["poster"];
    assert_eq!((&poster["width"], &poster["height"]), (&Value::from(270), &Value::from(480)), "{info}");
    assert!(
        text(&out.stdout)
            .contains(&format!("the frame at {:.3} s", poster["timeMs"].as_f64().unwrap() / 1000.0))
    );

    // Another moment: asked, waited for, saved; the record says so.
    let chosen = run.dir.join("chosen.jpg");
    let out = run.run(&["poster", &id, "--at", "1.5s", "-o", chosen.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("the frame at 1.500 s"), "{}", text(&out.stdout));
    assert_ne!(std::fs::read(&chosen).unwrap(), jpeg, "another frame");
    assert_eq!(json_of(&run.run(&["info", &id]).await)["images"]["poster"]["timeMs"], 1500);

    // A moment that is no moment, or past the end: refused, saying why.
    let bad = run.run(&["poster", &id, "--at", "soon"]).await;
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    let late = run.run(&["poster", &id, "--at", "9s", "-o", chosen.to_str().unwrap()]).await;
    assert!(
        !late.status.success() && text(&late.stderr).contains("time_out_of_range"),
        "{}",
        text(&late.stderr)
    );
}

/// `vidgate upload --link URL FILE`: what someone without an account runs with the link an app
/// gave them. No token; the upload is the link owner's; a second file on a used link is refused
/// with what to do, and the same file again finds its upload done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_link_uploads_without_a_token_once() {
    let stack = Stack::start().await;
    let run = Run::new(&stack, "link");
    let created = stack
        .http
        .post(format!("{}/v1/upload-links", stack.api))
        .bearer_auth(stack.backend_token("backend-app"))
        .json(&serde_json::json!({"owner": "bob", "maxSizeBytes": 64 * MIB, "metadata": {"ticket": "T-3"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let url = created["uploadUrl"].as_str().unwrap();
    let clip = run.file(
        "clip.mp4",
        &std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/clip.mp4")).unwrap(),
    );
    let link_run = |args: Vec<String>| {
        let mut command = run.command(&[]);
        command.args(args).env_remove("VIDGATE_TOKEN").env_remove("VIDGATE_API_URL");
        async move { tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap() }
    };
    let upload = |file: &std::path::Path| {
        vec!["upload".into(), "--json".into(), "--link".into(), url.to_owned(), file.display().to_string()]
    };
    let out = link_run(upload(&clip)).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = json_of(&out);
    assert_eq!(report["video"]["status"], "uploaded", "{report}");
    assert_eq!(report["video"]["metadata"]["ticket"], "T-3");
    assert_eq!(stored_bytes(&stack, &report).await, std::fs::read(&clip).unwrap());
    let id = report["video"]["id"].as_str().unwrap();
    let (status, owned) = stack.call("GET", &format!("/v1/videos/{id}"), Some("bob"), None).await;
    assert_eq!((status.as_u16(), owned["linkId"].as_str()), (200, created["linkId"].as_str()));
    // The same file again: already done, nothing sent.
    let again = json_of(&link_run(upload(&clip)).await);
    assert_eq!((again["alreadyUploaded"].as_bool(), again["video"]["id"].as_str()), (Some(true), Some(id)));
    // Another file: the link is spent.
    let other = run.file(
        "other.mp4",
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/media/h264-aac-faststart.mp4"
        ))
        .unwrap(),
    );
    let refused = link_run(upload(&other)).await;
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("link_used"), "{}", text(&refused.stderr));
    // Not a link at all.
    let bad = link_run(vec![
        "upload".into(),
        "--link".into(),
        format!("{}/v1/videos", stack.api),
        clip.display().to_string(),
    ])
    .await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("no upload link"), "{}", text(&bad.stderr));
}
