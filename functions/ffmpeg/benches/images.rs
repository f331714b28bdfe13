//! make-images on whole files: time to the poster and to the storyboard, bytes read from the
//! object store, and the largest ffmpeg process (max RSS), through the real use case and the real
//! ffmpeg adapter over the in-memory object store (no network: each GET is one S3 round trip
//! when deployed).
//!
//! `cargo bench -p vidgate-ffmpeg --bench images -- FILE` — one file per run, so the peak RSS of
//! ffmpeg (`getrusage(RUSAGE_CHILDREN)`, the largest child waited for) is that file's.
//! `infra/bench/images` makes the files and runs it on each.

use std::sync::Arc;
use std::time::Instant;

use vidgate_domain::images::{Images, ImagesStatus, Poster, Storyboard};
use vidgate_domain::{Owner, Status, UploadRequest};
use vidgate_ffmpeg::{Ffmpeg, FfmpegConfig};
use vidgate_uploads::app::Records;
use vidgate_uploads::objects::memory::MemoryObjectStore;
use vidgate_uploads::store::memory::MemoryVideoStore;
use vidgate_uploads::{App, Config, ImagesRun, Started};

fn children_max_rss_mb() -> f64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss as f64 / 1024.0
}

fn main() {
    let path = std::env::args().skip(1).find(|a| !a.starts_with("--")).expect("a video file");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let size = bytes.len() as u64;
    let objects = Arc::new(MemoryObjectStore::new());
    let frames = Arc::new(Ffmpeg::new(FfmpegConfig::from_env(|_| None).unwrap(), objects.clone()));
    let mut config = Config::for_tests();
    config.max_video_size = 1 << 40;
    config.quota.stored = 1 << 40;
    let app = App::new(config, Arc::new(MemoryVideoStore::new()), objects.clone()).with_frames(frames);
    runtime.block_on(async {
        let name = path.rsplit('/').next().unwrap();
        let request = serde_json::json!({"filename": name, "size": size});
        let upload = serde_json::from_value::<UploadRequest>(request)
            .unwrap()
            .validate(&app.config().size_rules())
            .unwrap();
        let Started { video, .. } = vidgate_uploads::start(&app.app, &Owner::new("bench"), upload).await.unwrap();
        objects.put_part_bytes(video.upload_id.as_deref().unwrap(), 1, bytes).unwrap();
        let video = vidgate_uploads::finish(&app.app, video, None, None).await.unwrap();
        assert_eq!(video.status, Status::Uploaded, "{:?}", video.reject_reason);
        let media = video.media.clone().unwrap();

        // The poster alone: the storyboard marked made.
        let made_storyboard = Storyboard { interval_ms: 1000, tile_width: 2, tile_height: 2, count: 1 };
        let only_poster = Images { storyboard: Some(made_storyboard), ..Images::pending() };
        app.videos().set_images(&video, Some(0), &only_poster, vidgate_domain::time::now()).await.unwrap();
        let (before, _) = objects.served();
        let started = Instant::now();
        let ImagesRun::Done(done) = vidgate_uploads::make_images(&app, &video.id).await.unwrap() else { panic!() };
        let poster_time = started.elapsed();
        let poster_bytes = objects.served().0 - before;
        let poster_rss = children_max_rss_mb();
        let images = done.images.clone().unwrap();
        assert_eq!(images.status, ImagesStatus::Ready, "{:?}", images.reason);
        let poster: Poster = images.poster.unwrap();

        // The storyboard alone: the poster made, the storyboard asked again.
        let only_storyboard = Images { poster: Some(poster), storyboard: None, rev: 1, ..Images::pending() };
        app.videos().set_images(&done, Some(0), &only_storyboard, vidgate_domain::time::now()).await.unwrap();
        let (before, reads_before) = objects.served();
        let started = Instant::now();
        let ImagesRun::Done(done) = vidgate_uploads::make_images(&app, &video.id).await.unwrap() else { panic!() };
        let storyboard_time = started.elapsed();
        let (after, reads_after) = objects.served();
        let storyboard = done.images.unwrap().storyboard.unwrap();
        println!(
            "{name}: {size} bytes, {}x{} {} {:.1} s; poster {}x{} at {} ms in {:.2} s reading {} bytes ({:.3} %); \
             storyboard {} tiles every {} s in {:.2} s reading {} bytes ({:.1} %, {} GETs); ffmpeg max RSS {:.0} MB (poster {:.0} MB)",
            media.width,
            media.height,
            media.video_codec,
            media.duration_ms.unwrap_or(0) as f64 / 1000.0,
            poster.width,
            poster.height,
            poster.time_ms,
            poster_time.as_secs_f64(),
            poster_bytes,
            poster_bytes as f64 * 100.0 / size as f64,
            storyboard.count,
            storyboard.interval_ms / 1000,
            storyboard_time.as_secs_f64(),
            after - before,
            (after - before) as f64 * 100.0 / size as f64,
            reads_after - reads_before,
            children_max_rss_mb(),
            poster_rss,
        );
    });
}
