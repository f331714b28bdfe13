//! Signing part URLs through the sign-parts handler in-process: the real S3 presigner (SigV4, no
//! network) behind the real handler, with the record in the in-memory store.
//!
//! `cargo bench -p vidgate --bench sign_parts` — time per call for 1 and 1000 parts; criterion's
//! throughput line gives URLs per second (µs per URL = 1e6 / that). Then one part URL presigned
//! with and without its `Content-Length` signed.

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use vidgate::aws::s3::S3ObjectStore;
use vidgate::domain::{Video, fixtures};
use vidgate::http::event::Event;
use vidgate::http::{HttpFunction, Router};
use vidgate::objects::PartUpload;
use vidgate::store::VideoStore;
use vidgate::store::memory::MemoryVideoStore;
use vidgate::{App, Config};

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "bench",
        )))
        .build();
    let videos = Arc::new(MemoryVideoStore::new());
    let app = App::new(
        Config { bucket: "vidgate-bench".into(), ..Config::for_tests() },
        videos.clone(),
        Arc::new(S3ObjectStore::new(&sdk, "vidgate-bench", false)),
    );
    let video = Video {
        filename: "bench.mp4".into(),
        size: None,
        key: "videos/0123456789abcdef0123456789abcdef/bench.mp4".into(),
        upload_id: Some("VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA".into()),
        part_size: 8 * 1024 * 1024,
        part_count: None,
        ..fixtures::video("alice")
    };
    runtime.block_on(videos.insert(&video)).unwrap();

    let path = format!("/v1/uploads/{}/part-urls", video.id);
    let (route, params) = Router::default().find("POST", &path).unwrap();
    let claims = json!({"sub": "alice"}).as_object().unwrap().clone();

    let mut group = c.benchmark_group("sign_parts");
    for parts in [1u32, 1000] {
        // An upload of unknown size states each part's length, and each URL signs it.
        let body = json!({
            "partNumbers": (1..=parts).collect::<Vec<_>>(),
            "partSizes": vec![8 * 1024 * 1024; parts as usize],
        })
        .to_string();
        let event = Event {
            route: &route,
            path: &path,
            raw_query: "",
            headers: &[],
            path_params: &params,
            claims: Some(&claims),
            body: body.as_bytes(),
            request_id: "bench",
            source_ip: "127.0.0.1",
        };
        group.throughput(Throughput::Elements(u64::from(parts)));
        group.bench_with_input(BenchmarkId::new("urls", parts), &parts, |b, _| {
            b.iter(|| {
                let request = event.to_request().unwrap();
                let response = runtime
                    .block_on(vidgate::handlers::handle(&app, HttpFunction::SignParts, request))
                    .unwrap();
                assert_eq!(response.status(), 200);
                response
            })
        });
    }
    group.finish();

    // One URL with its length signed (the hand presigner) or without (the SDK's presigner, what
    // Companion's unsized part URLs use), interleaved in one run.
    let s3 = S3ObjectStore::new(&sdk, "vidgate-bench", false);
    let upload_id = video.upload_id.clone().unwrap();
    let ttl = std::time::Duration::from_secs(3600);
    let mut group = c.benchmark_group("presign_part");
    for (name, length) in [("unsigned_length", None), ("signed_length", Some(8 * 1024 * 1024))] {
        group.bench_function(name, |b| {
            b.iter(|| {
                use vidgate::objects::ObjectStore as _;
                let part = PartUpload {
                    key: &video.key,
                    upload_id: &upload_id,
                    part_number: 7,
                    content_length: length,
                    checksum: None,
                };
                runtime.block_on(s3.presign_part(part, ttl)).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
