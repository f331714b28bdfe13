//! Upload throughput: `vidgate upload` (with its CRC-64/NVME checksums, and with `--no-checksum`)
//! vs raw parallel presigned PUTs of the same parts (the limit: no API calls, no process start,
//! just the bytes) vs `aws s3 cp`, same run, same local S3 (the strict local S3, which verifies
//! every checksum it is sent), same concurrency and part size. Prints a table.
//!
//! `infra/bench/upload [SIZE_MIB] [CONCURRENCY] [PART_MIB] [RUNS]` (1024 8 16 3) runs it in
//! release with awscli from its own venv. Each figure is the median of RUNS; the object is deleted
//! between runs so the local S3's disk use stays flat.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use tokio::sync::Semaphore;
use vidgate_tests::{BUCKET, MIB, Stack, bytes};

const BIN: &str = env!("CARGO_BIN_EXE_vidgate");

fn arg(n: usize, default: usize) -> usize {
    std::env::args().filter(|a| !a.starts_with("--")).nth(n).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Writes `size` bytes that start like an MP4 in 64 MiB slices (never the whole file in memory).
fn make_file(path: &Path, size: usize) {
    let file = std::fs::File::create(path).unwrap();
    let slice = 64 * MIB;
    let mut offset = 0;
    while offset < size {
        let len = slice.min(size - offset);
        let chunk = bytes(len, offset as u64 + 1);
        file.write_all_at(&chunk, offset as u64).unwrap();
        offset += len;
    }
    file.write_all_at(&vidgate::domain::media::synthetic_prefix(), 0).unwrap();
}

async fn delete(stack: &Stack, key: &str) {
    stack.s3.delete_object().bucket(BUCKET).key(key).send().await.unwrap();
}

/// `vidgate upload` as a user runs it: (its part transfer alone, the whole command — process
/// start, create, sign, PUTs, complete).
async fn vidgate(
    stack: &Stack,
    file: &Path,
    concurrency: usize,
    part_mib: usize,
    state: &Path,
    checksums: bool,
) -> (f64, f64) {
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["upload", file.to_str().unwrap(), "--json", "--concurrency", &concurrency.to_string()])
        .args(["--part-size", &format!("{part_mib}M")])
        .args(if checksums { &[][..] } else { &["--no-checksum"][..] })
        .env("VIDGATE_API_URL", &stack.api)
        .env("VIDGATE_TOKEN", stack.token("bench"))
        .env("VIDGATE_STATE_DIR", state)
        .output()
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["video"]["status"], "uploaded");
    assert_eq!(report["checksum"].is_string(), checksums, "{report}");
    delete(stack, report["video"]["key"].as_str().unwrap()).await;
    (report["transferSeconds"].as_f64().unwrap(), seconds)
}

/// The same parts `PUT` to presigned URLs with the same concurrency: (the PUTs alone, create →
/// complete in all).
async fn raw(stack: &Stack, file: &Path, size: usize, concurrency: usize, part_mib: usize) -> (f64, f64) {
    let whole = Instant::now();
    let part = part_mib * MIB;
    let body = json!({"filename": "raw.mp4", "size": size, "partSize": part});
    let (_, created) = stack.call("POST", "/v1/uploads", Some("bench"), Some(&body)).await;
    let id = created["videoId"].as_str().unwrap().to_owned();
    let count = size.div_ceil(part);
    let mut urls = Vec::new();
    for batch in (1..=count).collect::<Vec<_>>().chunks(1000) {
        let (_, signed) = stack
            .call(
                "POST",
                &format!("/v1/uploads/{id}/part-urls"),
                Some("bench"),
                Some(&json!({"partNumbers": batch})),
            )
            .await;
        for u in signed["urls"].as_array().unwrap() {
            urls.push(u["url"].as_str().unwrap().to_owned());
        }
    }
    let file = Arc::new(std::fs::File::open(file).unwrap());
    let gate = Arc::new(Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, url) in urls.into_iter().enumerate() {
        let (file, gate, http) = (file.clone(), gate.clone(), stack.http.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.unwrap();
            let offset = i * part;
            let len = part.min(size - offset);
            let chunk = tokio::task::spawn_blocking(move || {
                let mut buf = vec![0u8; len];
                file.read_exact_at(&mut buf, offset as u64).unwrap();
                buf
            })
            .await
            .unwrap();
            let response = http.put(url).body(chunk).send().await.unwrap();
            assert_eq!(response.status(), 200);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    let (status, done) = stack.call("POST", &format!("/v1/uploads/{id}/complete"), Some("bench"), None).await;
    assert_eq!(status, 200, "{done}");
    let all = whole.elapsed().as_secs_f64();
    delete(stack, done["video"]["key"].as_str().unwrap()).await;
    (seconds, all)
}

/// `aws s3 cp` with the same concurrency and part size.
async fn aws_cli(
    stack: &Stack,
    aws: &Path,
    file: &Path,
    concurrency: usize,
    part_mib: usize,
    dir: &Path,
) -> f64 {
    let config = dir.join("aws-config");
    std::fs::write(
        &config,
        format!(
            "[default]\nregion = us-east-1\ns3 =\n  max_concurrent_requests = {concurrency}\n  multipart_chunksize = {part_mib}MB\n  multipart_threshold = {part_mib}MB\n  addressing_style = path\n"
        ),
    )
    .unwrap();
    let started = Instant::now();
    let out = Command::new(aws)
        .args([
            "--endpoint-url",
            stack.s3_endpoint(),
            "s3",
            "cp",
            file.to_str().unwrap(),
            &format!("s3://{BUCKET}/bench/aws.mp4"),
            "--only-show-errors",
        ])
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "aws s3 cp: {}", String::from_utf8_lossy(&out.stderr));
    delete(stack, "bench/aws.mp4").await;
    seconds
}

#[tokio::main]
async fn main() {
    let size_mib = arg(1, 1024);
    let concurrency = arg(2, 8);
    let part_mib = arg(3, 16);
    let runs = arg(4, 3).max(1);
    let size = size_mib * MIB;
    let stack = Stack::start().await;
    let dir = std::env::temp_dir().join(format!("vidgate-upload-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bench.mp4");
    make_file(&file, size);
    let aws = std::env::var_os("VIDGATE_AWSCLI").map(PathBuf::from);

    let (mut ours, mut ours_puts, mut limit, mut flow, mut cli) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut plain, mut plain_puts) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (puts, all) = raw(&stack, &file, size, concurrency, part_mib).await;
        limit.push(puts);
        flow.push(all);
        let (puts, all) = vidgate(&stack, &file, concurrency, part_mib, &dir.join("state"), true).await;
        ours_puts.push(puts);
        ours.push(all);
        let (puts, all) = vidgate(&stack, &file, concurrency, part_mib, &dir.join("state"), false).await;
        plain_puts.push(puts);
        plain.push(all);
        if let Some(aws) = &aws {
            cli.push(aws_cli(&stack, aws, &file, concurrency, part_mib, &dir).await);
        }
    }
    let mbps = |seconds: f64| size as f64 / 1e6 / seconds;
    let (ours, ours_puts, limit, flow) = (median(ours), median(ours_puts), median(limit), median(flow));
    let (plain, plain_puts) = (median(plain), median(plain_puts));
    println!(
        "upload of {size_mib} MiB to the local S3, {concurrency} parts in flight, {part_mib} MiB parts, median of {runs} runs"
    );
    println!("| what is timed | client | seconds | MB/s | ratio |");
    println!("|---|---|---|---|---|");
    let row = |what: &str, client: &str, seconds: f64, ratio: String| {
        println!("| {what} | {client} | {seconds:.2} | {:.1} | {ratio} |", mbps(seconds));
    };
    row("the part PUTs", "raw parallel presigned PUTs (the limit)", limit, "1.00".into());
    row(
        "the part PUTs",
        "`vidgate upload` (checksums)",
        ours_puts,
        format!("**{:.2}** of the limit", limit / ours_puts),
    );
    row(
        "the part PUTs",
        "`vidgate upload --no-checksum`",
        plain_puts,
        format!("{:.2} of the limit", limit / plain_puts),
    );
    row("create → complete", "raw: the API calls + the PUTs above", flow, "1.00".into());
    row(
        "create → complete",
        "`vidgate upload`, whole command (checksums)",
        ours,
        format!("{:.2} of raw", flow / ours),
    );
    row("create → complete", "`vidgate upload --no-checksum`", plain, format!("{:.2} of raw", flow / plain));
    println!(
        "integrity costs {:+.1} % of the whole command's time ({:+.1} % of the PUTs')",
        (ours / plain - 1.0) * 100.0,
        (ours_puts / plain_puts - 1.0) * 100.0
    );
    if aws.is_some() {
        let cli = median(cli);
        row("create → complete", "`aws s3 cp`", cli, format!("{:.2} of raw", flow / cli));
    } else {
        println!("| create → complete | `aws s3 cp`: set VIDGATE_AWSCLI (infra/bench/upload does) | | | |");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
