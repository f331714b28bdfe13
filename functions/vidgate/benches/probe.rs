//! The media probe (`uploads::probe`) on whole files: ranged GETs, bytes fetched and parse time
//! per probe, through the real probe loop over the in-memory object store (so no network time:
//! each GET is one round trip to S3 when deployed).
//!
//! `cargo bench -p vidgate --bench probe -- FILE…` (`infra/bench/probe` makes the files, a 2-hour
//! MP4 included, and runs it). Parse time is the median of 21 probes of each file.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vidgate::domain::sniff;
use vidgate::objects::ObjectStore;
use vidgate::objects::memory::MemoryObjectStore;
use vidgate::store::memory::MemoryVideoStore;
use vidgate::{App, Config};

fn main() {
    let files: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let objects = Arc::new(MemoryObjectStore::new());
    let app = App::new(Config::for_tests(), Arc::new(MemoryVideoStore::new()), objects.clone());
    println!(
        "{:<34} {:>10} {:>6} {:>11} {:>9} {:>10}  media",
        "file", "size", "GETs", "bytes read", "parse ms", "probe ms"
    );
    for path in files {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let size = bytes.len();
        let key = "videos/bench";
        objects.put_object(key, bytes);
        runtime.block_on(async {
            let info = objects.head(key).await.unwrap().unwrap();
            let mut parse = Vec::new();
            let mut total = Vec::new();
            let mut last = None;
            for _ in 0..21 {
                let started = Instant::now();
                let head = objects.get_range(key, None, 0, 188).await.unwrap();
                let container = sniff::container(&head).expect("a video container");
                let probe = vidgate::uploads::probe(&app, key, &info, container, head).await.unwrap();
                total.push(started.elapsed());
                parse.push(probe.parse_time);
                last = Some(probe);
            }
            let probe = last.unwrap();
            let median = |v: &mut Vec<Duration>| {
                v.sort();
                v[v.len() / 2].as_secs_f64() * 1000.0
            };
            let media = match &probe.outcome {
                Ok(m) => format!(
                    "{} ms {}x{} {} faststart={:?}",
                    m.duration_ms.unwrap_or(0),
                    m.width,
                    m.height,
                    m.video_codec,
                    m.faststart
                ),
                Err(reason) => format!("rejected: {reason}"),
            };
            let name = std::path::Path::new(&path).file_name().unwrap().to_string_lossy().into_owned();
            println!(
                "{name:<34} {size:>10} {:>6} {:>11} {:>9.2} {:>10.2}  {media}",
                probe.requests + 1, // the sniff's GET of the first 189 bytes
                probe.bytes,
                median(&mut parse),
                median(&mut total),
            );
        });
    }
}
