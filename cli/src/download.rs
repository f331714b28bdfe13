//! `vidgate download`: parallel ranged reads of the playback URL (the CDN, or the stream route) into a file.
//!
//! The stream route caps each reply (4 MiB by default), so the file is read in chunks no bigger
//! than the cap, several at once, each written at its offset. A short 206 (a smaller cap) is
//! continued from where it stopped. The bytes go to `FILE.vidgate-part` and are renamed once
//! their count equals the video's size.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::Mutex;

use crate::api::{Api, Video};
use crate::checksum;
use crate::progress::Progress;
use crate::retry::{Backoff, Verdict, classify};
use crate::{CliError, Result};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadReport {
    pub video_id: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub seconds: f64,
    /// The recorded checksum the file was verified against (none when S3 recorded none this
    /// command can check).
    pub checksum: Option<String>,
}

pub struct DownloadOptions {
    pub concurrency: usize,
    pub chunk: u64,
    pub backoff: Backoff,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self { concurrency: 8, chunk: 4 * 1024 * 1024, backoff: Backoff::default() }
    }
}

pub async fn download(
    api: &Api,
    id: &str,
    out: &Path,
    options: &DownloadOptions,
    quiet: bool,
) -> Result<DownloadReport> {
    let started = Instant::now();
    let video = api.video(id).await?;
    if video.status != "uploaded" {
        return Err(CliError::Refused(format!(
            "video {id} is {}, not uploaded: nothing to download",
            video.status
        )));
    }
    let size = video.size.unwrap_or(0);
    let url = api.playback(id).await?;
    let part_path = PathBuf::from(format!("{}.vidgate-part", out.display()));
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| CliError::Io { path, source }
    };
    let file = std::fs::File::create(&part_path).map_err(io(&part_path))?;
    file.set_len(size).map_err(io(&part_path))?;
    let file = Arc::new(file);

    let progress = Arc::new(Progress::new(&video.filename, size, quiet));
    let chunk = options.chunk.max(1);
    let next = Arc::new(Mutex::new(0u64));
    let written = Arc::new(AtomicU64::new(0));
    let failed: Arc<Mutex<Option<CliError>>> = Arc::new(Mutex::new(None));
    let mut workers = Vec::new();
    for _ in 0..options.concurrency.clamp(1, 64) {
        let (http, url, file, next, written, failed, progress) = (
            api.http().clone(),
            url.clone(),
            file.clone(),
            next.clone(),
            written.clone(),
            failed.clone(),
            progress.clone(),
        );
        let (backoff, part_path) = (options.backoff, part_path.clone());
        workers.push(tokio::spawn(async move {
            loop {
                if failed.lock().await.is_some() {
                    return;
                }
                let start = {
                    let mut next = next.lock().await;
                    if *next >= size {
                        return;
                    }
                    let start = *next;
                    *next = (start + chunk).min(size);
                    start
                };
                let end = (start + chunk).min(size) - 1;
                let fetched =
                    fetch_range(&http, &url, &file, &part_path, start, end, &backoff, &progress).await;
                match fetched {
                    Ok(n) => {
                        written.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(e) => {
                        failed.lock().await.get_or_insert(e);
                        return;
                    }
                }
            }
        }));
    }
    for worker in workers {
        worker.await.map_err(|e| CliError::Refused(format!("a download worker stopped: {e}")))?;
    }
    progress.finish();
    if let Some(error) = failed.lock().await.take() {
        let _ = std::fs::remove_file(&part_path);
        return Err(error);
    }
    let got = written.load(Ordering::Relaxed);
    let on_disk = std::fs::metadata(&part_path).map_err(io(&part_path))?.len();
    if got != size || on_disk != size {
        let _ = std::fs::remove_file(&part_path);
        return Err(CliError::Refused(format!(
            "download of {id} got {got} bytes of {size}; nothing was kept"
        )));
    }
    file.sync_all().map_err(io(&part_path))?;
    // The bytes on disk, not just their count, must be the video's.
    let checksum = match check_file(&video, &part_path).await {
        Ok(checksum) => checksum,
        Err(e) => {
            let _ = std::fs::remove_file(&part_path);
            return Err(e);
        }
    };
    std::fs::rename(&part_path, out).map_err(io(out))?;
    Ok(DownloadReport {
        video_id: id.to_owned(),
        path: out.to_owned(),
        bytes: size,
        seconds: started.elapsed().as_secs_f64(),
        checksum,
    })
}

/// Checks that `path` holds video `id`'s bytes: its CRC-64/NVME against the recorded checksum.
/// Returns the checksum, or refuses naming both values.
pub async fn verify(api: &Api, id: &str, path: &Path) -> Result<String> {
    let video = api.video(id).await?;
    check_file(&video, path).await?.ok_or_else(|| nothing_to_check(&video))
}

/// Why a file can't be verified against `video`, in words (never a Rust `None`).
fn nothing_to_check(video: &Video) -> CliError {
    let recorded = match &video.checksum {
        Some(c) => format!("only a {} {} checksum is recorded", c.kind, c.algorithm),
        None => "it was uploaded without checksums".into(),
    };
    let id = &video.id;
    CliError::Refused(format!(
        "video {id} has no recorded CRC-64/NVME of the whole file to check against ({recorded}); \
         `vidgate download {id}` and a byte-by-byte comparison are the way to check this copy"
    ))
}

/// `Some(checksum)` when the file matches the recorded whole-object CRC-64/NVME, `None` when
/// none is recorded; a mismatch is an error.
async fn check_file(video: &Video, path: &Path) -> Result<Option<String>> {
    let Some(recorded) =
        video.checksum.as_ref().filter(|c| c.algorithm == checksum::ALGORITHM && c.kind == "FULL_OBJECT")
    else {
        return Ok(None);
    };
    let owned = path.to_owned();
    let crc = tokio::task::spawn_blocking(move || checksum::of_file(&owned))
        .await
        .expect("checksumming does not panic")
        .map_err(|source| CliError::Refused(format!("{}: {source}", path.display())))?;
    let local = checksum::encode(crc);
    if local != recorded.value {
        return Err(CliError::Refused(format!(
            "{} is not video {}: its CRC-64/NVME is {local}, the recorded one {}",
            path.display(),
            video.id,
            recorded.value
        )));
    }
    Ok(Some(local))
}

/// Bytes `start..=end` into the file at their offset, continuing short replies; returns how many.
#[allow(clippy::too_many_arguments)]
async fn fetch_range(
    http: &reqwest::Client,
    url: &str,
    file: &Arc<std::fs::File>,
    path: &Path,
    start: u64,
    end: u64,
    backoff: &Backoff,
    progress: &Progress,
) -> Result<u64> {
    let mut at = start;
    let mut retry = 0;
    while at <= end {
        let response = http.get(url).header(reqwest::header::RANGE, format!("bytes={at}-{end}")).send().await;
        let (status, body) = match response {
            Ok(r) => {
                let status = r.status().as_u16();
                match r.bytes().await {
                    Ok(body) => (status, body),
                    Err(e) => (0, bytes::Bytes::from(e.to_string())),
                }
            }
            Err(e) => (0, bytes::Bytes::from(e.to_string())),
        };
        let verdict =
            if status == 0 { Verdict::Retry } else { classify(status, &String::from_utf8_lossy(&body)) };
        match verdict {
            Verdict::Done if status == 206 && !body.is_empty() && body.len() as u64 <= end - at + 1 => {
                let (file, chunk, offset) = (file.clone(), body.clone(), at);
                tokio::task::spawn_blocking(move || file.write_all_at(&chunk, offset))
                    .await
                    .expect("writing does not panic")
                    .map_err(|source| CliError::Io { path: path.to_owned(), source })?;
                at += body.len() as u64;
                progress.add(body.len() as u64);
                retry = 0;
            }
            Verdict::Done => {
                return Err(CliError::Refused(format!(
                    "the playback URL answered HTTP {status} with {} bytes to a range request for {at}-{end}",
                    body.len()
                )));
            }
            Verdict::Retry if retry + 1 < backoff.attempts => {
                tokio::time::sleep(backoff.delay(retry)).await;
                retry += 1;
            }
            _ => {
                return Err(CliError::Exhausted {
                    attempts: retry + 1,
                    last: format!(
                        "bytes {at}-{end}: HTTP {status} {}",
                        String::from_utf8_lossy(&body).chars().take(200).collect::<String>()
                    ),
                });
            }
        }
    }
    Ok(end - start + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_video_without_a_whole_file_crc_is_explained_in_words() {
        let video = |checksum: serde_json::Value| {
            let raw = serde_json::json!({"id": "v1", "status": "uploaded", "filename": "a.mp4", "size": 3,
                "partSize": 5, "createdAt": "2026-12-06T00:00:00.000Z", "checksum": checksum});
            let mut video: Video = serde_json::from_value(raw.clone()).unwrap();
            video.raw = raw;
            video
        };
        let none = nothing_to_check(&video(serde_json::Value::Null)).to_string();
        assert!(none.contains("(it was uploaded without checksums)") && !none.contains("None"), "{none}");
        let composite = nothing_to_check(&video(serde_json::json!(
            {"algorithm": "crc32", "type": "COMPOSITE", "value": "AAAAAA=="})))
        .to_string();
        assert!(composite.contains("only a COMPOSITE crc32 checksum is recorded"), "{composite}");
    }
}
