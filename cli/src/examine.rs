//! Is the file a video? The server's own reader — vidgate-domain's sniff and media parsers, with
//! the same rules and reason texts — run on the local file, so a file the server would reject is
//! refused before an upload is created or a byte is sent.
//!
//! The server reads the header with ranged GETs; here the gaps the parser asks for are read from
//! disk. A header larger than the server's default read cap is left for the server to judge (its
//! cap is configurable), never refused here.

use std::os::unix::fs::FileExt;
use std::path::Path;

use vidgate_domain::media::{self, Media, sparse::Sparse};
use vidgate_domain::sniff::{SNIFF_BYTES, container, rejection};

use crate::{CliError, Result};

/// The server's default `VIDGATE_MAX_PROBE_BYTES`.
const MAX_HEADER_BYTES: u64 = 16 * 1024 * 1024;
/// Read beyond what the parser asked for: the header of whatever box follows.
const READ_AHEAD: u64 = 64 * 1024;

/// What the server would find in the file's first bytes and header.
#[derive(Debug)]
pub enum Verdict {
    /// Read as the server reads it.
    Video(Box<Media>),
    /// A container the server accepts by its signature alone (AVI, MPEG, Ogg, FLV, ASF), or a
    /// header past the default read cap: the server decides.
    Unread,
    /// Why the server would reject it, in its own words.
    NotAVideo(String),
}

/// Reads `path` (of `size` bytes) as the server reads an arrived object.
pub fn examine(path: &Path, size: u64) -> Result<Verdict> {
    let io = |source| CliError::Io { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let read = |at: u64, len: u64| -> Result<Vec<u8>> {
        let mut buf = vec![0; len as usize];
        file.read_exact_at(&mut buf, at).map_err(io)?;
        Ok(buf)
    };
    let head = read(0, SNIFF_BYTES.min(size))?;
    if let Some(reason) = rejection(&head) {
        return Ok(Verdict::NotAVideo(reason));
    }
    let Some(container) = container(&head).filter(|c| media::probed(c)) else {
        return Ok(Verdict::Unread);
    };
    let mut sparse = Sparse::new(size);
    sparse.insert(0, head);
    loop {
        let outcome = media::read(container, &mut sparse);
        let Some(miss) = sparse.take_miss() else {
            return Ok(match outcome {
                Ok(media) => Verdict::Video(Box::new(media)),
                Err(reason) => Verdict::NotAVideo(reason),
            });
        };
        let (start, gap_end) = sparse.gap(miss.at);
        let end = gap_end.min(start.saturating_add(miss.len.max(1).saturating_add(READ_AHEAD)));
        if end <= start {
            return Ok(Verdict::NotAVideo(format!(
                "the parser asked for bytes at {} that are not in the object",
                miss.at
            )));
        }
        if sparse.held() + (end - start) > MAX_HEADER_BYTES {
            return Ok(Verdict::Unread);
        }
        sparse.insert(start, read(start, end - start)?);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        std::path::PathBuf::from(format!("{}/../tests/fixtures/media/{name}", env!("CARGO_MANIFEST_DIR")))
    }

    fn of(path: &Path) -> Verdict {
        examine(path, std::fs::metadata(path).unwrap().len()).unwrap()
    }

    #[test]
    fn the_servers_reader_finds_the_media_or_the_servers_reason() {
        let Verdict::Video(media) = of(&fixture("phone-rotated.mov")) else { panic!("a video") };
        assert_eq!((media.width, media.height, media.rotation), (480, 270, 90));
        let Verdict::NotAVideo(why) = of(&fixture("audio-only.mp4")) else { panic!("audio only") };
        assert_eq!(why, "no video track: the file holds only audio (mp4a.40.2)");

        let dir = std::env::temp_dir().join(format!("vidgate-examine-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = dir.join("notes.mp4");
        std::fs::write(&text, b"just some notes, named like a video\n").unwrap();
        let Verdict::NotAVideo(why) = of(&text) else { panic!("text") };
        assert_eq!(Some(why), rejection(b"just some notes"));
        let empty = dir.join("empty.mp4");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(of(&empty), Verdict::NotAVideo(why) if why == "the object is empty"));
        let avi = dir.join("old.avi");
        std::fs::write(&avi, b"RIFF\x00\x00\x00\x00AVI LIST and more").unwrap();
        assert!(matches!(of(&avi), Verdict::Unread));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
