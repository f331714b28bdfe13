//! Reading an arrived video's header with ranged GETs: the probe loop over [`media::read`].

use std::time::{Duration, Instant};

use super::UploadError;
use crate::app::Objects;
use crate::objects::ObjectInfo;
use vidgate_domain::media::{self, Media, sparse::Sparse};

/// The first fetch past the sniffed bytes: a faststart file's `moov` or a WebM's Tracks usually
/// fits, and one round trip is worth more than the extra bytes.
const FIRST_FETCH: u64 = 64 * 1024;
/// Fetched beyond a whole box the parser asked for: the header of whatever follows it.
const HEADER_SLACK: u64 = 4096;
/// Read-ahead doubles from [`FIRST_FETCH`] to this while the parser keeps asking for more.
const MAX_FETCH: u64 = 8 * 1024 * 1024;

/// What the probe found, and what it cost.
#[derive(Debug)]
pub struct Probe {
    /// The facts, or why the video is rejected.
    pub outcome: Result<Media, String>,
    /// Ranged GETs made (the sniff's first bytes not counted).
    pub requests: u32,
    /// Bytes fetched, the sniffed ones included.
    pub bytes: u64,
    /// Time spent parsing (all runs).
    pub parse_time: Duration,
}

/// Reads the header of `object` (at `key`, sniffed as `container`, starting with `head`), within
/// the configured bounds. Errors are S3's; a file that can't be read is an `Err` outcome.
pub async fn probe(
    app: &impl Objects,
    key: &str,
    object: &ObjectInfo,
    container: &str,
    head: Vec<u8>,
) -> Result<Probe, UploadError> {
    let limits = app.config().probe;
    let mut s = Sparse::new(object.size);
    s.insert(0, head);
    let mut probe =
        Probe { outcome: Err(String::new()), requests: 0, bytes: s.held(), parse_time: Duration::ZERO };
    let mut ahead = FIRST_FETCH;
    loop {
        let started = Instant::now();
        let outcome = media::read(container, &mut s);
        probe.parse_time += started.elapsed();
        let Some(miss) = s.take_miss() else {
            probe.outcome = outcome;
            return Ok(probe);
        };
        if probe.parse_time > limits.time {
            probe.outcome = Err(format!(
                "reading the header took more than {} ms of parsing (VIDGATE_MAX_PROBE_MS)",
                limits.time.as_millis()
            ));
            return Ok(probe);
        }
        let (start, gap_end) = s.gap(miss.at);
        // What the parser asked for and the next box's or element's header with it; at least
        // the read-ahead.
        let want = if miss.len > 1 { miss.len.saturating_add(HEADER_SLACK) } else { 1 };
        let end = gap_end.min(start.saturating_add(want.max(ahead)));
        if end <= start {
            probe.outcome =
                Err(format!("the parser asked for bytes at {} that are not in the object", miss.at));
            return Ok(probe);
        }
        if probe.bytes + (end - start) > limits.bytes {
            probe.outcome = Err(format!(
                "the header needs more than {} bytes read (VIDGATE_MAX_PROBE_BYTES); {} were read, {} more asked for at offset {start}",
                limits.bytes,
                probe.bytes,
                end - start
            ));
            return Ok(probe);
        }
        let bytes = app.objects().get_range(key, object.version.as_deref(), start, end - 1).await?;
        if bytes.is_empty() {
            probe.outcome = Err(format!("S3 returned no bytes at offset {start}"));
            return Ok(probe);
        }
        probe.requests += 1;
        probe.bytes += bytes.len() as u64;
        s.insert(start, bytes);
        ahead = (ahead * 2).min(MAX_FETCH);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::objects::ObjectStore;
    use crate::objects::memory::MemoryObjectStore;
    use crate::store::memory::MemoryVideoStore;
    use crate::{App, Config};

    async fn probe_with(config: Config, fixture: &str) -> Probe {
        let bytes =
            std::fs::read(format!("{}/../../tests/fixtures/media/{fixture}", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        let objects = Arc::new(MemoryObjectStore::new());
        objects.put_object("k", bytes.clone());
        let app = App::new(config, Arc::new(MemoryVideoStore::new()), objects.clone());
        let info = objects.head("k").await.unwrap().unwrap();
        probe(&app, "k", &info, "mp4", bytes[..189].to_vec()).await.unwrap()
    }

    #[tokio::test]
    async fn a_header_read_in_two_gets_and_its_cost_reported() {
        let probe = probe_with(Config::for_tests(), "h264-aac-faststart.mp4").await;
        assert_eq!(probe.outcome.unwrap().video_codec, "avc1.64001E");
        assert_eq!(probe.requests, 1, "moov and the mdat header in the first fetch after the sniff");
        assert_eq!(probe.bytes, 189 + FIRST_FETCH);
    }

    #[tokio::test]
    async fn past_the_byte_cap_the_video_is_rejected_with_the_setting_named() {
        let mut config = Config::for_tests();
        config.probe.bytes = 64 * 1024;
        let probe = probe_with(config, "h264-aac-faststart.mp4").await;
        let reason = probe.outcome.unwrap_err();
        assert!(
            reason.starts_with("the header needs more than 65536 bytes read (VIDGATE_MAX_PROBE_BYTES)"),
            "{reason}"
        );
        assert_eq!(probe.requests, 0, "nothing fetched past the cap");
    }

    #[tokio::test]
    async fn past_the_time_cap_the_video_is_rejected_with_the_setting_named() {
        let mut config = Config::for_tests();
        config.probe.time = Duration::ZERO;
        let reason = probe_with(config, "h264-aac-faststart.mp4").await.outcome.unwrap_err();
        assert_eq!(reason, "reading the header took more than 0 ms of parsing (VIDGATE_MAX_PROBE_MS)");
    }
}
