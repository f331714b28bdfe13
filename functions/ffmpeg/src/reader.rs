//! A loopback HTTP server that gives ffmpeg one stored object, answering its `Range` requests
//! (RFC 9110, as the stream route does) with bounded ranged GETs of S3.
//!
//! Why not hand ffmpeg a presigned URL: its HTTP reader asks for open-ended ranges (`bytes=N-`)
//! and S3 then sends until ffmpeg hangs up, megabytes past what it needed after every seek. Here
//! each read becomes GETs of 64 KiB blocks (a run of them read ahead, doubling up to 1 MiB, while
//! ffmpeg keeps reading), blocks are kept for the run (a moov read again by the next ffmpeg is
//! not read again from S3), every byte read is counted, and the run stops at its byte bound.
//! ffmpeg also never holds a credential, and needs no TLS.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use vidgate_domain::range::{self, Selection};
use vidgate_uploads::frames::Source;
use vidgate_uploads::objects::{ObjectError, ObjectStore};

/// The unit of reading and caching.
pub const BLOCK: u64 = 64 << 10;
/// The most blocks one GET reads ahead.
pub const MAX_RUN: u64 = 16;
/// What one write hands the socket: small, so little sits in buffers when ffmpeg seeks away.
const SLICE: usize = 16 << 10;
/// Blocks kept for a run (16 MiB).
const CACHE_BLOCKS: usize = 256;

/// Why the server stopped serving: the run fails with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    OverBound(u64),
    Unavailable(String),
}

struct Shared {
    objects: Arc<dyn ObjectStore>,
    source: Source,
    max_read_bytes: u64,
    read: AtomicU64,
    requests: AtomicU64,
    cache: Mutex<Cache>,
    stopped: Mutex<Option<Stopped>>,
}

#[derive(Default)]
struct Cache {
    blocks: HashMap<u64, Bytes>,
    order: VecDeque<u64>,
}

impl Cache {
    /// A kept block, now the most recently used.
    fn get(&mut self, index: u64) -> Option<Bytes> {
        let block = self.blocks.get(&index)?.clone();
        if let Some(at) = self.order.iter().position(|i| *i == index) {
            self.order.remove(at);
            self.order.push_back(index);
        }
        Some(block)
    }

    fn put(&mut self, index: u64, block: Bytes) {
        if self.blocks.insert(index, block).is_none() {
            self.order.push_back(index);
        }
        while self.order.len() > CACHE_BLOCKS {
            if let Some(old) = self.order.pop_front() {
                self.blocks.remove(&old);
            }
        }
    }
}

/// The running server; it stops when this is dropped.
pub struct Reader {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Reader {
    /// Serves `source` on 127.0.0.1 (a free port), reading at most `max_read_bytes` of it.
    pub async fn start(
        objects: Arc<dyn ObjectStore>,
        source: Source,
        max_read_bytes: u64,
    ) -> std::io::Result<Self> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        // A small send buffer: what the kernel holds for ffmpeg beyond what it read is what a
        // seek throws away.
        socket.set_send_buffer_size(SLICE as u32)?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let listener = socket.listen(16)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            objects,
            source,
            max_read_bytes,
            read: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            cache: Mutex::default(),
            stopped: Mutex::default(),
        });
        let served = shared.clone();
        let task = tokio::spawn(async move {
            // Aborting this task drops the set, which aborts every connection.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let shared = served.clone();
                connections.spawn(async move {
                    let service =
                        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                            let shared = shared.clone();
                            async move {
                                Ok::<_, std::convert::Infallible>(serve(shared, request.headers()).await)
                            }
                        });
                    // hyper's smallest buffer: it asks the body for more only when the socket
                    // took what it had, so reads follow ffmpeg's pace.
                    let connection = hyper::server::conn::http1::Builder::new()
                        .max_buf_size(8192)
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                    if let Err(e) = connection.await {
                        tracing::debug!(error = %e, "a frame reader connection ended");
                    }
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Self { shared, addr, task })
    }

    /// The URL ffmpeg reads.
    pub fn url(&self) -> String {
        format!("http://{}/video", self.addr)
    }

    /// Bytes read from S3 so far.
    pub fn bytes_read(&self) -> u64 {
        self.shared.read.load(Ordering::Relaxed)
    }

    /// Ranged GETs sent to S3 so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Why serving stopped, if it did.
    pub fn stopped(&self) -> Option<Stopped> {
        self.shared.stopped.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

async fn serve(shared: Arc<Shared>, headers: &HeaderMap) -> Response {
    let size = shared.source.size;
    let (status, start, end) =
        match range::select(headers.get(header::RANGE).and_then(|v| v.to_str().ok()), size) {
            Selection::Full => (StatusCode::OK, 0, size.saturating_sub(1)),
            Selection::Partial { start, end } => (StatusCode::PARTIAL_CONTENT, start, end),
            Selection::Unsatisfiable => {
                return (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(header::CONTENT_RANGE, format!("bytes */{size}"))],
                )
                    .into_response();
            }
        };
    let length = if size == 0 { 0 } else { end - start + 1 };
    let body = futures::stream::unfold((shared, start), move |(shared, pos)| async move {
        if size == 0 || pos > end {
            return None;
        }
        // Read ahead only as far as this response has been read: a run of blocks half as long
        // as what was sent, so a connection ffmpeg leaves after a header costs a block or two.
        let run = ((pos - start) / (2 * BLOCK)).clamp(1, MAX_RUN);
        match block_at(&shared, pos, end, run).await {
            Ok(block) => {
                let index = pos / BLOCK;
                let from = (pos - index * BLOCK) as usize;
                let to = ((end - index * BLOCK + 1) as usize).min(block.len()).min(from + SLICE);
                let chunk = block.slice(from..to);
                let next = pos + chunk.len() as u64;
                Some((Ok::<Bytes, std::io::Error>(chunk), (shared, next)))
            }
            Err(stopped) => {
                let why = format!("{stopped:?}");
                shared.stopped.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(stopped);
                // Ends the response mid-body: ffmpeg sees a failed read.
                Some((Err(std::io::Error::other(why)), (shared, end + 1)))
            }
        }
    });
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::ACCEPT_RANGES, "bytes".parse().expect("a valid header"));
    headers.insert(header::CONTENT_LENGTH, length.into());
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {start}-{end}/{size}");
        headers.insert(header::CONTENT_RANGE, value.parse().expect("a valid header"));
    }
    response
}

/// The block holding `pos`, read (with up to `run` - 1 more after it, not past `end`'s block) if
/// it isn't kept.
async fn block_at(shared: &Shared, pos: u64, end: u64, run: u64) -> Result<Bytes, Stopped> {
    let index = pos / BLOCK;
    if let Some(block) = shared.cache.lock().unwrap_or_else(|p| p.into_inner()).get(index) {
        return Ok(block);
    }
    let last_index = {
        let cache = shared.cache.lock().unwrap_or_else(|p| p.into_inner());
        (index..index + run.max(1))
            .take_while(|i| *i <= end / BLOCK && (*i == index || !cache.blocks.contains_key(i)))
            .last()
            .unwrap_or(index)
    };
    let from = index * BLOCK;
    let to = ((last_index + 1) * BLOCK).min(shared.source.size) - 1;
    let wanted = to - from + 1;
    if shared.read.load(Ordering::Relaxed) + wanted > shared.max_read_bytes {
        return Err(Stopped::OverBound(shared.max_read_bytes));
    }
    shared.read.fetch_add(wanted, Ordering::Relaxed);
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let bytes = shared
        .objects
        .get_range(&shared.source.key, shared.source.version.as_deref(), from, to)
        .await
        .map_err(|e| match e {
            ObjectError::Unavailable(why) => Stopped::Unavailable(why),
            other => Stopped::Unavailable(other.to_string()),
        })?;
    let bytes = Bytes::from(bytes);
    let mut cache = shared.cache.lock().unwrap_or_else(|p| p.into_inner());
    for (n, i) in (index..=last_index).enumerate() {
        let start = n * BLOCK as usize;
        if start < bytes.len() {
            cache.put(i, bytes.slice(start..(start + BLOCK as usize).min(bytes.len())));
        }
    }
    cache
        .blocks
        .get(&index)
        .cloned()
        .ok_or_else(|| Stopped::Unavailable("S3 sent fewer bytes than asked".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vidgate_uploads::objects::memory::MemoryObjectStore;

    async fn reader(size: usize, bound: u64) -> (Reader, Vec<u8>) {
        let objects = Arc::new(MemoryObjectStore::new());
        let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        objects.put_object("videos/a/b.mp4", bytes.clone());
        let source = Source { key: "videos/a/b.mp4".into(), version: None, size: size as u64 };
        (Reader::start(objects, source, bound).await.unwrap(), bytes)
    }

    #[tokio::test]
    async fn ranges_are_served_as_rfc_9110_says_reading_whole_blocks_once() {
        let (reader, bytes) = reader(300_000, 1 << 30).await;
        let client = reqwest::Client::new();
        let get = |range: &'static str| client.get(reader.url()).header("range", range).send();
        let r = get("bytes=100000-").await.unwrap();
        assert_eq!(r.status(), 206);
        assert_eq!(r.headers()["content-range"], "bytes 100000-299999/300000");
        assert_eq!(&r.bytes().await.unwrap()[..], &bytes[100_000..]);
        let r = get("bytes=-10").await.unwrap();
        assert_eq!(&r.bytes().await.unwrap()[..], &bytes[299_990..]);
        let r = get("bytes=400000-").await.unwrap();
        assert_eq!(
            (r.status().as_u16(), r.headers()["content-range"].to_str().unwrap()),
            (416, "bytes */300000")
        );
        let r = client.get(reader.url()).send().await.unwrap();
        assert_eq!((r.status().as_u16(), r.bytes().await.unwrap().len()), (200, 300_000));
        // Blocks 1..=4 and then 0 were read once each; everything after came from the cache.
        assert_eq!(reader.bytes_read(), 300_000);
        assert_eq!(reader.stopped(), None);
    }

    #[tokio::test]
    async fn a_run_stops_at_its_byte_bound_and_says_so() {
        let (reader, _) = reader(1_000_000, 200_000).await;
        // The response breaks off (before or after its head): the client never gets it whole.
        let whole = match reqwest::get(reader.url()).await {
            Ok(r) => r.bytes().await.is_ok(),
            Err(_) => false,
        };
        assert!(!whole);
        assert_eq!(reader.stopped(), Some(Stopped::OverBound(200_000)));
        assert!(reader.bytes_read() <= 200_000);
    }
}
