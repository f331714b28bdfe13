//! WebM and Matroska, read by `matroska-demuxer`: the EBML header, then the SeekHead's pointers to
//! Info, Tracks, Cues and Tags (or, without a SeekHead, a walk over the top-level element headers);
//! Clusters are skipped by their sizes.

use matroska_demuxer::{MatroskaFile, TrackEntry, TrackType};

use super::codecs;
use super::sparse::{Budget, Sparse};
use super::{Audio, Parsed, Track};

pub fn parse(s: &mut Sparse) -> Result<Parsed, String> {
    // Clusters are skipped, so a header read touches each held byte a few times at most.
    let budget = 4 * s.held() + 1024 * 1024;
    let file = MatroskaFile::open(Budget::new(&mut *s, budget))
        .map_err(|e| format!("the Matroska header is unreadable: {e}"))?;
    let container = if file.ebml_header().doc_type() == "webm" { "webm" } else { "matroska" };
    let scale = file.info().timestamp_scale().get() as f64;
    let duration_ms = file.info().duration().map(|d| (d * scale / 1e6).round() as u64);
    let tracks = file.tracks();
    let video = tracks.iter().find(|t| t.track_type() == TrackType::Video).map(video_track);
    let audio = tracks.iter().find(|t| t.track_type() == TrackType::Audio).map(audio_track);
    Ok(Parsed { container, duration_ms, video, audio, faststart: None })
}

fn video_track(t: &TrackEntry) -> Track {
    let v = t.video();
    let width = v.map_or(0, |v| v.pixel_width().get()) as u32;
    let height = v.map_or(0, |v| v.pixel_height().get()) as u32;
    // DisplayWidth/Height are in pixels unless DisplayUnit says otherwise (then only a ratio).
    let display = v.and_then(|v| Some((v.display_width()?.get() as u32, v.display_height()?.get() as u32)));
    Track {
        codec: codecs::matroska(t.codec_id(), t.codec_private()),
        width,
        height,
        rotation: 0,
        frame_rate: t.default_duration().map(|ns| 1e9 / ns.get() as f64),
        display,
    }
}

fn audio_track(t: &TrackEntry) -> Audio {
    let a = t.audio();
    Audio {
        codec: codecs::matroska(t.codec_id(), t.codec_private()),
        channels: a.map(|a| a.channels().get() as u32),
        sample_rate: a.map(|a| a.sampling_frequency().round() as u32),
    }
}
