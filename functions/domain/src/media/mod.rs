//! Media facts: what a player and an app want to know of a video before its first frame —
//! duration, picture size and rotation, codecs, whether browsers play it, whether an MP4 can
//! start before it has all arrived — read from the container's header alone.
//!
//! Parsers: `re_mp4`'s box readers for MP4/QuickTime (RFC 6381 strings for AVC, HEVC, VP9 and AV1
//! built in; Mozilla's `mp4parse` has no HEVC), `matroska-demuxer` for WebM/Matroska. Both read a
//! synchronous `Read + Seek`; [`sparse::Sparse`] is that over the ranges fetched so far.

pub mod codecs;
mod matroska;
mod mp4;
pub mod sparse;

use serde::{Deserialize, Serialize};

pub use codecs::Browsers;
use sparse::Sparse;

/// What vidgate records of a video's media (`media` on a video).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Media {
    /// `mp4`, `quicktime`, `webm` or `matroska`.
    pub container: String,
    /// `null` when the container does not say (a live WebM recording).
    pub duration_ms: Option<u64>,
    /// The picture as coded, before rotation.
    pub width: u32,
    pub height: u32,
    /// Clockwise degrees to turn the picture for display: 0, 90, 180 or 270.
    pub rotation: u16,
    /// Width:height of the displayed picture before rotation, in lowest terms (`16:9`).
    pub display_aspect_ratio: String,
    /// Frames a second, averaged over the video track (3 decimals).
    pub frame_rate: Option<f64>,
    /// Bits a second over the whole file.
    pub bitrate: Option<u64>,
    /// RFC 6381 codec strings: `avc1.64001F`, `hvc1.1.6.L93.90`, `vp09.00.31.08`, `av01.0.08M.08`.
    pub video_codec: String,
    /// `mp4a.40.2`, `opus`…; `null` without an audio track.
    pub audio_codec: Option<String>,
    pub audio_channels: Option<u32>,
    pub audio_sample_rate: Option<u32>,
    /// MP4/QuickTime: `moov` precedes `mdat`, so playback starts before the whole file arrives.
    /// `null` for WebM/Matroska.
    pub faststart: Option<bool>,
    /// Every engine in `browsers` plays it.
    pub browser_playable: bool,
    pub browsers: Browsers,
}

/// `frame_rate` is never NaN (only finite rates are kept), so equality is total.
impl Eq for Media {}

/// A parser's findings, before they are judged.
#[derive(Debug)]
struct Parsed {
    container: &'static str,
    duration_ms: Option<u64>,
    video: Option<Track>,
    audio: Option<Audio>,
    faststart: Option<bool>,
}

#[derive(Debug)]
struct Track {
    codec: String,
    width: u32,
    height: u32,
    rotation: u16,
    frame_rate: Option<f64>,
    /// The displayed size when the container states one apart from the coded size.
    display: Option<(u32, u32)>,
}

#[derive(Debug)]
struct Audio {
    codec: String,
    channels: Option<u32>,
    sample_rate: Option<u32>,
}

/// The header (`ftyp`, `moov`) of a real one-frame 64x36 H.264 MP4, made by
/// `tests/fixtures/media/make`: test doubles and benchmarks begin their filler bytes with
/// [`synthetic_prefix`] so that the probe reads them as video.
pub const SYNTHETIC_HEADER: &[u8] = include_bytes!("synthetic-header.mp4");

/// [`SYNTHETIC_HEADER`] and the header of an `mdat` box of size 0 (to the end of the file): any
/// bytes after it make a video the probe reads (64x36, 33 ms).
pub fn synthetic_prefix() -> Vec<u8> {
    [SYNTHETIC_HEADER, &[0, 0, 0, 0], b"mdat"].concat()
}

/// Whether vidgate reads the header of this sniffed container (see [`crate::sniff`]).
pub fn probed(container: &str) -> bool {
    matches!(container, "mp4" | "quicktime" | "matroska")
}

/// Reads the media facts of an object of the sniffed `container` from `s`; `Err` is the reason
/// the video is rejected. A read of bytes not in `s` fails and is recorded there (see
/// [`Sparse::take_miss`]): fetch them and call again.
///
/// The parsers are third-party code reading hostile bytes: a panic in one (re_mp4 0.5 subtracts
/// past zero on an `avcC` whose NAL units overrun it) is caught here and is a rejection too.
pub fn read(container: &str, s: &mut Sparse) -> Result<Media, String> {
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match container {
        "mp4" | "quicktime" => mp4::parse(s).map_err(|e| format!("not a readable MP4/QuickTime file: {e}")),
        "matroska" => matroska::parse(s).map_err(|e| format!("not a readable WebM/Matroska file: {e}")),
        other => Err(format!("no media reader for {other}")),
    }));
    let parsed = parsed.unwrap_or_else(|_| {
        s.take_miss();
        Err("the container's header is malformed (its parser gave up on it)".into())
    })?;
    judge(parsed, s.size())
}

fn judge(parsed: Parsed, size: u64) -> Result<Media, String> {
    let Some(video) = parsed.video else {
        return Err(match parsed.audio {
            Some(audio) => format!("no video track: the file holds only audio ({})", audio.codec),
            None => "no video track".into(),
        });
    };
    if video.width == 0 || video.height == 0 {
        return Err(format!("the video track has no picture size ({}x{})", video.width, video.height));
    }
    let (dw, dh) = video.display.filter(|&(w, h)| w > 0 && h > 0).unwrap_or((video.width, video.height));
    let g = gcd(dw, dh);
    let browsers =
        Browsers::playing(parsed.container, &video.codec, parsed.audio.as_ref().map(|a| a.codec.as_str()));
    Ok(Media {
        container: parsed.container.into(),
        duration_ms: parsed.duration_ms,
        width: video.width,
        height: video.height,
        rotation: video.rotation,
        display_aspect_ratio: format!("{}:{}", dw / g, dh / g),
        frame_rate: video.frame_rate.filter(|f| f.is_finite()).map(|f| (f * 1000.0).round() / 1000.0),
        bitrate: parsed
            .duration_ms
            .filter(|&ms| ms > 0)
            .map(|ms| (u128::from(size) * 8000 / u128::from(ms)) as u64),
        video_codec: video.codec,
        audio_channels: parsed.audio.as_ref().and_then(|a| a.channels),
        audio_sample_rate: parsed.audio.as_ref().and_then(|a| a.sample_rate),
        audio_codec: parsed.audio.map(|a| a.codec),
        faststart: parsed.faststart,
        browser_playable: browsers.all(),
        browsers,
    })
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sniff;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/../../tests/fixtures/media/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// Probes `bytes` the way the use case does (sniffed head first, then a fetch per miss, at
    /// least 64 KiB); returns the outcome and the number of fetches.
    fn probe(bytes: &[u8]) -> (Result<Media, String>, usize) {
        let container = sniff::container(bytes).unwrap();
        let mut s = Sparse::new(bytes.len() as u64);
        s.insert(0, bytes[..189].to_vec());
        let mut fetches = 0;
        loop {
            let outcome = read(container, &mut s);
            let Some(miss) = s.take_miss() else { return (outcome, fetches) };
            let (start, end) = s.gap(miss.at);
            let end = end.min(start + miss.len.max(64 * 1024));
            assert!(end > start, "a miss inside the held bytes");
            s.insert(start, bytes[start as usize..end as usize].to_vec());
            fetches += 1;
            assert!(fetches < 64, "no end to the misses");
        }
    }

    #[test]
    fn a_moov_at_the_end_is_found_without_reading_mdat() {
        let bytes = fixture("h264-aac-moov-at-end.mp4");
        let container = sniff::container(&bytes).unwrap();
        let mut s = Sparse::new(bytes.len() as u64);
        // Only the first 64 KiB and the last 4 KiB (moov) are there; mdat's middle never is.
        s.insert(0, bytes[..64 * 1024].to_vec());
        let tail = bytes.len() - 4096;
        s.insert(tail as u64, bytes[tail..].to_vec());
        let media = read(container, &mut s).unwrap();
        assert_eq!(s.take_miss(), None);
        assert_eq!(media.faststart, Some(false));
        assert_eq!((media.width, media.height, media.duration_ms), (640, 360, Some(2000)));
    }

    #[test]
    fn a_fragmented_mp4_is_read_from_its_moov_without_walking_the_fragments() {
        let (media, fetches) = probe(&fixture("fragmented.mp4"));
        let media = media.unwrap();
        assert_eq!(fetches, 1, "moov and the first moof's header in one fetch; the fragments are not walked");
        assert_eq!((media.width, media.height, media.faststart), (320, 180, Some(true)));
        assert_eq!(media.video_codec, "avc1.4D400D");
        assert_eq!(media.audio_codec.as_deref(), Some("mp4a.40.2"));
        // No mehd: the length is only in the fragments (ffprobe sums them: 2.07 s), so unknown here.
        assert_eq!((media.duration_ms, media.frame_rate, media.bitrate), (None, None, None));
    }

    #[test]
    fn a_live_webm_with_unknown_sizes_and_no_duration_is_read() {
        // As a browser's MediaRecorder writes it: the length is unknown, not zero.
        let (media, _) = probe(&fixture("vp9-opus-live.webm"));
        let media = media.unwrap();
        assert_eq!((media.container.as_str(), media.width, media.height), ("webm", 320, 180));
        assert_eq!((media.video_codec.as_str(), media.audio_codec.as_deref()), ("vp9", Some("opus")));
        assert_eq!((media.duration_ms, media.bitrate), (None, None));
    }

    #[test]
    fn a_track_re_mp4_cannot_read_costs_its_facts_not_the_video() {
        // 96 kHz AAC in QuickTime: a version 2 sound description (re_mp4 reads versions 0 and 1).
        let (media, _) = probe(&fixture("hires-audio.mov"));
        let media = media.unwrap();
        assert_eq!((media.width, media.height, media.duration_ms), (320, 180, Some(1000)));
        assert_eq!(media.video_codec, "avc1.4D400D");
        assert_eq!(media.audio_codec.as_deref(), Some("mp4a"), "named by its sample entry");
        assert_eq!((media.audio_channels, media.audio_sample_rate), (None, None));
        assert!(media.browser_playable, "AAC plays everywhere, whatever its rate");
    }

    #[test]
    fn what_is_not_a_playable_video_is_rejected_with_the_reason() {
        let (outcome, _) = probe(&fixture("audio-only.mp4"));
        assert_eq!(outcome.unwrap_err(), "no video track: the file holds only audio (mp4a.40.2)");
        let (outcome, fetches) = probe(&fixture("truncated.mp4"));
        let reason = outcome.unwrap_err();
        assert!(reason.contains("truncated: the 'mdat' box at offset 40 claims"), "{reason}");
        assert_eq!(fetches, 0, "the mdat header is in the sniffed bytes");
    }

    #[test]
    fn a_box_of_size_zero_inside_trak_is_a_rejection_not_a_hang() {
        let mut bytes = fixture("h264-aac-faststart.mp4");
        // The first box inside the first trak: tkhd. Size 0 makes re_mp4 read its header forever.
        let trak = bytes.windows(4).position(|w| w == b"trak").unwrap();
        bytes[trak + 4..trak + 8].copy_from_slice(&[0, 0, 0, 0]);
        let reason = probe(&bytes).0.unwrap_err();
        assert!(reason.contains("re-reading the same bytes"), "{reason}");
    }

    #[test]
    fn a_parser_panic_is_a_rejection() {
        let mut bytes = fixture("h264-aac-faststart.mp4");
        // avcC's first SPS length, made longer than the box: re_mp4 0.5 subtracts past zero.
        let avcc = bytes.windows(4).position(|w| w == b"avcC").unwrap();
        bytes[avcc + 10..avcc + 12].copy_from_slice(&[0x00, 0xF0]);
        let reason = probe(&bytes).0.unwrap_err();
        assert!(reason.contains("malformed"), "{reason}");
    }

    /// Random damage to every fixture's header: each probe ends, with facts or a reason, and no
    /// panic gets out. Bounded: 600 mutations a fixture.
    #[test]
    fn damaged_headers_end_in_facts_or_a_reason() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut read_ok, mut rejected) = (0, 0);
        for name in
            ["h264-aac-faststart.mp4", "h264-aac-moov-at-end.mp4", "hevc.mov", "vp9-opus.webm", "av1.mp4"]
        {
            let original = fixture(name);
            // Where the header is: the first 4 KiB, or moov at the end.
            let moov = original.windows(4).position(|w| w == b"moov").unwrap_or(0);
            for _ in 0..600 {
                let mut bytes = original.clone();
                for _ in 0..1 + next() % 4 {
                    let base = if next() % 2 == 0 { 4 } else { moov };
                    let i = (base + (next() % 4096) as usize).min(bytes.len() - 1);
                    bytes[i] = next() as u8;
                }
                if sniff::container(&bytes).is_none() {
                    continue;
                }
                match probe(&bytes).0 {
                    Ok(_) => read_ok += 1,
                    Err(reason) => {
                        assert!(!reason.is_empty());
                        rejected += 1;
                    }
                }
            }
        }
        assert!(read_ok > 0 && rejected > 0, "read {read_ok}, rejected {rejected}");
    }
}
