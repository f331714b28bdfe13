//! `vidgate upload`: create, sign parts in batches, `PUT` them in parallel straight from disk to
//! S3, complete — and continue the same upload after a crash.
//!
//! Resuming trusts S3, not the local state: the state file (or, without one, the caller's
//! unfinished uploads on the server, matched by a hash of the path in their metadata) says which
//! upload; `ListParts` says which parts S3 holds. Only the others are sent. Each worker holds the
//! part it sends and the next one it prepares, so memory is bounded by 2 × concurrency × part size.
//!
//! Before a new upload is created, the file is read as the server will read it ([`examine`]) and
//! compared with the caller's finished uploads: one of the same size whose CRC-64/NVME is the
//! file's (or whose metadata names this very file) is the same video, and nothing is sent again
//! unless [`UploadOptions::again`] asks for a copy.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::api::{Api, Part, PartUrl, Video};
use crate::checksum;
use crate::examine::{Verdict as Examined, examine};
use crate::progress::Progress;
use crate::retry::{Backoff, Verdict, classify};
use crate::state::{FileIdentity, StateDir, UploadState};
use crate::{CliError, Result, human_bytes};

/// Metadata keys that let a rerun without local state find its upload on the server.
pub const META_PATH: &str = "vidgate-cli-path";
pub const META_FINGERPRINT: &str = "vidgate-cli-file";

/// Streams each part to S3 in chunks of this size, so progress moves while a part is in flight.
const CHUNK: usize = 256 * 1024;

#[derive(Clone, Debug)]
pub struct UploadOptions {
    pub concurrency: usize,
    pub part_size: Option<u64>,
    /// URLs signed per API call (at least `concurrency`).
    pub sign_batch: usize,
    pub backoff: Backoff,
    /// Send each part's CRC-64/NVME (signed into its URL, so S3 refuses bytes that differ) and
    /// complete with the whole file's. On by default; a new upload only (a resumed one keeps
    /// what it was created with).
    pub checksums: bool,
    /// Upload a copy even when the same bytes were uploaded before.
    pub again: bool,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            part_size: None,
            sign_batch: 64,
            backoff: Backoff::default(),
            checksums: true,
            again: false,
        }
    }
}

/// S3's bounds on a part, and the most parts in flight: options outside them are refused before
/// any call.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
pub const MAX_CONCURRENCY: usize = 64;

impl UploadOptions {
    /// Part size and concurrency within bounds; `Ok(Some(note))` when parts in memory exceed
    /// 1 GiB (each worker holds two parts).
    pub fn check(&self) -> Result<Option<String>> {
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(CliError::Refused(format!(
                "--concurrency must be within 1..={MAX_CONCURRENCY}, not {}",
                self.concurrency
            )));
        }
        let Some(part_size) = self.part_size else { return Ok(None) };
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) {
            return Err(CliError::Refused(format!(
                "--part-size must be within 5 MiB..=5 GiB (S3's bounds on a part), not {}",
                human_bytes(part_size)
            )));
        }
        let memory = 2 * self.concurrency as u64 * part_size;
        Ok((memory > 1 << 30).then(|| {
            format!(
                "note: up to {} of memory for parts (2 × {} workers × {} parts); a smaller --part-size \
                 or --concurrency holds less",
                human_bytes(memory),
                self.concurrency,
                human_bytes(part_size)
            )
        }))
    }
}

/// What one run did, for `--json` and the benchmark.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadReport {
    pub video: Value,
    pub resumed: bool,
    pub parts_total: u32,
    pub parts_sent: u32,
    pub parts_skipped: u32,
    pub bytes_sent: u64,
    /// URLs signed again because S3 said they had expired.
    pub resigned: u32,
    /// Part `PUT`s retried after a network error, 5xx or 429.
    pub retries: u32,
    /// From the first part `PUT` to the last one done: the transfer alone.
    pub transfer_seconds: f64,
    pub seconds: f64,
    /// The whole file's CRC-64/NVME (base64), equal to the one S3 recorded.
    pub checksum: Option<String>,
    /// Parts S3 refused because their bytes arrived different from their checksum, re-sent.
    pub resent_after_bad_digest: u32,
    /// The file was uploaded before (`video` is that upload): nothing was sent.
    pub already_uploaded: bool,
}

pub async fn upload(
    api: &Api,
    states: &StateDir,
    path: &Path,
    options: &UploadOptions,
    quiet: bool,
) -> Result<UploadReport> {
    let started = Instant::now();
    let file = FileIdentity::of(path)?;
    let already = |video: Video| UploadReport {
        video: video.raw,
        already_uploaded: true,
        seconds: started.elapsed().as_secs_f64(),
        ..UploadReport::default()
    };
    let (state, resumed, checksummed) = match find_upload(api, states, &file).await? {
        Found::Resume(state, checksummed) => (state, true, checksummed),
        Found::Uploaded(video) => {
            states.remove(api.base(), &file.path)?;
            return Ok(already(video));
        }
        Found::Nothing => {
            let examined = {
                let (path, size) = (file.path.clone(), file.size);
                tokio::task::spawn_blocking(move || examine(&path, size))
                    .await
                    .expect("examining a file does not panic")?
            };
            if let Examined::NotAVideo(reason) = examined {
                return Err(CliError::Refused(format!(
                    "{} is not a video vidgate accepts: {reason}. Nothing was sent.",
                    file.path.display()
                )));
            }
            if !options.again
                && let Some(video) = earlier_upload(api, &file).await?
            {
                return Ok(already(video));
            }
            (create(api, states, &file, options).await?, false, options.checksums)
        }
    };

    let label = file.path.file_name().map_or_else(|| "upload".into(), |n| n.to_string_lossy().into_owned());
    let progress = Arc::new(Progress::new(&label, file.size, quiet));
    if resumed {
        progress.note(&format!("resuming upload {} of {}", state.video_id, file.path.display()));
        if let Some(asked) = options.part_size.filter(|&asked| asked != state.part_size) {
            progress.note(&format!(
                "upload {} keeps its {} parts (--part-size {} applies to a new upload: `vidgate abort {}` \
                 first to start over with it)",
                state.video_id,
                human_bytes(state.part_size),
                human_bytes(asked),
                state.video_id
            ));
        }
    }
    let plan = PartPlan { size: file.size, part_size: state.part_size, count: state.part_count };
    // What S3 already holds, of the right size, is kept (a new upload holds nothing yet).
    let listed = if resumed { api.list_parts(&state.video_id).await? } else { Vec::new() };
    let mut done: BTreeMap<u32, Part> = BTreeMap::new();
    let mut crcs: BTreeMap<u32, u64> = BTreeMap::new();
    let reader = if listed.is_empty() { None } else { Some(Arc::new(open(&file.path)?)) };
    for part in listed {
        if part.part_number > plan.count || part.size != plan.len(part.part_number) {
            continue;
        }
        if checksummed {
            // Kept only if S3 holds exactly this file's bytes for it: its checksum says.
            let bytes =
                read_part(reader.as_ref().expect("parts were listed"), &file.path, plan, part.part_number)
                    .await?;
            let crc = checksum::crc64(&bytes);
            if part.checksum.as_deref() != Some(checksum::encode(crc).as_str()) {
                continue;
            }
            crcs.insert(part.part_number, crc);
        }
        done.insert(part.part_number, part);
    }
    progress.skip(done.values().map(|p| p.size).sum());
    let missing: Vec<u32> = (1..=plan.count).filter(|n| !done.contains_key(n)).collect();
    let parts_skipped = done.len() as u32;

    let shared = Arc::new(Shared {
        queue: Mutex::new(missing.iter().copied().collect()),
        urls: Mutex::new(HashMap::new()),
        etags: Mutex::new(Vec::new()),
        resigned: AtomicU32::new(0),
        retries: AtomicU32::new(0),
        bytes_sent: AtomicU64::new(0),
        failed: Mutex::new(None),
        checksummed,
        bad_digests: AtomicU32::new(0),
    });
    let transfer = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..options.concurrency.clamp(1, 64).min(missing.len().max(1)) {
        let worker = Worker {
            api: api.clone(),
            video_id: state.video_id.clone(),
            shared: shared.clone(),
            progress: progress.clone(),
            path: file.path.clone(),
            plan,
            options: options.clone(),
        };
        workers.push(tokio::spawn(worker.run()));
    }
    for worker in workers {
        worker.await.map_err(|e| CliError::Refused(format!("an upload worker stopped: {e}")))?;
    }
    let transfer_seconds = transfer.elapsed().as_secs_f64();
    if let Some(error) = shared.failed.lock().await.take() {
        progress.finish();
        return Err(error);
    }
    for (part_number, etag, crc) in shared.etags.lock().await.drain(..) {
        let checksum = crc.map(checksum::encode);
        done.insert(part_number, Part { part_number, etag, size: plan.len(part_number), checksum });
        if let Some(crc) = crc {
            crcs.insert(part_number, crc);
        }
    }
    progress.finish();

    // The parts came from this version of the file; completing is irreversible.
    let now = FileIdentity::of(path)?;
    if !state.matches(&now) {
        return Err(changed(&file, &state.video_id));
    }
    let mut parts: Vec<Part> = done.into_values().collect();
    // The whole file's CRC, combined from the parts' in order: S3 assembles only these bytes.
    let whole = checksummed.then(|| {
        (1..=plan.count).fold(None, |acc: Option<u64>, n| {
            let crc = crcs[&n];
            Some(acc.map_or(crc, |acc| checksum::combine(acc, crc, plan.len(n))))
        })
    });
    let whole = whole.flatten().map(checksum::encode);
    if !checksummed {
        parts.iter_mut().for_each(|p| p.checksum = None);
    }
    let video = api.complete(&state.video_id, &parts, whole.as_deref()).await?;
    if let Some(whole) = &whole
        && video.checksum.as_ref().map(|c| &c.value) != Some(whole)
    {
        return Err(CliError::Refused(format!(
            "S3 recorded checksum {:?} for video {}, but the file's CRC-64/NVME is {whole}",
            video.checksum.as_ref().map(|c| &c.value),
            state.video_id
        )));
    }
    states.remove(api.base(), &file.path)?;
    Ok(UploadReport {
        video: video.raw,
        resumed,
        parts_total: plan.count,
        parts_sent: missing.len() as u32,
        parts_skipped,
        bytes_sent: shared.bytes_sent.load(Ordering::Relaxed),
        resigned: shared.resigned.load(Ordering::Relaxed),
        retries: shared.retries.load(Ordering::Relaxed),
        transfer_seconds,
        seconds: started.elapsed().as_secs_f64(),
        checksum: whole,
        resent_after_bad_digest: shared.bad_digests.load(Ordering::Relaxed),
        already_uploaded: false,
    })
}

/// The caller's finished upload of these bytes: the same size, and the same CRC-64/NVME (read
/// only when a video of that size exists) or metadata naming this very file.
async fn earlier_upload(api: &Api, file: &FileIdentity) -> Result<Option<Video>> {
    let same_size: Vec<Video> = api
        .videos(Some("uploaded"), usize::MAX)
        .await?
        .into_iter()
        .filter(|v| v.size == Some(file.size))
        .collect();
    if same_size.is_empty() {
        return Ok(None);
    }
    let fingerprint = file.fingerprint();
    if let Some(video) = same_size.iter().find(|v| v.metadata.get(META_FINGERPRINT) == Some(&fingerprint)) {
        return Ok(Some(video.clone()));
    }
    let path = file.path.clone();
    let crc = tokio::task::spawn_blocking(move || checksum::of_file(&path))
        .await
        .expect("checksumming does not panic")
        .map_err(|source| CliError::Io { path: file.path.clone(), source })?;
    let crc = checksum::encode(crc);
    Ok(same_size.into_iter().find(|v| {
        v.checksum
            .as_ref()
            .is_some_and(|c| c.algorithm == checksum::ALGORITHM && c.kind == "FULL_OBJECT" && c.value == crc)
    }))
}

fn open(path: &Path) -> Result<std::fs::File> {
    std::fs::File::open(path).map_err(|source| CliError::Io { path: path.to_owned(), source })
}

/// Part `n`'s bytes, read at its offset (one part in memory).
async fn read_part(file: &Arc<std::fs::File>, path: &Path, plan: PartPlan, n: u32) -> Result<Bytes> {
    let (file, offset, len) = (file.clone(), plan.offset(n), plan.len(n) as usize);
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, offset).map(|()| Bytes::from(buf))
    })
    .await
    .expect("reading a part does not panic")
    .map_err(|source| CliError::Io { path, source })
}

enum Found {
    /// An upload to continue, and whether it declared CRC-64/NVME checksums.
    Resume(UploadState, bool),
    Uploaded(Video),
    Nothing,
}

fn changed(file: &FileIdentity, video_id: &str) -> CliError {
    CliError::Refused(format!(
        "{} changed since upload {video_id} began (its size or modified time differs), so the parts \
         already in S3 are of other bytes. Run `vidgate abort {video_id}` to drop that upload, then \
         upload again.",
        file.path.display()
    ))
}

/// The unfinished upload of this file: from the state file, or (state lost) from the server.
async fn find_upload(api: &Api, states: &StateDir, file: &FileIdentity) -> Result<Found> {
    let state = match states.load(api.base(), &file.path)? {
        Some(state) => Some(state),
        None => from_server(api, file).await?,
    };
    let Some(state) = state else { return Ok(Found::Nothing) };
    if !state.matches(file) {
        return Err(changed(file, &state.video_id));
    }
    let video = match api.video(&state.video_id).await {
        Ok(video) => video,
        Err(CliError::Api { status: 404, .. }) => {
            states.remove(api.base(), &file.path)?;
            return Ok(Found::Nothing);
        }
        Err(e) => return Err(e),
    };
    match video.status.as_str() {
        "uploading" => {
            states.save(&state)?;
            let checksummed = video.checksum_algorithm.as_deref() == Some(checksum::ALGORITHM);
            Ok(Found::Resume(state, checksummed))
        }
        "uploaded" => Ok(Found::Uploaded(video)),
        // Aborted, expired or rejected: start over.
        _ => {
            states.remove(api.base(), &file.path)?;
            Ok(Found::Nothing)
        }
    }
}

/// The caller's unfinished upload of this path, found by the metadata `create` wrote.
async fn from_server(api: &Api, file: &FileIdentity) -> Result<Option<UploadState>> {
    let path_hash = file.path_hash();
    let uploading = api.videos(Some("uploading"), 1000).await?;
    let Some(video) = uploading.into_iter().find(|v| v.metadata.get(META_PATH) == Some(&path_hash)) else {
        return Ok(None);
    };
    if video.metadata.get(META_FINGERPRINT) != Some(&file.fingerprint()) {
        return Err(changed(file, &video.id));
    }
    let (Some(size), Some(part_count)) = (video.size, video.part_count) else { return Ok(None) };
    Ok(Some(UploadState {
        api: api.base().to_owned(),
        path: file.path.clone(),
        size,
        mtime_ns: file.mtime_ns,
        video_id: video.id,
        part_size: video.part_size,
        part_count,
    }))
}

async fn create(
    api: &Api,
    states: &StateDir,
    file: &FileIdentity,
    options: &UploadOptions,
) -> Result<UploadState> {
    let filename = file.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut request = json!({
        "filename": filename,
        "size": file.size,
        "metadata": {META_PATH: file.path_hash(), META_FINGERPRINT: file.fingerprint()},
    });
    if let Some(part_size) = options.part_size {
        request["partSize"] = json!(part_size);
    }
    if options.checksums {
        request["checksumAlgorithm"] = json!(checksum::ALGORITHM);
    }
    let created = api.create_upload(&request).await?;
    let state = UploadState {
        api: api.base().to_owned(),
        path: file.path.clone(),
        size: file.size,
        mtime_ns: file.mtime_ns,
        video_id: created.video_id,
        part_size: created.part_size,
        part_count: created.part_count.unwrap_or(1),
    };
    // Saved before any byte is sent: a kill from here on resumes this upload.
    states.save(&state)?;
    Ok(state)
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct PartPlan {
    size: u64,
    part_size: u64,
    count: u32,
}

impl PartPlan {
    fn offset(&self, n: u32) -> u64 {
        u64::from(n - 1) * self.part_size
    }

    fn len(&self, n: u32) -> u64 {
        self.part_size.min(self.size - self.offset(n))
    }
}

struct Shared {
    queue: Mutex<VecDeque<u32>>,
    urls: Mutex<HashMap<u32, String>>,
    /// Each part sent: its number, ETag and CRC (when checksummed).
    etags: Mutex<Vec<(u32, String, Option<u64>)>>,
    resigned: AtomicU32,
    retries: AtomicU32,
    bytes_sent: AtomicU64,
    failed: Mutex<Option<CliError>>,
    /// Parts carry their CRC-64/NVME.
    checksummed: bool,
    bad_digests: AtomicU32,
}

struct Prepared {
    n: u32,
    bytes: Bytes,
    crc: Option<u64>,
    url: PartUrl,
}

struct Worker {
    api: Api,
    video_id: String,
    shared: Arc<Shared>,
    progress: Arc<Progress>,
    path: std::path::PathBuf,
    plan: PartPlan,
    options: UploadOptions,
}

impl Worker {
    async fn run(self) {
        let file = match std::fs::File::open(&self.path) {
            Ok(f) => Arc::new(f),
            Err(source) => return self.fail(CliError::Io { path: self.path.clone(), source }).await,
        };
        // The next part is read, checksummed and signed while this one is in flight, so the
        // sign call a checksummed part needs costs no transfer time (two parts in memory).
        let mut next: Option<Result<Prepared>> = None;
        loop {
            if self.shared.failed.lock().await.is_some() {
                return;
            }
            let current = match next.take() {
                Some(prepared) => prepared,
                None => {
                    let Some(n) = self.shared.queue.lock().await.pop_front() else { return };
                    self.prepare(&file, n).await
                }
            };
            let current = match current {
                Ok(current) => current,
                Err(e) => return self.fail(e).await,
            };
            let n = current.n;
            let following = self.shared.queue.lock().await.pop_front();
            let (sent, prepared) = tokio::join!(self.send_part(&file, current), async {
                match following {
                    Some(m) => Some(self.prepare(&file, m).await),
                    None => None,
                }
            });
            match sent {
                Ok((etag, crc)) => self.shared.etags.lock().await.push((n, etag, crc)),
                Err(e) => return self.fail(e).await,
            }
            next = prepared;
        }
    }

    /// Part `n` ready to go: its bytes, their CRC (checksummed uploads) and a URL.
    async fn prepare(&self, file: &Arc<std::fs::File>, n: u32) -> Result<Prepared> {
        let bytes = read_part(file, &self.path, self.plan, n).await?;
        // One pass: the CRC of the bytes in memory, the very ones sent.
        let crc = self.shared.checksummed.then(|| checksum::crc64(&bytes));
        let url = self.url(n, crc).await?;
        Ok(Prepared { n, bytes, crc, url })
    }

    async fn fail(&self, error: CliError) {
        let mut failed = self.shared.failed.lock().await;
        failed.get_or_insert(error);
    }

    /// A URL for part `n`. With its CRC, signed for it alone (the URL signs the checksum, known
    /// once the part is read); without, signed with the next parts in the queue when it has none.
    async fn url(&self, n: u32, crc: Option<u64>) -> Result<PartUrl> {
        if let Some(crc) = crc {
            let signed = self.api.sign_parts(&self.video_id, &[n], Some(&[checksum::encode(crc)])).await?;
            return signed
                .into_iter()
                .find(|p| p.part_number == n)
                .ok_or_else(|| CliError::Refused(format!("the API signed no URL for part {n}")));
        }
        let mut urls = self.shared.urls.lock().await;
        if let Some(url) = urls.remove(&n) {
            return Ok(PartUrl { part_number: n, url: Some(url), headers: BTreeMap::new(), etag: None });
        }
        let batch = self.options.sign_batch.max(self.options.concurrency).clamp(1, 1000);
        let mut numbers = vec![n];
        numbers.extend(
            self.shared.queue.lock().await.iter().filter(|m| !urls.contains_key(m)).take(batch - 1).copied(),
        );
        let signed = self.api.sign_parts(&self.video_id, &numbers, None).await?;
        let mut mine = None;
        for part in signed {
            if part.part_number == n {
                mine = Some(part);
            } else if let Some(url) = part.url {
                // A part that arrived already is signed again when its turn comes, and answered
                // as arrived then.
                urls.insert(part.part_number, url);
            }
        }
        mine.ok_or_else(|| CliError::Refused(format!("the API signed no URL for part {n}")))
    }

    /// Sends part `n`; returns its ETag and (checksummed) its CRC. A part S3 refuses because its
    /// bytes arrived different from their checksum (`BadDigest`: corrupted on the way) is read
    /// again and re-sent once; a second refusal fails the upload, naming the part.
    async fn send_part(&self, file: &Arc<std::fs::File>, part: Prepared) -> Result<(String, Option<u64>)> {
        let Prepared { n, mut bytes, crc, url } = part;
        let mut first = Some(url);
        let (mut retry, mut resigns, mut bad_digests) = (0u32, 0u32, 0u32);
        loop {
            let url = match first.take() {
                Some(url) => url,
                None => self.url(n, crc).await?,
            };
            // S3 holds this part already (a PUT whose answer was lost): it is not sent again.
            if let (None, Some(etag)) = (&url.url, &url.etag) {
                return Ok((etag.clone(), crc));
            }
            let sent = Arc::new(AtomicU64::new(0));
            let outcome = self.put(&url, bytes.clone(), sent.clone()).await;
            if let Ok((400, _, body)) = &outcome
                && body.contains("<Code>BadDigest</Code>")
            {
                self.progress.sub(sent.load(Ordering::Relaxed));
                if bad_digests > 0 {
                    return Err(CliError::S3 {
                        part: n,
                        status: 400,
                        detail: "BadDigest twice: its bytes reached S3 different from their CRC-64/NVME \
                                 (corrupted on the way, or a disk or memory fault here); nothing of it was stored"
                            .into(),
                    });
                }
                bad_digests += 1;
                self.shared.bad_digests.fetch_add(1, Ordering::Relaxed);
                self.progress.note(&format!(
                    "part {n}: S3 found its bytes corrupted on the way; reading and sending it again"
                ));
                bytes = read_part(file, &self.path, self.plan, n).await?;
                if crc != Some(checksum::crc64(&bytes)) {
                    return Err(CliError::Refused(format!(
                        "{} changed while part {n} was being uploaded; upload it again once it is final",
                        self.path.display()
                    )));
                }
                continue;
            }
            let (verdict, status, detail) = match outcome {
                Ok((status, etag, body)) => match (classify(status, &body), etag) {
                    (Verdict::Done, Some(etag)) => {
                        self.shared.bytes_sent.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                        return Ok((etag, crc));
                    }
                    (Verdict::Done, None) => {
                        (Verdict::Fail, status, "no ETag header (is the bucket's CORS exposing it?)".into())
                    }
                    (verdict, _) => (verdict, status, s3_message(&body)),
                },
                Err(e) => (Verdict::Retry, 0, format!("network: {e}")),
            };
            self.progress.sub(sent.load(Ordering::Relaxed));
            match verdict {
                Verdict::Resign if resigns < 5 => {
                    resigns += 1;
                    self.shared.resigned.fetch_add(1, Ordering::Relaxed);
                    self.progress.note(&format!("part {n}: the URL expired; signing a new one"));
                }
                Verdict::Retry if retry + 1 < self.options.backoff.attempts => {
                    self.shared.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(self.options.backoff.delay(retry)).await;
                    retry += 1;
                }
                Verdict::Retry | Verdict::Resign => {
                    let last = format!("part {n}: HTTP {status} {detail}");
                    return Err(CliError::Exhausted { attempts: retry + 1 + resigns, last });
                }
                Verdict::Fail | Verdict::Done => return Err(CliError::S3 { part: n, status, detail }),
            }
        }
    }

    /// One `PUT` of the part, streamed in chunks that move the progress as they go out.
    async fn put(
        &self,
        url: &PartUrl,
        bytes: Bytes,
        sent: Arc<AtomicU64>,
    ) -> reqwest::Result<(u16, Option<String>, String)> {
        let len = bytes.len();
        let progress = self.progress.clone();
        let chunks = (0..len.div_ceil(CHUNK).max(1)).map(move |i| {
            let chunk = bytes.slice(i * CHUNK..((i + 1) * CHUNK).min(len));
            progress.add(chunk.len() as u64);
            sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            Ok::<Bytes, std::io::Error>(chunk)
        });
        let mut request = self.api.http().put(url.url.as_deref().unwrap_or_default());
        // The signed headers (the part's checksum) go as given.
        for (name, value) in &url.headers {
            request = request.header(name, value);
        }
        let response = request
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            .timeout(Duration::from_secs(300))
            .send()
            .await?;
        let status = response.status().as_u16();
        let etag =
            response.headers().get(reqwest::header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = response.text().await.unwrap_or_default();
        Ok((status, etag, body))
    }
}

/// S3's `<Code>` and `<Message>`, for error messages.
fn s3_message(body: &str) -> String {
    let tag = |name: &str| {
        let start = body.find(&format!("<{name}>"))? + name.len() + 2;
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].to_owned())
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        _ => body.chars().take(200).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_file_exactly() {
        let plan = PartPlan { size: 23, part_size: 5, count: 5 };
        let lens: Vec<u64> = (1..=5).map(|n| plan.len(n)).collect();
        assert_eq!(lens, [5, 5, 5, 5, 3]);
        assert_eq!(plan.offset(5), 20);
    }

    #[test]
    fn s3_errors_read_well() {
        let body = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>";
        assert_eq!(s3_message(body), "AccessDenied: Request has expired");
        assert_eq!(s3_message("plain"), "plain");
    }
}
