//! Is it a video? A look at an object's first bytes for the container formats we accept.
//!
//! Content types are what clients claim; these signatures are what arrived. Uploads whose bytes
//! match none are recorded `rejected` instead of `uploaded`, so nothing else gets served as video.

/// How many leading bytes `container` wants (an MPEG-TS packet and the next sync byte).
pub const SNIFF_BYTES: u64 = 189;

/// The container the bytes start with, or `None`.
pub fn container(head: &[u8]) -> Option<&'static str> {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    // ISO BMFF (MP4, M4V, 3GP) and QuickTime: a box size, then the box type.
    if at(4, b"ftyp") {
        return Some("mp4");
    }
    if [b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"].iter().any(|t| at(4, *t)) {
        return Some("quicktime");
    }
    if at(0, &[0x1A, 0x45, 0xDF, 0xA3]) {
        return Some("matroska"); // WebM too
    }
    if at(0, b"RIFF") && at(8, b"AVI ") {
        return Some("avi");
    }
    if at(0, b"OggS") {
        return Some("ogg");
    }
    if at(0, b"FLV\x01") {
        return Some("flv");
    }
    if at(0, &[0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11]) {
        return Some("asf");
    }
    if at(0, &[0x00, 0x00, 0x01, 0xBA]) {
        return Some("mpeg-ps");
    }
    if head.first() == Some(&0x47) && head.get(188) == Some(&0x47) {
        return Some("mpeg-ts");
    }
    None
}

/// The reason recorded for bytes that are not a video.
pub fn rejection(head: &[u8]) -> Option<String> {
    if head.is_empty() {
        return Some("the object is empty".into());
    }
    container(head).is_none().then(|| {
        "the first bytes are not a known video container (MP4/QuickTime, WebM/Matroska, AVI, \
         MPEG, Ogg, FLV, ASF)"
            .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_containers_are_recognised() {
        let fixture =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/clip.mp4")).unwrap();
        assert_eq!(container(&fixture[..SNIFF_BYTES as usize]), Some("mp4"));
        assert_eq!(container(b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00"), Some("mp4"));
        assert_eq!(container(b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat"), Some("quicktime"));
        assert_eq!(container(&[0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81]), Some("matroska"));
        assert_eq!(container(b"RIFF\x00\x00\x00\x00AVI LIST"), Some("avi"));
        let mut ts = vec![0u8; 189];
        ts[0] = 0x47;
        ts[188] = 0x47;
        assert_eq!(container(&ts), Some("mpeg-ts"));
    }

    #[test]
    fn other_bytes_are_rejected_with_a_reason() {
        assert!(rejection(b"%PDF-1.7\n").unwrap().contains("not a known video container"));
        assert!(rejection(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR").is_some());
        assert_eq!(rejection(b"").as_deref(), Some("the object is empty"));
        assert_eq!(container(b"ftyp"), None, "too short to hold a box");
        assert_eq!(rejection(b"\x00\x00\x00\x18ftypmp42"), None);
    }

    /// The cases web/sniff.mjs is tested against too: the page refuses what the server would.
    #[test]
    fn the_cases_shared_with_the_web_page_sniff_as_listed() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/sniff-cases.json"
        ))
        .unwrap();
        let cases: serde_json::Value = serde_json::from_str(&text).unwrap();
        let cases = cases["cases"].as_array().unwrap();
        assert!(cases.len() >= 15);
        for case in cases {
            let hex = case["hex"].as_str().unwrap();
            let bytes: Vec<u8> =
                (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
            assert_eq!(container(&bytes), case["container"].as_str(), "{}", case["name"]);
            assert_eq!(rejection(&bytes).is_none(), case["container"].is_string(), "{}", case["name"]);
        }
    }
}
