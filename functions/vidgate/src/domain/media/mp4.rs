//! MP4 and QuickTime: the top-level boxes are followed by their headers (never into `mdat`), then
//! `moov` is fetched whole and read by `re_mp4`'s box readers.
//!
//! `re_mp4::Mp4::read` is not used: it also builds a list of every sample of every track, which
//! costs memory in proportion to a count the file states (a crafted `stsz` asks for billions) and
//! is not needed for the facts recorded here.

use std::io::{Cursor, Seek, SeekFrom};

use re_mp4::{BoxHeader, BoxType, FtypBox, MoovBox, ReadBox, StsdBoxContent, TrakBox};

use super::codecs;
use super::sparse::{Budget, Sparse};
use super::{Audio, Parsed, Track};

/// Where a top-level box lies.
struct Span {
    at: u64,
    len: u64,
    /// 8, or 16 with a 64-bit size.
    header_len: u64,
    /// The size as re_mp4's box readers take it.
    reader_size: u64,
}

impl Span {
    /// The box's bytes, positioned after its header as re_mp4's `read_box` expects, on a budget
    /// of four reads of them (re_mp4 re-reads sample entries and `meta` once).
    fn cursor(&self, s: &mut Sparse) -> Result<Budget<Cursor<Vec<u8>>>, String> {
        let bytes = s.slice(self.at, self.len).map_err(|e| e.to_string())?;
        let mut cursor = Cursor::new(bytes);
        cursor.set_position(self.header_len);
        Ok(Budget::new(cursor, 4 * self.len + 4096))
    }
}

/// Reads an MP4/QuickTime file's header: its container name, tracks and whether `moov` comes
/// before `mdat`. Errors are the rejection reason; a miss is recorded in `s`.
pub fn parse(s: &mut Sparse) -> Result<Parsed, String> {
    let size = s.size();
    let mut ftyp = None;
    let mut moov = None;
    let mut first_mdat = None;
    let mut at = 0;
    let mut fragmented = false;
    while at < size && !(fragmented && moov.is_some()) {
        s.seek(SeekFrom::Start(at)).map_err(|e| e.to_string())?;
        let header =
            BoxHeader::read(s).map_err(|e| format!("the box header at offset {at} is unreadable: {e}"))?;
        let header_len = s.stream_position().map_err(|e| e.to_string())? - at;
        // re_mp4 reports a 64-bit size less the 8 bytes that held it.
        let len = match header.size {
            0 => size - at, // the last box, to the end of the file
            n if n < 8 => return Err(format!("the box at offset {at} has an invalid size of {n} bytes")),
            n => n + header_len - 8,
        };
        let name = header.name.to_string();
        if len > size - at {
            return Err(format!(
                "truncated: the '{name}' box at offset {at} claims {len} bytes, but the object ends {} bytes later",
                size - at
            ));
        }
        let span = Span { at, len, header_len, reader_size: len + 8 - header_len };
        match header.name {
            BoxType::FtypBox if ftyp.is_none() => ftyp = Some(span),
            BoxType::MoovBox if moov.is_none() => {
                // Asked for whole now, so one fetch brings it (and the next box's header).
                s.slice(span.at, span.len).map_err(|e| e.to_string())?;
                moov = Some(span);
            }
            BoxType::MdatBox => {
                first_mdat.get_or_insert(at);
            }
            // Fragments follow (a browser's MediaRecorder, a live recording): a `moof`/`mdat` pair
            // every few seconds to the end. Once `moov` is read nothing after it is needed, and
            // walking on would cost a ranged GET per fragment.
            BoxType::MoofBox => fragmented = true,
            _ => {}
        }
        at += len;
    }
    let Some(moov_span) = moov else {
        return Err("no 'moov' box: the MP4 has no header (an unfinished recording or upload?)".into());
    };
    let container = match ftyp {
        Some(span) => {
            let ftyp = FtypBox::read_box(&mut span.cursor(s)?, span.reader_size)
                .map_err(|e| format!("the 'ftyp' box is unreadable: {e}"))?;
            if &ftyp.major_brand.value == b"qt  " { "quicktime" } else { "mp4" }
        }
        None => "quicktime",
    };
    let moov = MoovBox::read_box(&mut moov_span.cursor(s)?, moov_span.reader_size)
        .map_err(|e| format!("the 'moov' box is unreadable: {e}"))?;

    let timescale = u64::from(moov.mvhd.timescale);
    let mut duration_ms = scaled_ms(moov.mvhd.duration, timescale);
    let mut video = None;
    let mut audio = None;
    for trak in &moov.traks {
        let handler = &trak.mdia.hdlr.handler_type.value;
        if handler == b"vide" && video.is_none() {
            video = Some(video_track(trak)?);
        } else if handler == b"soun" && audio.is_none() {
            audio = Some(audio_track(trak));
        }
        if duration_ms.is_none_or(|d| d == 0) {
            let track = scaled_ms(trak.mdia.mdhd.duration, u64::from(trak.mdia.mdhd.timescale));
            duration_ms = duration_ms.max(track);
        }
    }
    // A fragmented MP4 (a browser's MediaRecorder, a live recording) states its length in `mehd`,
    // if anywhere; without it the length is unknown, not zero.
    if duration_ms.is_none_or(|d| d == 0) {
        let fragments = moov.mvex.as_ref().and_then(|mvex| mvex.mehd.as_ref());
        duration_ms =
            fragments.and_then(|mehd| scaled_ms(mehd.fragment_duration, timescale)).filter(|&d| d > 0);
    }

    Ok(Parsed {
        container,
        duration_ms,
        video,
        audio,
        faststart: Some(first_mdat.is_none_or(|mdat| moov_span.at < mdat)),
    })
}

/// `duration` units of `timescale` per second, in milliseconds (rounded); `None` for the
/// "unknown" durations (all ones) and a zero timescale.
fn scaled_ms(duration: u64, timescale: u64) -> Option<u64> {
    if timescale == 0 || duration == u64::MAX || duration == u64::from(u32::MAX) {
        return None;
    }
    Some(((u128::from(duration) * 1000 + u128::from(timescale) / 2) / u128::from(timescale)) as u64)
}

fn video_track(trak: &TrakBox) -> Result<Track, String> {
    let stbl = &trak.mdia.minf.stbl;
    let contents = &stbl.stsd.contents;
    let (width, height) = match contents {
        StsdBoxContent::Avc1(b) => (b.width, b.height),
        StsdBoxContent::Hvc1(b) | StsdBoxContent::Hev1(b) => (b.width, b.height),
        StsdBoxContent::Av01(b) => (b.width, b.height),
        StsdBoxContent::Vp09(b) => (b.width, b.height),
        StsdBoxContent::Vp08(b) => (b.width, b.height),
        _ => (trak.tkhd.width.value(), trak.tkhd.height.value()),
    };
    let codec = match contents {
        StsdBoxContent::Unknown(fourcc) => codecs::fourcc(&fourcc.value),
        other => other.codec_string().unwrap_or_else(|| "unknown".into()),
    };
    let m = &trak.tkhd.matrix;
    let seconds = trak.mdia.mdhd.duration as f64 / f64::from(trak.mdia.mdhd.timescale.max(1));
    let frames = f64::from(stbl.stsz.sample_count);
    Ok(Track {
        codec,
        width: u32::from(width),
        height: u32::from(height),
        rotation: codecs::rotation(f64::from(m.a), f64::from(m.b)),
        frame_rate: (seconds > 0.0).then(|| frames / seconds),
        display: None,
    })
}

fn audio_track(trak: &TrakBox) -> Audio {
    match &trak.mdia.minf.stbl.stsd.contents {
        StsdBoxContent::Mp4a(mp4a) => {
            let codec = match &mp4a.esds {
                Some(esds) => {
                    let config = &esds.es_desc.dec_config;
                    match config.object_type_indication {
                        0x40 => format!("mp4a.40.{}", config.dec_specific.profile),
                        oti => format!("mp4a.{oti:02X}"),
                    }
                }
                None => "mp4a".into(),
            };
            Audio {
                codec,
                channels: Some(u32::from(mp4a.channelcount)),
                sample_rate: Some(u32::from(mp4a.samplerate.value())),
            }
        }
        StsdBoxContent::Unknown(fourcc) => {
            Audio { codec: codecs::fourcc(&fourcc.value), channels: None, sample_rate: None }
        }
        other => Audio {
            codec: other.codec_string().unwrap_or_else(|| "unknown".into()),
            channels: None,
            sample_rate: None,
        },
    }
}
