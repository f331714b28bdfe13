//! Where uploads land in the bucket.
//!
//! Keys are built only from server-made parts: a hash of the owner (so an IAM policy can be scoped
//! to `videos/<hash>/*` for one owner) and the video id, plus an extension chosen from the content
//! type. No client text becomes a path segment.

use sha2::{Digest, Sha256};

use super::{Owner, VideoId};

/// The top-level prefix of every upload.
pub const ROOT: &str = "videos";

/// 32 hex digits (128 bits) of SHA-256 of the owner id: stable, opaque, collision-free in practice.
pub fn owner_prefix(owner: &Owner) -> String {
    let digest = Sha256::digest(owner.as_str().as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{ROOT}/{hex}/")
}

/// `videos/<owner hash>/<video id><.ext>`.
pub fn object_key(owner: &Owner, id: &VideoId, extension: &str) -> String {
    format!("{}{id}{extension}", owner_prefix(owner))
}

/// The top-level prefix of every video's pictures. Outside [`ROOT`], so no upload credential
/// (scoped to `videos/…`) can write one.
pub const IMAGES_ROOT: &str = "images";

/// `images/<owner hash>/`: every picture of one owner's videos.
pub fn owner_images_prefix(owner: &Owner) -> String {
    format!("{IMAGES_ROOT}/{}", &owner_prefix(owner)[ROOT.len() + 1..])
}

/// `images/<owner hash>/<video id>/`: one video's poster and sprites, and nothing else.
pub fn images_prefix(owner: &Owner, id: &VideoId) -> String {
    format!("{}{id}/", owner_images_prefix(owner))
}

/// The poster taken at `time_ms`: a new moment is a new key, so no cache serves an old one.
pub fn poster_key(owner: &Owner, id: &VideoId, time_ms: u64) -> String {
    format!("{}{}", images_prefix(owner, id), poster_name(time_ms))
}

/// Storyboard sprite `n`.
pub fn sprite_key(owner: &Owner, id: &VideoId, n: u32) -> String {
    format!("{}{}", images_prefix(owner, id), sprite_name(n))
}

/// `poster-<timeMs>.jpg`: the poster's name under its video's prefix (and in its URLs).
pub fn poster_name(time_ms: u64) -> String {
    format!("poster-{time_ms}.jpg")
}

/// `storyboard-<n>.jpg`.
pub fn sprite_name(n: u32) -> String {
    format!("storyboard-{n}.jpg")
}

/// What an image name in a URL names; `None` for anything that is not one, exactly as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageName {
    Poster(u64),
    Sprite(u32),
}

impl ImageName {
    pub fn parse(name: &str) -> Option<Self> {
        // Canonical decimal: one spelling per number.
        let number = |d: &str| {
            !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) && (d == "0" || !d.starts_with('0'))
        };
        let stem = name.strip_suffix(".jpg")?;
        if let Some(t) = stem.strip_prefix("poster-").filter(|d| number(d)) {
            return t.parse().ok().map(ImageName::Poster);
        }
        let n = stem.strip_prefix("storyboard-").filter(|d| number(d))?;
        n.parse().ok().map(ImageName::Sprite)
    }
}

/// The owner prefix (`videos/<hash>/`) a key sits under, if it sits under one and names an
/// object below it.
pub fn prefix_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(ROOT)?.strip_prefix('/')?;
    let (hash, name) = rest.split_once('/')?;
    let is_hash = hash.len() == 32 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    (is_hash && !name.is_empty()).then(|| &key[..ROOT.len() + 1 + hash.len() + 1])
}

/// The video id in a key the server made: `videos/<owner hash>/<video id><.ext>`.
pub fn video_id_of(key: &str) -> Option<VideoId> {
    let name = &key[prefix_of(key)?.len()..];
    if name.contains('/') {
        return None;
    }
    name.get(..36)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sit_under_a_stable_per_owner_prefix() {
        let alice = Owner::new("alice");
        let id = VideoId::new();
        let key = object_key(&alice, &id, ".mp4");
        assert!(key.starts_with(&owner_prefix(&alice)));
        assert!(key.ends_with(&format!("{id}.mp4")));
        assert_eq!(owner_prefix(&alice), owner_prefix(&Owner::new("alice")));
        assert_ne!(owner_prefix(&alice), owner_prefix(&Owner::new("bob")));
    }

    #[test]
    fn pictures_sit_under_their_video_apart_from_uploads() {
        let (alice, id) = (Owner::new("alice"), VideoId::new());
        let hash = &owner_prefix(&alice)["videos/".len()..];
        assert_eq!(images_prefix(&alice, &id), format!("images/{hash}{id}/"));
        assert!(poster_key(&alice, &id, 1500).starts_with(&images_prefix(&alice, &id)));
        assert!(sprite_key(&alice, &id, 1).ends_with("/storyboard-1.jpg"));
        assert_eq!(prefix_of(&poster_key(&alice, &id, 0)), None);
    }

    #[test]
    fn image_names_read_back_as_written_and_nothing_else() {
        assert_eq!(ImageName::parse(&poster_name(1500)), Some(ImageName::Poster(1500)));
        assert_eq!(ImageName::parse(&sprite_name(0)), Some(ImageName::Sprite(0)));
        for bad in [
            "poster-01.jpg",
            "poster-.jpg",
            "poster-1.png",
            "../x.jpg",
            "storyboard--1.jpg",
            "poster-1.jpg/",
            "x",
        ] {
            assert_eq!(ImageName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn prefixes_and_ids_come_back_out_of_keys() {
        let id = VideoId::new();
        let key = object_key(&Owner::new("alice"), &id, ".mp4");
        assert_eq!(prefix_of(&key), Some(owner_prefix(&Owner::new("alice")).as_str()));
        assert_eq!(video_id_of(&key), Some(id));
        let hash = "a".repeat(32);
        assert_eq!(video_id_of(&format!("videos/{hash}/{id}")), Some(id));
        assert_eq!(prefix_of(&format!("videos/{hash}/clip.mp4")), Some(format!("videos/{hash}/").as_str()));
        assert_eq!(video_id_of(&format!("videos/{hash}/clip.mp4")), None);
        assert_eq!(video_id_of(&format!("videos/{hash}/x/{id}.mp4")), None);
        for foreign in [
            "videos/short/x.mp4",
            "uploads/x.mp4",
            &format!("videos/{hash}/"),
            &format!("videos/{}/x", "A".repeat(32)),
        ] {
            assert_eq!(prefix_of(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn hostile_owner_ids_never_reach_the_key() {
        let owner = Owner::new("../../etc/passwd/ ?#");
        let key = object_key(&owner, &VideoId::new(), ".webm");
        assert!(!key.contains(".."));
        assert!(key[ROOT.len() + 1..].chars().all(|c| c.is_ascii_alphanumeric() || "-/.".contains(c)));
        assert_eq!(key.split('/').count(), 3);
    }
}
