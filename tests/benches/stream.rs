//! Ranged reads through the stream route and through the local CDN (a CloudFront signed URL, the
//! default playback path) vs. the same ranges straight from the local S3.
//!
//! `cargo bench -p vidgate-tests --bench stream [-- MIB [RANGES]]` (default: a 1024 MiB object,
//! 48 ranges). Uploads the object through the API, then reads `RANGES` range-cap-sized ranges
//! spread evenly from its first to its last byte, alternating the two paths range by range so both
//! see the same machine load. Prints throughput, mean time to first byte, their ratios, and the
//! process's peak RSS while streaming (gateway, handler and client share this process, so it is an
//! upper bound for the function).
//!
//! Sampled ranges rather than all 256 keep the run short; the local S3 reads a range from its
//! file at disk speed (moto, which the stack used before, copied the whole object per range).

use std::time::{Duration, Instant};

use reqwest::header::RANGE;
use vidgate_tests::{BUCKET, MIB, Outage, Stack};

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let numbers: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let mib = numbers.first().copied().unwrap_or(1024);
    let ranges = numbers.get(1).copied().unwrap_or(48).max(2);
    let size = mib * MIB;
    let stack = Stack::start_configured(Outage::None, |_| {}).await;
    let cap = vidgate_local::config::for_local(BUCKET, "x").range_cap as usize;

    // Upload in 64 MiB parts generated on the fly, so the source never sits in memory whole.
    let part = 64 * MIB;
    let (status, created) = stack
        .call(
            "POST",
            "/v1/uploads",
            Some("bench"),
            Some(&serde_json::json!({"filename": "big.mp4", "size": size, "partSize": part})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["videoId"].as_str().unwrap().to_owned();
    let count = size.div_ceil(part);
    let numbers: Vec<usize> = (1..=count).collect();
    let (_, signed) = stack
        .call(
            "POST",
            &format!("/v1/uploads/{id}/part-urls"),
            Some("bench"),
            Some(&serde_json::json!({"partNumbers": numbers})),
        )
        .await;
    let started = Instant::now();
    for (i, url) in signed["urls"].as_array().unwrap().iter().enumerate() {
        let len = part.min(size - i * part);
        let mut chunk: Vec<u8> = (0..len).map(|j| ((i * part + j) % 251) as u8).collect();
        if i == 0 {
            // A real MP4 header first, or the upload would be rejected as not a video.
            let header = vidgate::domain::media::synthetic_prefix();
            chunk[..header.len()].copy_from_slice(&header);
        }
        stack.put_part(url["url"].as_str().unwrap(), chunk).await;
    }
    let (status, _) = stack.call("POST", &format!("/v1/uploads/{id}/complete"), Some("bench"), None).await;
    assert_eq!(status, 200);
    eprintln!("uploaded {mib} MiB in {:.1} s", started.elapsed().as_secs_f64());

    let (_, playback) = stack.call("POST", &format!("/v1/videos/{id}/playback"), Some("bench"), None).await;
    let cdn_url = playback["url"].as_str().unwrap().to_owned();
    assert!(cdn_url.contains("/cdn/"), "playback goes through the local CDN: {cdn_url}");
    // The stream route's URL, as create-playback gives it with the CDN off.
    let secret = stack.app().config.playback_secret.clone().unwrap();
    let video_id: vidgate::domain::VideoId = id.parse().unwrap();
    let expires = vidgate::domain::time::now() + chrono::Duration::hours(1);
    let token = vidgate::domain::playback::issue(secret.as_bytes(), &video_id, expires);
    let route_url = format!("{}/v1/videos/{id}/stream?token={token}", stack.api);
    let key = created["key"].as_str().unwrap();
    // Straight from S3: one presigned GET (the `Range` header is not signed, so one URL serves
    // every range), as a client holding a signed URL would read.
    let direct_url = stack
        .s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .presigned(aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(3600)).unwrap())
        .await
        .unwrap()
        .uri()
        .to_owned();

    // Forget the upload phase's peak: measure streaming alone.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = peak_rss_kib();

    let mut totals = [(Duration::ZERO, Duration::ZERO, 0usize); 3];
    let last_start = size.saturating_sub(cap);
    for i in 0..ranges {
        let start = last_start * i / (ranges - 1);
        let end = (start + cap).min(size) - 1;
        for (path, url) in [route_url.as_str(), cdn_url.as_str(), direct_url.as_str()].into_iter().enumerate()
        {
            let t0 = Instant::now();
            let response =
                stack.http.get(url).header(RANGE, format!("bytes={start}-{end}")).send().await.unwrap();
            let ttfb = t0.elapsed();
            assert_eq!(response.status(), 206);
            let body = response.bytes().await.unwrap();
            assert_eq!(body.len(), end - start + 1);
            assert_eq!(body[body.len() - 1], (end % 251) as u8);
            totals[path].0 += t0.elapsed();
            totals[path].1 += ttfb;
            totals[path].2 += 1;
        }
    }
    let peak = peak_rss_kib();

    let row = |name: &str, (total, ttfb, n): (Duration, Duration, usize)| {
        // The bytes these ranges carried (before, this divided the whole object's size by the
        // time of the sampled ranges, overstating the rate by size / (ranges × cap)).
        let rate = (n * cap) as f64 / 1e6 / total.as_secs_f64();
        let ttfb_ms = ttfb.as_secs_f64() * 1000.0 / n as f64;
        println!("{name:<24} {rate:>9.1} MB/s   TTFB {ttfb_ms:>7.2} ms   ({n} ranges of {} KiB)", cap / 1024);
        (rate, ttfb_ms)
    };
    println!("object: {mib} MiB, range cap {} KiB", cap / 1024);
    let (route_rate, route_ttfb) = row("stream route", totals[0]);
    let (cdn_rate, _) = row("local CDN (signed URL)", totals[1]);
    let (s3_rate, s3_ttfb) = row("local S3 directly", totals[2]);
    println!("throughput ratio (route / S3): {:.2} (target >= 0.9)", route_rate / s3_rate);
    println!("throughput ratio (CDN / S3):   {:.2}", cdn_rate / s3_rate);
    println!("TTFB ratio (S3 / route):       {:.2}", s3_ttfb / route_ttfb);
    println!(
        "peak RSS while streaming: {:.1} MiB (at start of streaming: {:.1} MiB)",
        peak as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );
}
