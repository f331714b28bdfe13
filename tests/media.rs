//! Media facts on the local stack: each fixture made by `tests/fixtures/media/make` is uploaded as
//! a client does, and what `GET /v1/videos/{id}` records under `media` is held to what ffprobe
//! said of the same file (`NAME.ffprobe.json`, committed beside it). A file that claims to be MP4
//! but can't be read, and one with no video track, end `rejected` with the reason.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use vidgate_tests::Stack;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/fixtures/media/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn ffprobe(name: &str) -> Value {
    let stem = name.rsplit_once('.').unwrap().0;
    serde_json::from_slice(&fixture(&format!("{stem}.ffprobe.json"))).unwrap()
}

/// `"30/1"` → 30.0
fn ratio(text: &str) -> f64 {
    let (n, d) = text.split_once('/').unwrap();
    n.parse::<f64>().unwrap() / d.parse::<f64>().unwrap()
}

/// The RFC 6381 prefix and profile ffprobe's names imply, checked against the recorded string.
fn assert_codec(recorded: &str, stream: &Value, name: &str) {
    let codec = stream["codec_name"].as_str().unwrap();
    let profile = stream["profile"].as_str().unwrap_or_default();
    match codec {
        "h264" => {
            let idc = match profile {
                "High" => "64",
                "Main" => "4D",
                "Baseline" | "Constrained Baseline" => "42",
                other => panic!("{name}: H.264 profile {other} not in this table"),
            };
            let level = format!("{:02X}", stream["level"].as_u64().unwrap());
            assert!(
                recorded.starts_with(&format!("avc1.{idc}")) && recorded.ends_with(&level),
                "{name}: {recorded}"
            );
        }
        "hevc" => {
            let idc = match profile {
                "Main" => 1,
                "Main 10" => 2,
                other => panic!("{name}: HEVC profile {other}"),
            };
            let tag = stream["codec_tag_string"].as_str().unwrap();
            let level = stream["level"].as_u64().unwrap();
            assert!(recorded.starts_with(&format!("{tag}.{idc}.")), "{name}: {recorded}");
            assert!(recorded.contains(&format!(".L{level}.")), "{name}: {recorded}");
        }
        "av1" => {
            assert_eq!(profile, "Main", "{name}");
            let level = stream["level"].as_u64().unwrap();
            assert!(recorded.starts_with(&format!("av01.0.{level:02}")), "{name}: {recorded}");
        }
        "vp9" => {
            // ffmpeg 5.1 writes no VP9 CodecPrivate (profile, level): the codec string is "vp9".
            assert_eq!(profile, "Profile 0", "{name}");
            assert!(recorded == "vp9" || recorded.starts_with("vp09.00."), "{name}: {recorded}");
        }
        "aac" => {
            assert_eq!(profile, "LC", "{name}");
            assert_eq!(recorded, "mp4a.40.2", "{name}");
        }
        "opus" => assert_eq!(recorded, "opus", "{name}"),
        other => panic!("{name}: codec {other} not in this test's table"),
    }
}

/// `media` against ffprobe: duration within one frame, picture, rotation, aspect, frame rate,
/// codecs, audio, bitrate, faststart.
fn assert_matches_ffprobe(name: &str, media: &Value, bytes: &[u8]) {
    let probe = ffprobe(name);
    let streams = probe["streams"].as_array().unwrap();
    let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    let fps = ratio(video["avg_frame_rate"].as_str().unwrap());
    let duration: f64 = probe["format"]["duration"].as_str().unwrap().parse().unwrap();
    let recorded_ms = media["durationMs"].as_u64().unwrap() as f64;
    assert!(
        (recorded_ms - duration * 1000.0).abs() <= 1000.0 / fps,
        "{name}: {recorded_ms} ms vs ffprobe {duration} s"
    );
    assert_eq!(media["width"], video["width"], "{name}");
    assert_eq!(media["height"], video["height"], "{name}");
    // ffprobe's display-matrix rotation is counter-clockwise; vidgate's is clockwise.
    let ccw = video["side_data_list"][0]["rotation"].as_i64().unwrap_or(0);
    assert_eq!(media["rotation"].as_i64().unwrap(), (360 - ccw).rem_euclid(360), "{name}");
    assert_eq!(media["displayAspectRatio"], video["display_aspect_ratio"], "{name}");
    assert!(
        (media["frameRate"].as_f64().unwrap() - fps).abs() < 0.01,
        "{name}: {} fps vs {fps}",
        media["frameRate"]
    );
    assert_codec(media["videoCodec"].as_str().unwrap(), video, name);
    match streams.iter().find(|s| s["codec_type"] == "audio") {
        Some(audio) => {
            assert_codec(media["audioCodec"].as_str().unwrap(), audio, name);
            assert_eq!(media["audioChannels"], audio["channels"], "{name}");
            assert_eq!(
                media["audioSampleRate"].to_string(),
                audio["sample_rate"].as_str().unwrap(),
                "{name}"
            );
        }
        None => assert_eq!(media["audioCodec"], Value::Null, "{name}"),
    }
    // ffprobe's format bit_rate is the file's bits over its duration, as vidgate's.
    let bitrate = media["bitrate"].as_f64().unwrap();
    let expected = bytes.len() as f64 * 8.0 / (recorded_ms / 1000.0);
    assert!((bitrate - expected).abs() <= 1.0, "{name}: {bitrate}");
    let format = probe["format"]["format_name"].as_str().unwrap();
    assert_eq!(format.contains("mp4") || format.contains("mov"), media["faststart"].is_boolean(), "{name}");
}

/// openapi.yaml's `Video` schema (with `Media`), as a JSON Schema validator.
fn video_schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml")).unwrap();
    let spec: Value = serde_norway::from_str(&text).unwrap();
    let root = json!({"$ref": "#/components/schemas/Video", "components": spec["components"]});
    jsonschema::options().build(&root).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_records_what_ffprobe_says() {
    let schema = video_schema();
    let stack = Stack::start().await;
    let cases = [
        ("h264-aac-faststart.mp4", "mp4", Some(true), true),
        ("h264-aac-moov-at-end.mp4", "mp4", Some(false), true),
        ("phone-rotated.mov", "quicktime", Some(false), true),
        ("hevc.mov", "quicktime", Some(false), false),
        ("vp9-opus.webm", "webm", None, false),
        ("av1.mp4", "mp4", Some(true), false),
    ];
    for (name, container, faststart, playable) in cases {
        let bytes = fixture(name);
        let video = stack.upload("alice", name, &bytes).await;
        assert_eq!(video["status"], "uploaded", "{name}: {video}");
        let id = video["id"].as_str().unwrap();
        let (status, got) = stack.call("GET", &format!("/v1/videos/{id}"), Some("alice"), None).await;
        assert_eq!(status, StatusCode::OK);
        let errors: Vec<String> = schema.iter_errors(&got).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: the reply breaks openapi.yaml's Video schema: {errors:?}");
        let media = &got["media"];
        assert_eq!(media["container"], container, "{name}");
        assert_eq!(media["faststart"], json!(faststart), "{name}");
        assert_eq!(media["browserPlayable"], playable, "{name}: {media}");
        assert_matches_ffprobe(name, media, &bytes);
        // The record in DynamoDB holds the same facts the API shows.
        let item = stack.item(id).await;
        let stored = &item["media"].as_m().unwrap()["videoCodec"];
        assert_eq!(stored.as_s().unwrap(), media["videoCodec"].as_str().unwrap(), "{name}");
    }
    // A fragmented MP4: the picture and codecs as ffprobe says; its length is only in the
    // fragments (ffprobe sums them), which the probe doesn't walk: unknown, not made up.
    let bytes = fixture("fragmented.mp4");
    let video = stack.upload("alice", "fragmented.mp4", &bytes).await;
    assert_eq!(video["status"], "uploaded", "{video}");
    let probe = ffprobe("fragmented.mp4");
    let stream = &probe["streams"][0];
    assert_eq!(stream["codec_type"], "video");
    assert_eq!((&video["media"]["width"], &video["media"]["height"]), (&stream["width"], &stream["height"]));
    assert_codec(video["media"]["videoCodec"].as_str().unwrap(), stream, "fragmented.mp4");
    assert_codec(video["media"]["audioCodec"].as_str().unwrap(), &probe["streams"][1], "fragmented.mp4");
    assert_eq!(video["media"]["faststart"], true);
    assert_eq!(video["media"]["durationMs"], Value::Null);

    let rotated = &stack.call("GET", "/v1/videos?limit=50", Some("alice"), None).await.1["videos"];
    let rotated = rotated.as_array().unwrap().iter().find(|v| v["filename"] == "phone-rotated.mov").unwrap();
    assert_eq!(rotated["media"]["rotation"], 90, "listings carry media too");
    assert_eq!(rotated["media"]["videoCodec"], "avc1.4D4015");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_or_audio_only_file_is_rejected_with_the_reason() {
    let stack = Stack::start().await;
    for (name, reason) in [
        ("audio-only.mp4", "no video track: the file holds only audio (mp4a.40.2)"),
        (
            "truncated.mp4",
            "truncated: the 'mdat' box at offset 40 claims 115371 bytes, but the object ends 59960 bytes later",
        ),
    ] {
        let bytes = fixture(name);
        let body = json!({"filename": name, "size": bytes.len()});
        let (_, created) = stack.call("POST", "/v1/uploads", Some("alice"), Some(&body)).await;
        let id = created["videoId"].as_str().unwrap();
        let urls = json!({"partNumbers": [1]});
        let (_, signed) =
            stack.call("POST", &format!("/v1/uploads/{id}/part-urls"), Some("alice"), Some(&urls)).await;
        stack.put_part(signed["urls"][0]["url"].as_str().unwrap(), bytes).await;
        // The complete call answers 422 with the reason; the record keeps it.
        let (status, error) =
            stack.call("POST", &format!("/v1/uploads/{id}/complete"), Some("alice"), None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {error}");
        assert_eq!(error["error"]["code"], "not_a_video");
        assert!(error["error"]["message"].as_str().unwrap().ends_with(reason), "{name}: {error}");
        let (_, video) = stack.call("GET", &format!("/v1/videos/{id}"), Some("alice"), None).await;
        assert_eq!(video["status"], "rejected", "{name}: {video}");
        assert!(
            video["rejectReason"].as_str().unwrap().ends_with(reason),
            "{name}: {}",
            video["rejectReason"]
        );
        assert_eq!(video["media"], Value::Null);
        let item = stack.item(id).await;
        assert_eq!(item["status"].as_s().unwrap(), "rejected");
    }
    // ffprobe agrees the truncated file has no header to read.
    assert!(String::from_utf8(fixture("truncated.ffprobe.err")).unwrap().contains("moov atom not found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_recorded_by_its_s3_event_gets_media_too() {
    let mut stack = Stack::start().await;
    stack.deliver_s3_events().await;
    let bytes = fixture("vp9-opus.webm");
    let body =
        json!({"filename": "clip.webm", "contentType": "video/webm", "method": "put", "size": bytes.len()});
    let (status, created) = stack.call("POST", "/v1/uploads", Some("bob"), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let put = &created["put"];
    let response = stack
        .http
        .put(put["url"].as_str().unwrap())
        .header("content-type", put["headers"]["content-type"].as_str().unwrap())
        .header("if-none-match", put["headers"]["if-none-match"].as_str().unwrap())
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = created["videoId"].as_str().unwrap();
    let started = Instant::now();
    let video = loop {
        let (_, video) = stack.call("GET", &format!("/v1/videos/{id}"), Some("bob"), None).await;
        if video["status"] != "uploading" {
            break video;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the S3 event never recorded the upload");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(video["status"], "uploaded", "{video}");
    assert_matches_ffprobe("vp9-opus.webm", &video["media"], &bytes);
}
