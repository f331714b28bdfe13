//! Fixtures for tests of this crate and the crates above it (feature `test-util`).

use std::collections::BTreeMap;

use crate::time;
use crate::video::{Owner, Status, UploadMethod, Video, VideoId};

/// A video being uploaded by `owner` with a presigned multipart upload of one part: the one
/// `Video` literal of the tests; a test changes what it is about with `Video { .., ..video(owner) }`.
pub fn video(owner: &str) -> Video {
    let now = time::now();
    Video {
        id: VideoId::new(),
        owner: Owner::new(owner),
        status: Status::Uploading,
        filename: "clip.mp4".into(),
        content_type: "video/mp4".into(),
        size: Some(10),
        key: "videos/x/y.mp4".into(),
        method: UploadMethod::Presigned,
        upload_id: Some("u-1".into()),
        part_size: 5 * 1024 * 1024,
        part_count: Some(1),
        metadata: BTreeMap::new(),
        etag: None,
        reject_reason: None,
        created_at: now,
        updated_at: now,
        completed_at: None,
        expires_at: now,
        quota_bytes: None,
        checksum_algorithm: None,
        checksum: None,
        media: None,
        version_id: None,
        stored_bytes: None,
        images: None,
        auto_complete: true,
        completed_by: None,
        active_at: None,
        server_completing_at: None,
        link_id: None,
        limits: None,
    }
}

/// CRC-64/NVME's check value (of `b"123456789"`), the reference every CRC-64 of S3's kind is held
/// to: the domain's checksums and the CLI's.
pub const CRC64NVME_OF_123456789: u64 = 0xAE8B14860A799888;

/// What the media reader says of a landscape 1080p H.264 MP4 of `duration_ms`.
pub fn media(duration_ms: u64) -> crate::media::Media {
    crate::media::Media {
        container: "mp4".into(),
        duration_ms: Some(duration_ms),
        width: 1920,
        height: 1080,
        rotation: 0,
        display_aspect_ratio: "16:9".into(),
        frame_rate: Some(30.0),
        bitrate: None,
        video_codec: "avc1.640028".into(),
        audio_codec: None,
        audio_channels: None,
        audio_sample_rate: None,
        faststart: Some(true),
        browser_playable: true,
        browsers: crate::media::Browsers::playing("mp4", "avc1.640028", None),
    }
}
