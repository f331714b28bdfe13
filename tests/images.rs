//! Posters and storyboards on the local stack, along the template's path: an upload's
//! `Video Uploaded` event (the table's stream → publish-events → the local bus) → the images rule
//! → its queue → make-images with Debian's ffmpeg. Each fixture (tests/fixtures/media, made by
//! ffmpeg) gets a poster of its displayed shape and a storyboard; an undecodable one says why and
//! still plays; a redelivered request makes nothing twice; a delete takes the pictures.
//! How close each picture is to ffmpeg's own frame is tested in functions/ffmpeg/tests/frames.rs.

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use vidgate_tests::{BUCKET, Stack};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/fixtures/media/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The video's record once make-images has run (its images no longer `pending`).
async fn made(stack: &Stack, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, video) = stack.call("GET", &format!("/v1/videos/{id}"), Some("alice"), None).await;
        assert_eq!(status, StatusCode::OK, "{video}");
        if video["images"]["status"] != "pending" {
            return video;
        }
        assert!(Instant::now() < deadline, "no images after 90 s: {video}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every key under the video's images prefix, with its ETag.
async fn pictures(stack: &Stack, video: &Value) -> Vec<(String, String)> {
    let key = video["key"].as_str().unwrap();
    let prefix = format!("images/{}", key.trim_start_matches("videos/").rsplit_once('/').unwrap().0);
    let prefix = format!("{prefix}/{}/", video["id"].as_str().unwrap());
    let listed = stack.s3.list_objects_v2().bucket(BUCKET).prefix(&prefix).send().await.unwrap();
    listed.contents().iter().map(|o| (o.key().unwrap().to_owned(), o.e_tag().unwrap().to_owned())).collect()
}

/// A JPEG's width and height, as ffprobe reads it.
fn jpeg_size(jpeg: &[u8]) -> (u64, u64) {
    let path = std::env::temp_dir().join(format!("vidgate-images-{}.jpg", std::process::id()));
    std::fs::write(&path, jpeg).unwrap();
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=width,height,codec_name", "-of", "json"])
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    let probe: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stream = &probe["streams"][0];
    assert_eq!(stream["codec_name"], "mjpeg");
    (stream["width"].as_u64().unwrap(), stream["height"].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_uploaded_video_gets_a_poster_and_a_storyboard_once_and_a_delete_takes_them() {
    let mut stack = Stack::start().await;
    stack.publish_lifecycle_events(None).await;
    let queues = stack.make_images().await;
    // (fixture, displayed shape: rotation applied, fitted to 1280 and never upscaled)
    let cases = [
        ("h264-aac-moov-at-end.mp4", (640, 360)),
        ("phone-rotated.mov", (270, 480)),
        ("hevc.mov", (640, 360)),
        ("vp9-opus.webm", (640, 360)),
        ("av1.mp4", (320, 180)),
    ];
    let mut videos = Vec::new();
    for (name, _) in cases {
        let video = stack.upload("alice", name, &fixture(name)).await;
        assert_eq!(video["status"], "uploaded", "{name}: {video}");
        videos.push(video);
    }
    for ((name, (width, height)), uploaded) in cases.into_iter().zip(&videos) {
        let video = made(&stack, uploaded["id"].as_str().unwrap()).await;
        let images = &video["images"];
        assert_eq!(images["status"], "ready", "{name}: {images}");
        assert_eq!(
            (&images["poster"]["width"], &images["poster"]["height"]),
            (&json!(width), &json!(height)),
            "{name}"
        );
        let storyboard = &images["storyboard"];
        let duration = video["media"]["durationMs"].as_u64().unwrap();
        assert_eq!(storyboard["intervalMs"], 1000, "{name}");
        assert_eq!(storyboard["count"].as_u64().unwrap(), duration.div_ceil(1000), "{name}");
        let stored = pictures(&stack, &video).await;
        let poster_at = images["poster"]["timeMs"].as_u64().unwrap();
        let poster = stored.iter().find(|(k, _)| k.ends_with(&format!("/poster-{poster_at}.jpg"))).unwrap();
        assert_eq!(jpeg_size(&stack.object(&poster.0).await), (width, height), "{name}");
        let sprite = stored.iter().find(|(k, _)| k.ends_with("/storyboard-0.jpg")).unwrap();
        let tiles = storyboard["count"].as_u64().unwrap();
        let tile = (storyboard["tileWidth"].as_u64().unwrap(), storyboard["tileHeight"].as_u64().unwrap());
        assert_eq!(jpeg_size(&stack.object(&sprite.0).await), (tile.0 * tiles, tile.1), "{name}");
        assert_eq!(stored.len(), 2, "{name}: {stored:?}");
        // The record in DynamoDB holds the same.
        let item = stack.item(video["id"].as_str().unwrap()).await;
        assert_eq!(item["images"].as_m().unwrap()["status"].as_s().unwrap(), "ready");
    }

    // The event delivered again (an SQS redelivery, a replayed dead letter): nothing new.
    let first = &videos[0];
    let before = (pictures(&stack, first).await, stack.item(first["id"].as_str().unwrap()).await);
    let again = json!({"detail-type": "Video Uploaded", "source": "vidgate", "detail": {"id": first["id"]}});
    let sqs = aws_sdk_sqs::Client::new(stack.sdk());
    sqs.send_message().queue_url(&queues.events).message_body(again.to_string()).send().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queues.events)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let count = |name: aws_sdk_sqs::types::QueueAttributeName| -> u64 {
            attributes.attributes().and_then(|a| a.get(&name)).map_or(0, |v| v.parse().unwrap())
        };
        use aws_sdk_sqs::types::QueueAttributeName::{
            ApproximateNumberOfMessages, ApproximateNumberOfMessagesNotVisible,
        };
        if count(ApproximateNumberOfMessages) + count(ApproximateNumberOfMessagesNotVisible) == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the redelivered request was never taken");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = (pictures(&stack, first).await, stack.item(first["id"].as_str().unwrap()).await);
    assert_eq!(before, after, "a redelivered request changes nothing");

    // Someone else sees neither the video nor its images.
    let (status, _) =
        stack.call("GET", &format!("/v1/videos/{}", first["id"].as_str().unwrap()), Some("bob"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A delete takes the pictures with the video.
    for video in &videos {
        let id = video["id"].as_str().unwrap();
        let (status, _) = stack.call("DELETE", &format!("/v1/videos/{id}"), Some("alice"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(pictures(&stack, video).await, vec![], "{}", video["filename"]);
        assert!(!stack.item(id).await.contains_key("images"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_ffmpeg_cant_decode_keeps_uploaded_says_why_and_still_plays() {
    let mut stack = Stack::start().await;
    stack.publish_lifecycle_events(None).await;
    stack.make_images().await;
    // The header stays (so it is uploaded, with media facts); every coded byte is noise.
    let mut bytes = fixture("h264-aac-faststart.mp4");
    let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap() + 4;
    for (i, b) in bytes[mdat..].iter_mut().enumerate() {
        *b = (i * 131 % 256) as u8;
    }
    let video = stack.upload("alice", "broken.mp4", &bytes).await;
    assert_eq!(video["status"], "uploaded", "{video}");
    let id = video["id"].as_str().unwrap();
    let video = made(&stack, id).await;
    assert_eq!(video["status"], "uploaded");
    let images = &video["images"];
    assert_eq!(images["status"], "failed", "{images}");
    let reason = images["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("ffmpeg can't decode the video: ") && !reason.contains("127.0.0.1"),
        "{reason}"
    );
    assert_eq!((&images["poster"], &images["storyboard"]), (&Value::Null, &Value::Null));
    assert_eq!(pictures(&stack, &video).await, vec![]);
    let (status, playback) =
        stack.call("POST", &format!("/v1/videos/{id}/playback"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::OK, "{playback}");
}
