//! MP4 and QuickTime: the top-level boxes are followed by their headers (never into `mdat`), then
//! `moov` is fetched whole and its children are read one by one by `re_mp4`'s box readers.
//!
//! Not `re_mp4::Mp4::read`: it also builds a list of every sample of every track, which costs
//! memory in proportion to a count the file states (a crafted `stsz` asks for billions). Not
//! `MoovBox::read_box` either: it reads every child or fails, so one track re_mp4 can't read (a
//! QuickTime v2 sound description, as 96 kHz audio has) or a malformed `udta` would reject a video
//! whose picture is fine.

use std::io::{Cursor, Read, Seek, SeekFrom};

use re_mp4::{BoxHeader, BoxType, FtypBox, HdlrBox, MvexBox, MvhdBox, ReadBox, StsdBoxContent, TrakBox};

use super::codecs;
use super::sparse::{Budget, Sparse};
use super::{Audio, Parsed, Track};

/// Where a box lies (offsets in the reader it was found in).
struct Span {
    name: BoxType,
    at: u64,
    len: u64,
    /// 8, or 16 with a 64-bit size.
    header_len: u64,
    /// The size as re_mp4's box readers take it (a 64-bit size less the 8 bytes that held it).
    reader_size: u64,
}

impl Span {
    fn end(&self) -> u64 {
        self.at + self.len
    }

    /// The box's bytes, positioned after its header as re_mp4's `read_box` expects, on a budget
    /// of four reads of them (re_mp4 re-reads sample entries and `meta` once).
    fn cursor(&self, s: &mut Sparse) -> Result<Budget<Cursor<Vec<u8>>>, String> {
        let bytes = s.slice(self.at, self.len).map_err(|e| e.to_string())?;
        let mut cursor = Cursor::new(bytes);
        cursor.set_position(self.header_len);
        Ok(Budget::new(cursor, 4 * self.len + 4096))
    }
}

/// The box whose header is at `at`, which must end by `end` (`within` names what ends there).
fn box_at<R: Read + Seek>(r: &mut R, at: u64, end: u64, within: &str) -> Result<Span, String> {
    r.seek(SeekFrom::Start(at)).map_err(|e| e.to_string())?;
    let header =
        BoxHeader::read(r).map_err(|e| format!("the box header at offset {at} is unreadable: {e}"))?;
    let header_len = r.stream_position().map_err(|e| e.to_string())? - at;
    let len = match header.size {
        0 => end - at, // the last box, to the end of what holds it
        n if n < 8 => return Err(format!("the box at offset {at} has an invalid size of {n} bytes")),
        n => n + header_len - 8,
    };
    if len > end - at {
        return Err(format!(
            "the '{}' box at offset {at} claims {len} bytes, but {within} ends {} bytes later",
            header.name,
            end - at
        ));
    }
    Ok(Span { name: header.name, at, len, header_len, reader_size: len + 8 - header_len })
}

/// The boxes inside `parent`, in order.
fn children<R: Read + Seek>(r: &mut R, parent: &Span, skip: u64) -> Result<Vec<Span>, String> {
    let within = format!("'{}'", parent.name);
    let mut at = parent.at + parent.header_len + skip;
    let mut out = Vec::new();
    while at + 8 <= parent.end() {
        let child = box_at(r, at, parent.end(), &within)?;
        at = child.end();
        out.push(child);
    }
    Ok(out)
}

/// The first box named by `path`, descending from `parent`.
fn descend<R: Read + Seek>(r: &mut R, parent: &Span, path: &[BoxType]) -> Option<Span> {
    let (first, rest) = path.split_first()?;
    let child = children(r, parent, 0).ok()?.into_iter().find(|c| c.name == *first)?;
    if rest.is_empty() { Some(child) } else { descend(r, &child, rest) }
}

/// A track of `moov`, read or not.
enum Trak {
    Read(Box<TrakBox>),
    /// re_mp4 could not read it: what its handler and first sample entry are called, and why.
    Unread {
        handler: Option<[u8; 4]>,
        entry: Option<[u8; 4]>,
        error: String,
    },
}

impl Trak {
    fn handler(&self) -> Option<[u8; 4]> {
        match self {
            Trak::Read(trak) => Some(trak.mdia.hdlr.handler_type.value),
            Trak::Unread { handler, .. } => *handler,
        }
    }
}

/// Reads a track whole, or else finds what it is (`hdlr`) and what its samples are (the first
/// `stsd` entry's type), each with re_mp4's own readers.
fn read_trak<R: Read + Seek>(r: &mut R, span: &Span) -> Trak {
    r.seek(SeekFrom::Start(span.at + span.header_len)).ok();
    let error = match TrakBox::read_box(r, span.reader_size) {
        Ok(trak) => return Trak::Read(Box::new(trak)),
        Err(e) => e.to_string(),
    };
    let handler = descend(r, span, &[BoxType::MdiaBox, BoxType::HdlrBox]).and_then(|hdlr| {
        r.seek(SeekFrom::Start(hdlr.at + hdlr.header_len)).ok()?;
        HdlrBox::read_box(r, hdlr.reader_size).ok().map(|h| h.handler_type.value)
    });
    let stsd = [BoxType::MdiaBox, BoxType::MinfBox, BoxType::StblBox, BoxType::StsdBox];
    // stsd is a full box: version and flags, then an entry count, then the entries.
    let entry = descend(r, span, &stsd)
        .and_then(|stsd| children(r, &stsd, 8).ok())
        .and_then(|entries| entries.first().map(|e| u32::from(e.name).to_be_bytes()));
    Trak::Unread { handler, entry, error }
}

/// Reads an MP4/QuickTime file's header: its container name, tracks and whether `moov` comes
/// before `mdat`. Errors are the rejection reason; a miss is recorded in `s`.
pub fn parse(s: &mut Sparse) -> Result<Parsed, String> {
    let size = s.size();
    let mut ftyp = None;
    let mut moov = None;
    let mut first_mdat = None;
    let mut fragmented = false;
    let mut at = 0;
    while at < size && !(fragmented && moov.is_some()) {
        // A top-level box that claims more than the object holds: the upload was cut short.
        let span = box_at(s, at, size, "the object")
            .map_err(|e| if e.contains(" claims ") { format!("truncated: {e}") } else { e })?;
        at = span.end();
        match span.name {
            BoxType::FtypBox if ftyp.is_none() => ftyp = Some(span),
            BoxType::MoovBox if moov.is_none() => {
                // Asked for whole now, so one fetch brings it (and the next box's header).
                s.slice(span.at, span.len).map_err(|e| e.to_string())?;
                moov = Some(span);
            }
            BoxType::MdatBox => {
                first_mdat.get_or_insert(span.at);
            }
            // Fragments follow (a browser's MediaRecorder, a live recording): a `moof`/`mdat` pair
            // every few seconds to the end. Once `moov` is read nothing after it is needed, and
            // walking on would cost a ranged GET per fragment.
            BoxType::MoofBox => fragmented = true,
            _ => {}
        }
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

    // moov's children, each on its own; offsets from here on are within moov's bytes.
    let mut r = moov_span.cursor(s)?;
    let moov_here = Span { at: 0, ..moov_span };
    let mut mvhd = None;
    let mut mehd = None;
    let mut traks = Vec::new();
    for child in children(&mut r, &moov_here, 0).map_err(|e| format!("the 'moov' box is unreadable: {e}"))? {
        // Each child on its own allowance: one that loops can't starve the others.
        r.allow(4 * child.len + 4096);
        r.seek(SeekFrom::Start(child.at + child.header_len)).map_err(|e| e.to_string())?;
        match child.name {
            BoxType::MvhdBox => {
                let read = MvhdBox::read_box(&mut r, child.reader_size);
                mvhd = Some(read.map_err(|e| format!("the 'mvhd' box is unreadable: {e}"))?);
            }
            BoxType::MvexBox => mehd = MvexBox::read_box(&mut r, child.reader_size).ok().and_then(|m| m.mehd),
            BoxType::TrakBox => traks.push(read_trak(&mut r, &child)),
            _ => {}
        }
    }
    let mvhd = mvhd.ok_or("no 'mvhd' box in 'moov'")?;

    let timescale = u64::from(mvhd.timescale);
    let mut duration_ms = scaled_ms(mvhd.duration, timescale);
    let mut video = None;
    let mut audio = None;
    for trak in &traks {
        match (trak, trak.handler().as_ref()) {
            (Trak::Read(trak), Some(b"vide")) if video.is_none() => video = Some(video_track(trak)?),
            (Trak::Read(trak), Some(b"soun")) if audio.is_none() => audio = Some(audio_track(trak)),
            // A picture we can't read is no video we can describe.
            (Trak::Unread { error, .. }, Some(b"vide")) if video.is_none() => {
                return Err(format!("the video track is unreadable: {error}"));
            }
            // Audio we can't read: what its sample entry is called, nothing more.
            (Trak::Unread { entry, error, .. }, Some(b"soun")) if audio.is_none() => {
                tracing::info!(%error, "audio track read by its sample entry's name only");
                let codec = entry.map_or_else(|| "unknown".into(), |e| codecs::fourcc(&e));
                audio = Some(Audio { codec, channels: None, sample_rate: None });
            }
            _ => {}
        }
        if let (Trak::Read(trak), true) = (trak, duration_ms.is_none_or(|d| d == 0)) {
            let track = scaled_ms(trak.mdia.mdhd.duration, u64::from(trak.mdia.mdhd.timescale));
            duration_ms = duration_ms.max(track);
        }
    }
    // A fragmented MP4 (a browser's MediaRecorder, a live recording) states its length in `mehd`,
    // if anywhere; without it the length is unknown, not zero.
    if duration_ms.is_none_or(|d| d == 0) {
        duration_ms = mehd.and_then(|mehd| scaled_ms(mehd.fragment_duration, timescale)).filter(|&d| d > 0);
    }
    if video.is_none() && traks.iter().any(|t| matches!(t, Trak::Unread { handler: None, .. })) {
        let error = traks.iter().find_map(|t| match t {
            Trak::Unread { handler: None, error, .. } => Some(error.clone()),
            _ => None,
        });
        return Err(format!("a track is unreadable: {}", error.unwrap_or_default()));
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
