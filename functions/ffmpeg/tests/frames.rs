//! The images use case on real ffmpeg: fixtures encoded by ffmpeg (H.264 MP4, HEVC MOV turned
//! 90°, VP8 and VP9 WebM, AV1 MP4, a two-hour moov-at-end MP4), uploaded through the use cases to the in-memory ports, their pictures
//! made, then each poster and tile compared with ffmpeg's own frame at the moment the record
//! names, scaled to the same size.
//!
//! The bound: mean absolute error per channel (0–255) under [`SAME_FRAME`]. Quality-3 JPEG with
//! 4:2:0 chroma measures 1.0–1.3 on these synthetic pictures (sharp coloured edges are JPEG's
//! worst case), so 4 leaves room for another ffmpeg build's scaler; the picture one second later
//! measures 10.7–11.1 against the same poster, so each fixture also checks it is over
//! [`OTHER_FRAME`]: the comparison tells frames apart.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use vidgate_domain::images::ImagesStatus;
use vidgate_domain::{Owner, Status, UploadRequest, Video};
use vidgate_ffmpeg::{Ffmpeg, FfmpegConfig};
use vidgate_uploads::app::{Records, WithFrames};
use vidgate_uploads::objects::memory::MemoryObjectStore;
use vidgate_uploads::store::memory::MemoryVideoStore;
use vidgate_uploads::{App, Config, ImagesRun, Started};

const SAME_FRAME: f64 = 4.0;
const OTHER_FRAME: f64 = 8.0;

fn ffmpeg(args: &[&str]) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn has_encoder(name: &str) -> bool {
    let out = Command::new("ffmpeg").args(["-hide_banner", "-encoders"]).output().expect("ffmpeg runs");
    String::from_utf8_lossy(&out.stdout).split_whitespace().any(|w| w == name)
}

/// A 4-second test picture (moving, so a frame a second away looks different), encoded by `codec`.
fn encode(dir: &Path, name: &str, codec: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let mut args =
        vec!["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-t", "4", "-pix_fmt", "yuv420p"];
    args.extend_from_slice(codec);
    args.push(path.to_str().unwrap());
    ffmpeg(&args);
    path
}

/// RGB of `file` at `at_ms` (exact seek), scaled to `width`×`height` as displayed.
fn reference(file: &Path, at_ms: u64, width: u32, height: u32) -> Vec<u8> {
    let at = format!("{}.{:03}", at_ms / 1000, at_ms % 1000);
    let scale = format!("scale={width}:{height}:flags=bicubic,setsar=1");
    let input = file.to_str().unwrap();
    ffmpeg(&[
        "-ss",
        &at,
        "-i",
        input,
        "-frames:v",
        "1",
        "-vf",
        &scale,
        "-pix_fmt",
        "rgb24",
        "-f",
        "rawvideo",
        "pipe:1",
    ])
}

/// A JPEG's pixels.
fn decode(jpeg: &[u8], dir: &Path) -> Vec<u8> {
    let path = dir.join("decode.jpg");
    std::fs::write(&path, jpeg).unwrap();
    ffmpeg(&["-i", path.to_str().unwrap(), "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1"])
}

fn mae(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| f64::from(x.abs_diff(*y))).sum::<f64>() / a.len() as f64
}

struct Stack {
    app: WithFrames<App>,
    objects: Arc<MemoryObjectStore>,
}

fn stack() -> Stack {
    let objects = Arc::new(MemoryObjectStore::new());
    let frames = Arc::new(Ffmpeg::new(FfmpegConfig::from_env(|_| None).unwrap(), objects.clone()));
    let app =
        App::new(Config::for_tests(), Arc::new(MemoryVideoStore::new()), objects.clone()).with_frames(frames);
    Stack { app, objects }
}

/// `file` uploaded as `filename`, through the use cases: uploaded, its media read, images pending.
async fn upload(stack: &Stack, file: &Path, filename: &str) -> Video {
    let bytes = std::fs::read(file).unwrap();
    let request = serde_json::json!({"filename": filename, "size": bytes.len()});
    let upload = serde_json::from_value::<UploadRequest>(request)
        .unwrap()
        .validate(&stack.app.config().size_rules())
        .unwrap();
    let Started { video, .. } =
        vidgate_uploads::start(&stack.app.app, &Owner::new("alice"), upload).await.unwrap();
    stack.objects.put_part_bytes(video.upload_id.as_deref().unwrap(), 1, bytes).unwrap();
    let video = vidgate_uploads::finish(&stack.app.app, video, None, None).await.unwrap();
    assert_eq!(video.status, Status::Uploaded, "{filename}: {:?}", video.reject_reason);
    video
}

async fn check(stack: &Stack, dir: &Path, file: &Path, filename: &str, displayed: (u32, u32)) {
    let video = upload(stack, file, filename).await;
    let ImagesRun::Done(done) = vidgate_uploads::make_images(&stack.app, &video.id).await.unwrap() else {
        panic!("{filename}: nothing made")
    };
    let images = done.images.clone().unwrap();
    assert_eq!(images.status, ImagesStatus::Ready, "{filename}: {:?}", images.reason);
    let poster = images.poster.unwrap();
    assert_eq!((poster.width, poster.height), displayed, "{filename}: the displayed shape");
    // 10 % of 4 s is 400 ms; keyframes every second: the first at or after it is at 1 s.
    assert_eq!(poster.time_ms, 1000, "{filename}");
    let key = vidgate_domain::keys::poster_key(&video.owner, &video.id, poster.time_ms);
    let jpeg = stack.objects.bytes(&key).unwrap();
    assert_eq!(&jpeg[..3], [0xFF, 0xD8, 0xFF], "{filename}: a JPEG");
    let got = decode(&jpeg, dir);
    let want = reference(file, poster.time_ms, poster.width, poster.height);
    let later = reference(file, poster.time_ms + 1000, poster.width, poster.height);
    let (same, other) = (mae(&got, &want), mae(&got, &later));
    println!("{filename}: poster MAE {same:.2} against its frame, {other:.2} against a second later");
    assert!(same < SAME_FRAME, "{filename}: poster MAE {same}");
    assert!(other > OTHER_FRAME, "{filename}: the frames are told apart ({other})");

    let storyboard = images.storyboard.unwrap();
    assert_eq!((storyboard.interval_ms, storyboard.count), (1000, 4), "{filename}");
    let tile = (storyboard.tile_width, storyboard.tile_height);
    assert_eq!(tile, vidgate_domain::images::fit(displayed, 160), "{filename}");
    let sprite_key = vidgate_domain::keys::sprite_key(&video.owner, &video.id, 0);
    let sprite = decode(&stack.objects.bytes(&sprite_key).unwrap(), dir);
    let sprite_width = 4 * tile.0;
    assert_eq!(sprite.len() as u32, sprite_width * tile.1 * 3, "{filename}: 4 tiles in a row");
    for i in 0..storyboard.count {
        let (_, x, y) = storyboard.place(i);
        let mut cut = Vec::new();
        for row in 0..tile.1 {
            let at = (((y + row) * sprite_width + x) * 3) as usize;
            cut.extend_from_slice(&sprite[at..at + (tile.0 * 3) as usize]);
        }
        let want = reference(file, storyboard.time_ms(i), tile.0, tile.1);
        let error = mae(&cut, &want);
        assert!(error < SAME_FRAME * 2.0, "{filename}: tile {i} MAE {error}");
    }
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vidgate-frames-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posters_and_tiles_are_the_frames_ffmpeg_itself_shows_for_every_codec_a_phone_records() {
    let dir = tempdir();
    let stack = stack();
    let h264 = encode(
        &dir,
        "h264.mp4",
        &["-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-movflags", "+faststart"],
    );
    check(&stack, &dir, &h264, "clip.mp4", (640, 360)).await;

    // An iPhone's portrait video: HEVC in a MOV whose track says "turn 90°".
    let hevc = encode(
        &dir,
        "hevc-flat.mov",
        &[
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
            "keyint=30:log-level=error",
            "-tag:v",
            "hvc1",
        ],
    );
    let rotated = dir.join("hevc.mov");
    ffmpeg(&[
        "-i",
        hevc.to_str().unwrap(),
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=90",
        rotated.to_str().unwrap(),
    ]);
    check(&stack, &dir, &rotated, "IMG_0001.MOV", (360, 640)).await;

    let vp8 = encode(
        &dir,
        "vp8.webm",
        &["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-g", "30", "-b:v", "1M"],
    );
    check(&stack, &dir, &vp8, "vp8.webm", (640, 360)).await;

    let vp9 = encode(
        &dir,
        "vp9.webm",
        &["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "30", "-b:v", "1M"],
    );
    check(&stack, &dir, &vp9, "clip.webm", (640, 360)).await;

    if has_encoder("libsvtav1") {
        let av1 = encode(&dir, "av1.mp4", &["-c:v", "libsvtav1", "-preset", "12", "-g", "30"]);
        check(&stack, &dir, &av1, "av1.mp4", (640, 360)).await;
    } else {
        println!("no AV1 encoder in this ffmpeg: AV1 skipped");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_ffmpeg_cant_decode_stays_uploaded_and_its_images_say_why() {
    let dir = tempdir().join("broken");
    std::fs::create_dir_all(&dir).unwrap();
    let stack = stack();
    let good = encode(
        &dir,
        "good.mp4",
        &["-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-movflags", "+faststart"],
    );
    // The header stays (media facts read as before); every coded byte after it is noise.
    let mut bytes = std::fs::read(&good).unwrap();
    let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap() + 4;
    for (i, b) in bytes[mdat..].iter_mut().enumerate() {
        *b = (i * 131 % 256) as u8;
    }
    let broken = dir.join("broken.mp4");
    std::fs::write(&broken, bytes).unwrap();
    let video = upload(&stack, &broken, "broken.mp4").await;
    let ImagesRun::Done(done) = vidgate_uploads::make_images(&stack.app, &video.id).await.unwrap() else {
        panic!()
    };
    assert_eq!(done.status, Status::Uploaded);
    let images = done.images.unwrap();
    assert_eq!(images.status, ImagesStatus::Failed);
    let reason = images.reason.unwrap();
    assert!(reason.contains("h264") && !reason.contains("127.0.0.1"), "{reason}");
    println!("reason: {reason}");
    let prefix = vidgate_domain::keys::images_prefix(&video.owner, &video.id);
    assert!(stack.objects.keys().iter().all(|k| !k.starts_with(&prefix)));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A two-hour MP4 with its `moov` at the end (160×90 at one a second: cheap to make): the
/// poster costs the `moov` and the keyframes around 10 %, not the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_hour_moov_at_end_file_gets_its_poster_from_a_sliver_of_it() {
    let dir = tempdir().join("long");
    std::fs::create_dir_all(&dir).unwrap();
    let long = dir.join("long.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x90:rate=1",
        "-t",
        "7200",
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "10",
        long.to_str().unwrap(),
    ]);
    let stack = stack();
    let video = upload(&stack, &long, "long.mp4").await;
    assert_eq!(video.media.as_ref().unwrap().faststart, Some(false), "moov at the end");
    // The poster alone: its storyboard marked made (200 tiles are the benchmark's business).
    let storyboard = vidgate_domain::images::Storyboard {
        interval_ms: 36_000,
        tile_width: 160,
        tile_height: 90,
        count: 200,
    };
    let only_poster = vidgate_domain::images::Images {
        storyboard: Some(storyboard),
        ..vidgate_domain::images::Images::pending()
    };
    stack.app.videos().set_images(&video, Some(0), &only_poster, vidgate_domain::time::now()).await.unwrap();
    let (before, _) = stack.objects.served();
    let ImagesRun::Done(done) = vidgate_uploads::make_images(&stack.app, &video.id).await.unwrap() else {
        panic!()
    };
    let read = stack.objects.served().0 - before;
    let poster = done.images.unwrap().poster.unwrap();
    assert_eq!(poster.time_ms, 720_000, "the keyframe at 10 %");
    let size = video.size.unwrap();
    println!(
        "two hours, {size} bytes: the poster read {read} bytes ({:.2} %)",
        read as f64 * 100.0 / size as f64
    );
    assert!(read * 50 <= size, "{read} of {size} bytes: more than 2 %");
    std::fs::remove_dir_all(&dir).unwrap();
}
