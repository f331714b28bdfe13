//! Codec strings (RFC 6381, as `MediaSource.isTypeSupported` and `<source type>` take them), the
//! display rotation, and which browsers play what.

use serde::{Deserialize, Serialize};

/// A sample entry's four-character code as a codec string (`Opus` → `opus`, `ac-3`).
pub fn fourcc(code: &[u8; 4]) -> String {
    let text = String::from_utf8_lossy(code).trim().to_ascii_lowercase();
    match text.as_str() {
        "flac" => "flac".into(),
        "" => "unknown".into(),
        _ => text,
    }
}

/// Clockwise degrees (0, 90, 180, 270) a player turns the picture, from the first row of a
/// track's display matrix: Apple's portrait recordings carry `a = 0, b = 1` (90°).
pub fn rotation(a: f64, b: f64) -> u16 {
    if a == 0.0 && b == 0.0 {
        return 0;
    }
    let degrees = b.atan2(a).to_degrees();
    ((degrees / 90.0).round() as i64).rem_euclid(4) as u16 * 90
}

/// A Matroska CodecID and CodecPrivate as a codec string.
pub fn matroska(codec_id: &str, private: Option<&[u8]>) -> String {
    let p = private.unwrap_or_default();
    match codec_id {
        "V_VP8" => "vp8".into(),
        // CodecPrivate holds profile (1), level (2) and bit depth (3) when the muxer wrote them;
        // ffmpeg before 6.1 does not, and "vp9" is the codec string WebM players take then.
        "V_VP9" => {
            let feature =
                |id: u8| p.chunks(3).find(|f| f.len() == 3 && f[0] == id && f[1] == 1).map(|f| f[2]);
            match (feature(1), feature(2), feature(3)) {
                (Some(profile), Some(level), Some(depth)) => {
                    format!("vp09.{profile:02}.{level:02}.{depth:02}")
                }
                _ => "vp9".into(),
            }
        }
        // CodecPrivate is the av1C record: profile and level in byte 1, tier and depth in byte 2.
        "V_AV1" if p.len() >= 3 => {
            let (profile, level) = (p[1] >> 5, p[1] & 0x1F);
            let tier = if p[2] & 0x80 != 0 { 'H' } else { 'M' };
            let depth = match (p[2] & 0x40 != 0, p[2] & 0x20 != 0) {
                (true, true) => 12,
                (true, false) => 10,
                _ => 8,
            };
            format!("av01.{profile}.{level:02}{tier}.{depth:02}")
        }
        "V_AV1" => "av01".into(),
        // CodecPrivate is the avcC record: profile, constraint flags, level in bytes 1–3.
        "V_MPEG4/ISO/AVC" if p.len() >= 4 => format!("avc1.{:02X}{:02X}{:02X}", p[1], p[2], p[3]),
        "V_MPEG4/ISO/AVC" => "avc1".into(),
        "V_MPEGH/ISO/HEVC" => "hev1".into(),
        "A_OPUS" => "opus".into(),
        "A_VORBIS" => "vorbis".into(),
        "A_FLAC" => "flac".into(),
        "A_AC3" => "ac-3".into(),
        "A_EAC3" => "ec-3".into(),
        "A_MPEG/L3" => "mp3".into(),
        // CodecPrivate is the AudioSpecificConfig: the object type in its first 5 bits.
        id if id.starts_with("A_AAC") => match p.first() {
            Some(b) => format!("mp4a.40.{}", b >> 3),
            None => "mp4a.40.2".into(),
        },
        other => other.to_ascii_lowercase(),
    }
}

/// Which browser engines play a file, per the table in the README ("Media facts").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Browsers {
    pub chromium: bool,
    pub firefox: bool,
    pub safari: bool,
}

impl Browsers {
    const ALL: Self = Self { chromium: true, firefox: true, safari: true };
    const NONE: Self = Self { chromium: false, firefox: false, safari: false };
    const NOT_SAFARI: Self = Self { chromium: true, firefox: true, safari: false };
    const SAFARI: Self = Self { chromium: false, firefox: false, safari: true };

    fn and(self, other: Self) -> Self {
        Self {
            chromium: self.chromium && other.chromium,
            firefox: self.firefox && other.firefox,
            safari: self.safari && other.safari,
        }
    }

    pub fn all(self) -> bool {
        self.chromium && self.firefox && self.safari
    }

    /// The engines that play `video` (and `audio`, if any) in `container`.
    pub fn playing(container: &str, video: &str, audio: Option<&str>) -> Self {
        let iso = matches!(container, "mp4" | "quicktime");
        let codec = |c: &str| c.split('.').next().unwrap_or_default().to_owned();
        let video = match (iso, codec(video).as_str()) {
            (true, "avc1" | "avc3") => Self::ALL,
            (true, "hvc1" | "hev1") => Self::SAFARI,
            (true, "vp09" | "av01") => Self::NOT_SAFARI,
            (false, "vp8" | "vp9" | "vp09" | "av01") if container == "webm" => Self::NOT_SAFARI,
            _ => Self::NONE,
        };
        let audio = match audio.map(codec).as_deref() {
            None => Self::ALL,
            Some("mp4a" | "flac") if iso => Self::ALL,
            Some("opus") if iso || container == "webm" => Self::NOT_SAFARI,
            Some("vorbis") if container == "webm" => Self::NOT_SAFARI,
            Some("ac-3" | "ec-3") if iso => Self::SAFARI,
            _ => Self::NONE,
        };
        video.and(audio)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_from_the_matrix() {
        assert_eq!(rotation(65536.0, 0.0), 0);
        assert_eq!(rotation(0.0, 65536.0), 90, "Apple's portrait matrix");
        assert_eq!(rotation(-65536.0, 0.0), 180);
        assert_eq!(rotation(0.0, -65536.0), 270);
        assert_eq!(rotation(0.0, 0.0), 0, "a degenerate matrix turns nothing");
    }

    #[test]
    fn matroska_codec_strings() {
        assert_eq!(matroska("V_VP9", None), "vp9");
        assert_eq!(matroska("V_VP9", Some(&[1, 1, 0, 2, 1, 31, 3, 1, 8])), "vp09.00.31.08");
        // av1C: marker|version, profile 0 level 8, tier 0 8-bit 4:2:0.
        assert_eq!(matroska("V_AV1", Some(&[0x81, 0x08, 0x0C, 0x00])), "av01.0.08M.08");
        assert_eq!(matroska("V_MPEG4/ISO/AVC", Some(&[1, 0x64, 0x00, 0x1F, 0xFF])), "avc1.64001F");
        assert_eq!(matroska("A_AAC", Some(&[0x12, 0x10])), "mp4a.40.2");
        assert_eq!(matroska("A_OPUS", Some(b"OpusHead")), "opus");
        assert_eq!(fourcc(b"Opus"), "opus");
        assert_eq!(fourcc(b"fLaC"), "flac");
    }

    #[test]
    fn the_browser_table() {
        assert!(Browsers::playing("mp4", "avc1.64001F", Some("mp4a.40.2")).all());
        assert_eq!(Browsers::playing("quicktime", "hvc1.1.6.L93.90", Some("mp4a.40.2")), Browsers::SAFARI);
        assert_eq!(Browsers::playing("webm", "vp9", Some("opus")), Browsers::NOT_SAFARI);
        assert_eq!(Browsers::playing("mp4", "av01.0.08M.08", None), Browsers::NOT_SAFARI);
        assert_eq!(Browsers::playing("matroska", "avc1.64001F", None), Browsers::NONE);
        assert_eq!(Browsers::playing("mp4", "avc1.64001F", Some("ac-3")), Browsers::SAFARI);
    }
}
