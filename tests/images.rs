//! Posters and storyboards on the local stack, along the template's path: an upload's
//! `Video Uploaded` event (the table's stream → publish-events → the local bus) → the images rule
//! → its queue → make-images with Debian's ffmpeg. Each fixture (tests/fixtures/media, made by
//! ffmpeg) gets a poster of its displayed shape and a storyboard; an undecodable one says why and
//! still plays; a redelivered request makes nothing twice; a delete takes the pictures. Playback
//! hands out the poster's and the storyboard's URLs (through the local CDN, or the image route),
//! the WebVTT's cues cover the video and point at sprites that load, a chosen moment replaces the
//! poster, and no URL opens another video's pictures or outlives the video.
//! How close each picture is to ffmpeg's own frame is tested in functions/ffmpeg/tests/frames.rs.

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use vidgate_tests::{BUCKET, Outage, Stack};

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

/// A JPEG's width and height, as ffprobe reads it (from its stdin: no file to clean up).
fn jpeg_size(jpeg: &[u8]) -> (u64, u64) {
    use std::io::Write;
    let mut child = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=width,height,codec_name", "-of", "json", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(jpeg).unwrap();
    let out = child.wait_with_output().unwrap();
    let probe: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stream = &probe["streams"][0];
    assert_eq!(stream["codec_name"], "mjpeg");
    (stream["width"].as_u64().unwrap(), stream["height"].as_u64().unwrap())
}

/// `HH:MM:SS.mmm` → milliseconds.
fn cue_time(text: &str) -> u64 {
    let parts: Vec<&str> = text.split([':', '.']).collect();
    let [h, m, s, ms] = parts[..] else { panic!("{text}") };
    let n = |v: &str| v.parse::<u64>().unwrap();
    ((n(h) * 60 + n(m)) * 60 + n(s)) * 1000 + n(ms)
}

/// GET `url` (an absolute URL the API handed out); status, content type and bytes.
async fn fetch(stack: &Stack, url: &str) -> (StatusCode, String, Vec<u8>) {
    let response = stack.http.get(url).send().await.unwrap();
    let status = response.status();
    let kind =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, kind, response.bytes().await.unwrap().to_vec())
}

/// The video's playback reply for its owner.
async fn playback(stack: &Stack, id: &str) -> Value {
    let (status, body) = stack.call("POST", &format!("/v1/videos/{id}/playback"), Some("alice"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Everything a player does with a ready video's pictures: the poster loads and is the stored
/// one; the WebVTT parses, its cues run from 0 to the duration without a gap, and every sprite
/// they name loads with each rectangle inside it. Returns the poster and storyboard URLs.
async fn play_pictures(stack: &Stack, video: &Value) -> (String, String) {
    let id = video["id"].as_str().unwrap();
    let reply = playback(stack, id).await;
    let poster_url = reply["posterUrl"].as_str().unwrap().to_owned();
    let storyboard_url = reply["storyboardUrl"].as_str().unwrap().to_owned();
    let (status, kind, poster) = fetch(stack, &poster_url).await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "image/jpeg"), "{poster_url}");
    let at = video["images"]["poster"]["timeMs"].as_u64().unwrap();
    let stored = pictures(stack, video).await;
    let key = &stored.iter().find(|(k, _)| k.ends_with(&format!("/poster-{at}.jpg"))).unwrap().0;
    assert_eq!(poster, stack.object(key).await, "the poster served is the stored one");

    let (status, kind, vtt) = fetch(stack, &storyboard_url).await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "text/vtt; charset=utf-8"), "{storyboard_url}");
    let vtt = String::from_utf8(vtt).unwrap();
    assert!(vtt.starts_with("WEBVTT\n"), "{vtt}");
    let storyboard = &video["images"]["storyboard"];
    let (tile_w, tile_h) =
        (storyboard["tileWidth"].as_u64().unwrap(), storyboard["tileHeight"].as_u64().unwrap());
    let mut end = 0;
    let mut sprites = std::collections::BTreeMap::new();
    let cues: Vec<&str> = vtt.split("\n\n").skip(1).collect();
    assert_eq!(cues.len() as u64, storyboard["count"].as_u64().unwrap(), "{vtt}");
    for cue in cues {
        let mut lines = cue.lines();
        let (from, to) = lines.next().unwrap().split_once(" --> ").unwrap();
        assert_eq!(cue_time(from), end, "contiguous: {vtt}");
        end = cue_time(to);
        let (url, xywh) = lines.next().unwrap().rsplit_once("#xywh=").unwrap();
        let xywh: Vec<u64> = xywh.split(',').map(|v| v.parse().unwrap()).collect();
        assert_eq!((xywh[2], xywh[3]), (tile_w, tile_h));
        if !sprites.contains_key(url) {
            let (status, kind, jpeg) = fetch(stack, url).await;
            assert_eq!((status, kind.as_str()), (StatusCode::OK, "image/jpeg"), "{url}");
            sprites.insert(url.to_owned(), jpeg_size(&jpeg));
        }
        let (w, h) = sprites[url];
        assert!(xywh[0] + xywh[2] <= w && xywh[1] + xywh[3] <= h, "{cue} inside {w}x{h}");
    }
    assert_eq!(end, video["media"]["durationMs"].as_u64().unwrap(), "the last cue ends at the end");
    (poster_url, storyboard_url)
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
    let mut served = Vec::new();
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
        // Through the local CDN: signed URLs of the poster and the sprites.
        let (poster_url, storyboard_url) = play_pictures(&stack, &video).await;
        assert!(poster_url.contains("/cdn/images/") && poster_url.contains("Signature="), "{poster_url}");
        served.push((poster_url, storyboard_url));
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

    // A delete takes the pictures with the video, and their URLs stop working.
    for (video, (poster_url, storyboard_url)) in videos.iter().zip(&served) {
        let id = video["id"].as_str().unwrap();
        let (status, _) = stack.call("DELETE", &format!("/v1/videos/{id}"), Some("alice"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(pictures(&stack, video).await, vec![], "{}", video["filename"]);
        assert!(!stack.item(id).await.contains_key("images"));
        for url in [poster_url, storyboard_url] {
            let (status, _, _) = fetch(&stack, url).await;
            assert!(status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN, "{url}: {status}");
        }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_cdn_the_image_routes_serve_them_a_chosen_moment_replaces_the_poster_and_nothing_opens_another_video()
 {
    let mut stack = Stack::start_configured(Outage::None, |c| c.cdn = None).await;
    stack.publish_lifecycle_events(None).await;
    stack.make_images().await;
    let first = stack.upload("alice", "clip.mp4", &fixture("h264-aac-faststart.mp4")).await;
    let other = stack.upload("alice", "other.mp4", &fixture("h264-aac-moov-at-end.mp4")).await;
    let (id, other_id) = (first["id"].as_str().unwrap(), other["id"].as_str().unwrap());
    let video = made(&stack, id).await;
    made(&stack, other_id).await;
    let (poster_url, storyboard_url) = play_pictures(&stack, &video).await;
    assert!(poster_url.contains(&format!("/v1/videos/{id}/images/poster-")), "{poster_url}");
    assert!(storyboard_url.contains(&format!("/v1/videos/{id}/storyboard.vtt?token=")), "{storyboard_url}");

    // Hostile URLs: another video's path with this token, the video's own stream token on the
    // pictures, a tampered token, a name that was never made, another owner asking for URLs.
    let token = poster_url.split("token=").nth(1).unwrap();
    let other_path = format!("{}/v1/videos/{other_id}/storyboard.vtt?token={token}", stack.api);
    let stream = playback(&stack, id).await["url"].as_str().unwrap().to_owned();
    let stream_token = stream.split("token=").nth(1).unwrap();
    let as_video = storyboard_url.replace(token, stream_token);
    let tampered = storyboard_url.replace(token, &format!("{}x", &token[..token.len() - 1]));
    for url in [other_path, as_video, tampered] {
        let (status, _, body) = fetch(&stack, &url).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}: {}", String::from_utf8_lossy(&body));
    }
    for name in ["poster-1.jpg", "storyboard-7.jpg", "..%2Fx.jpg", "poster-01.jpg"] {
        let url = format!("{}/v1/videos/{id}/images/{name}?token={token}", stack.api);
        assert_eq!(fetch(&stack, &url).await.0, StatusCode::NOT_FOUND, "{name}");
    }
    let (status, _) = stack.call("POST", &format!("/v1/videos/{id}/playback"), Some("bob"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Another moment: refused past the end, in a wrong shape, or by someone else.
    let path = format!("/v1/videos/{id}/poster");
    for (sub, body, want, code) in [
        ("alice", json!({"timeMs": 2000}), StatusCode::BAD_REQUEST, Some("time_out_of_range")),
        ("alice", json!({"timeMs": -1}), StatusCode::BAD_REQUEST, None),
        ("alice", json!({"at": 5}), StatusCode::BAD_REQUEST, None),
        ("bob", json!({"timeMs": 500}), StatusCode::NOT_FOUND, None),
    ] {
        let (status, reply) = stack.call("POST", &path, Some(sub), Some(&body)).await;
        assert_eq!(status, want, "{body}: {reply}");
        if let Some(code) = code {
            assert_eq!(reply["error"]["code"], code);
        }
    }
    // Accepted: pending (the old poster still shown), then replaced by the frame at that moment.
    let old = video["images"]["poster"]["timeMs"].as_u64().unwrap();
    let (status, reply) = stack.call("POST", &path, Some("alice"), Some(&json!({"timeMs": 1500}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    assert_eq!(reply["images"]["status"], "pending");
    assert_eq!(reply["images"]["poster"]["timeMs"], old);
    let chosen = made(&stack, id).await;
    assert_eq!(chosen["images"]["status"], "ready", "{chosen}");
    assert_eq!(chosen["images"]["poster"]["timeMs"], 1500);
    assert_eq!(chosen["images"]["storyboard"], video["images"]["storyboard"], "the storyboard stays");
    let keys: Vec<String> = pictures(&stack, &chosen).await.into_iter().map(|(k, _)| k).collect();
    assert!(
        keys.iter().any(|k| k.ends_with("/poster-1500.jpg"))
            && !keys.iter().any(|k| k.ends_with(&format!("/poster-{old}.jpg"))),
        "{keys:?}"
    );
    assert_eq!(fetch(&stack, &poster_url).await.0, StatusCode::NOT_FOUND, "the replaced poster's URL");
    play_pictures(&stack, &chosen).await;
}
