//! A video record and the one state machine every write goes through.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::checksum::{Checksum, ChecksumAlgorithm};
use super::images::Images;
use super::link::{Limits, LinkId};
use super::media::Media;
use super::parts::PartPlan;
use super::time::{self, Timestamp};
use super::upload::NewUpload;

/// A video's id: a UUIDv7, so ids of one owner sort roughly by creation time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VideoId(Uuid);

/// How many expiry shards the sweeper walks (see `vidgate_aws::dynamodb`).
pub const EXPIRY_SHARDS: u8 = 8;

impl VideoId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// The id of an object that arrived without a record (written with prefix-scoped
    /// credentials): a UUIDv8 from a hash of its key, so every event for that object names the
    /// same record and duplicates can't create two.
    pub fn for_untracked_key(key: &str) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(key.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Self(Uuid::new_v8(bytes))
    }

    /// The expiry shard of this video, from the random tail of its UUIDv7.
    pub fn shard(&self) -> u8 {
        self.0.as_bytes()[15] % EXPIRY_SHARDS
    }
}

impl Default for VideoId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for VideoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Text that is not a video id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a video id")]
pub struct NotAVideoId;

impl FromStr for VideoId {
    type Err = NotAVideoId;

    /// Only the canonical lowercase hyphenated form is accepted, so a video has one spelling.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match Uuid::try_parse(s) {
            Ok(id) if id.hyphenated().to_string() == s => Ok(Self(id)),
            _ => Err(NotAVideoId),
        }
    }
}

/// The authenticated caller: the JWT `sub` claim the API Gateway authorizer vouched for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Owner(String);

impl Owner {
    pub fn new(sub: impl Into<String>) -> Self {
        Self(sub.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Uploading,
    Uploaded,
    Aborted,
    Expired,
    /// The bytes that arrived are not a video container; the reason is recorded.
    Rejected,
    /// Its owner deleted it: a tombstone (no filename, no metadata) kept until `purgeAt`, so a
    /// late S3 event, a retried complete or a sweep finds a final record and can't bring it back.
    Deleted,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Uploading,
        Status::Uploaded,
        Status::Aborted,
        Status::Expired,
        Status::Rejected,
        Status::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Uploading => "uploading",
            Status::Uploaded => "uploaded",
            Status::Aborted => "aborted",
            Status::Expired => "expired",
            Status::Rejected => "rejected",
            Status::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// A final state is never left: that is what makes retries and races harmless.
    pub fn is_final(self) -> bool {
        self != Status::Uploading
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who had S3 assemble a presigned upload's parts: its client (`complete`), or vidgate's own
/// pass once every part had arrived and the client went quiet. Uploads of the other methods are
/// assembled by their client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompletedBy {
    #[default]
    Client,
    Server,
}

impl CompletedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            CompletedBy::Client => "client",
            CompletedBy::Server => "server",
        }
    }

    /// The other one: who assembled the object when this one's own completion lost the race.
    pub fn other(self) -> Self {
        match self {
            CompletedBy::Client => CompletedBy::Server,
            CompletedBy::Server => CompletedBy::Client,
        }
    }
}

/// A state change. Stores apply it only if the record is still `uploading`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Complete {
        /// Who had the object assembled ([`Video::assembler`] when the path recording it did not).
        by: CompletedBy,
        size: u64,
        etag: String,
        /// What S3 reports of the object's checksum, when it has one.
        checksum: Option<Checksum>,
        /// The object version that was checked: the only one ever served.
        version: Option<String>,
        /// What its header says, for the containers vidgate reads ([`super::media`]).
        media: Option<Box<Media>>,
    },
    /// The object exists but is not a video.
    Reject {
        size: u64,
        etag: String,
        reason: String,
    },
    Abort,
    Expire,
}

impl Change {
    pub fn target(&self) -> Status {
        match self {
            Change::Complete { .. } => Status::Uploaded,
            Change::Reject { .. } => Status::Rejected,
            Change::Abort => Status::Aborted,
            Change::Expire => Status::Expired,
        }
    }
}

/// How the client sends the bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadMethod {
    /// The server started a multipart upload and presigns its parts.
    #[default]
    Presigned,
    /// The client holds temporary credentials for the one key and uploads with an AWS SDK.
    Credentials,
    /// The client `PUT`s the whole object to one presigned URL; S3's event (or an explicit
    /// complete) records its arrival.
    Put,
    /// The client runs S3's multipart API itself, each request to a URL vidgate presigned for
    /// this key alone (Uppy 6's `signRequest`); the S3 event records the arrival. The upload id
    /// is S3's and the client's, so none is stored: aborts end whatever is open on the key.
    Signed,
}

/// The record of one upload, as stored and (less the owner) as shown to its owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Video {
    pub id: VideoId,
    pub owner: Owner,
    pub status: Status,
    pub filename: String,
    pub content_type: String,
    /// Declared at creation (if known), then the real size once uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    pub key: String,
    #[serde(default)]
    pub method: UploadMethod,
    /// The S3 multipart upload the server started (presigned uploads only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    pub part_size: u64,
    /// The number of parts when the size was declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_count: Option<u32>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Why the bytes were rejected (status `rejected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject_reason: Option<String>,
    #[serde(with = "time")]
    pub created_at: Timestamp,
    #[serde(with = "time")]
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::option")]
    pub completed_at: Option<Timestamp>,
    /// The deadline after which an unfinished upload is abandoned.
    #[serde(with = "time")]
    pub expires_at: Timestamp,
    /// The bytes of its owner's quota this upload holds while `uploading` (its declared size, or
    /// the maximum video size); `None` for records counted against no quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_bytes: Option<u64>,
    /// The algorithm the upload declared: each part URL signs a checksum of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// The stored object's checksum, as S3 reported it when the object was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Checksum>,
    /// Duration, picture, codecs…, read from the container's header when the object was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<Box<Media>>,
    /// The S3 version of the object that was checked (a versioned bucket): every read and every
    /// playback URL names it, so bytes written over the key later are never served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The bytes this uploaded video holds of its owner's stored total (`Quota::stored`): set when
    /// an upload counted against the quota becomes `uploaded`, given back when it is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_bytes: Option<u64>,
    /// Its poster and storyboard: `pending` from the moment it is uploaded until the images
    /// function has made them (or said why it couldn't).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Images>,
    /// Whether vidgate completes the upload itself once every declared part is in S3 and the
    /// client has gone quiet (`autoComplete` at create; on unless the client said `false`).
    #[serde(default = "on")]
    pub auto_complete: bool,
    /// Who had the object assembled (uploaded videos).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_by: Option<CompletedBy>,
    /// The last time vidgate saw the upload move (a part URL signed, or a newer part listed by
    /// S3), written at most once per idle bound: an upload seen moving within the bound is not
    /// listed by the auto-complete pass.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::option")]
    pub active_at: Option<Timestamp>,
    /// When vidgate's pass went to complete the upload itself: a path that finds the object
    /// assembled without having asked for it knows it was the server.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::option")]
    pub server_completing_at: Option<Timestamp>,
    /// The upload link that started it ([`super::link`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_id: Option<LinkId>,
    /// Its link's limits, checked again when the bytes arrive (duration, type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

fn on() -> bool {
    true
}

/// A change to one owner's quota counters (`vidgate_uploads::config::Quota` holds the limits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaDelta {
    pub uploads: i64,
    pub in_flight: i64,
    pub stored: i64,
}

/// Why a change can't be applied: the record already reached a final state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("video is already {0}")]
pub struct AlreadyFinal(pub Status);

impl Video {
    /// The type playback answers with: the recorded one, always a video type for uploads the API
    /// started; for an object that arrived under a prefix without a video extension, the type of
    /// the container its header was read as; else `application/octet-stream`, which no browser
    /// renders as a page. Never what the object was stored with.
    pub fn playback_type(&self) -> &str {
        if self.content_type.starts_with("video/") {
            return &self.content_type;
        }
        match self.media.as_ref().map(|m| m.container.as_str()) {
            Some("mp4") => "video/mp4",
            Some("quicktime") => "video/quicktime",
            Some("webm") => "video/webm",
            Some("matroska") => "video/x-matroska",
            _ => "application/octet-stream",
        }
    }

    /// What leaving `uploading` by `change` (`None`: a delete) gives back to its owner's quota
    /// counters: the slot and the reservation; a completed video keeps its size of `stored`.
    /// `None` for a record counted against no quota. Stores apply it in the change's own write.
    pub fn released_by(&self, change: Option<&Change>) -> Option<QuotaDelta> {
        let reserved = self.quota_bytes? as i64;
        let kept = match change {
            Some(Change::Complete { size, .. }) => *size as i64,
            _ => 0,
        };
        Some(QuotaDelta { uploads: -1, in_flight: -reserved, stored: kept - reserved })
    }

    /// What deleting this record gives back: the reservation of an upload in progress, or the
    /// size an uploaded video keeps.
    pub fn released_by_delete(&self) -> Option<QuotaDelta> {
        match self.status {
            Status::Uploading => self.released_by(None),
            Status::Uploaded => {
                self.stored_bytes.map(|n| QuotaDelta { uploads: 0, in_flight: 0, stored: -(n as i64) })
            }
            _ => None,
        }
    }

    /// Makes this record the tombstone of a deleted video, from whatever state it is in (the
    /// same write stores make, conditioned on that state). What the owner said of the video
    /// (filename, metadata) goes; what stops a resurrection (id, owner, key, upload id) stays.
    pub fn bury(&mut self, at: Timestamp) -> Result<(), AlreadyFinal> {
        if self.status == Status::Deleted {
            return Err(AlreadyFinal(Status::Deleted));
        }
        self.status = Status::Deleted;
        self.filename = String::new();
        self.metadata.clear();
        // The pictures go with the object.
        self.images = None;
        self.updated_at = at;
        Ok(())
    }

    /// Applies `change` in memory with the same rule stores enforce with conditional writes.
    pub fn apply(&mut self, change: &Change, at: Timestamp) -> Result<(), AlreadyFinal> {
        if self.status.is_final() {
            return Err(AlreadyFinal(self.status));
        }
        self.status = change.target();
        self.updated_at = at;
        match change {
            Change::Complete { by, size, etag, checksum, version, media } => {
                self.completed_by = Some(*by);
                self.size = Some(*size);
                self.etag = Some(etag.clone());
                self.checksum = checksum.clone();
                self.version_id = version.clone();
                // Counted against the quota while uploading: now its size is kept, not reserved.
                self.stored_bytes = self.quota_bytes.map(|_| *size);
                self.media = media.clone();
                self.completed_at = Some(at);
                // The images function hears of it from the `Video Uploaded` event.
                self.images = Some(Images::pending());
            }
            Change::Reject { size, etag, reason } => {
                self.size = Some(*size);
                self.etag = Some(etag.clone());
                self.reject_reason = Some(reason.clone());
            }
            Change::Abort | Change::Expire => {}
        }
        Ok(())
    }

    /// The record of a new upload, `uploading` until its object arrives or `expires_at` passes.
    /// Every path that starts one (the API, or an object found under an owner's prefix) builds it
    /// here.
    pub fn uploading(
        id: VideoId,
        owner: Owner,
        key: String,
        upload: NewUpload,
        upload_id: Option<String>,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Video {
        Video {
            id,
            owner,
            status: Status::Uploading,
            filename: upload.filename,
            content_type: upload.content_type,
            size: upload.size,
            key,
            method: upload.method,
            upload_id,
            part_size: upload.plan.part_size,
            part_count: upload.plan.part_count,
            metadata: upload.metadata,
            etag: None,
            reject_reason: None,
            created_at: now,
            updated_at: now,
            completed_at: None,
            expires_at,
            quota_bytes: None,
            checksum_algorithm: upload.checksum_algorithm,
            checksum: None,
            media: None,
            version_id: None,
            stored_bytes: None,
            images: None,
            auto_complete: upload.auto_complete,
            completed_by: None,
            active_at: None,
            server_completing_at: None,
            link_id: None,
            limits: None,
        }
    }

    /// Who assembled this presigned upload's object, for a path that finds it assembled without
    /// having asked S3 itself (the S3 event, an abort or a sweep that came too late): the server
    /// if its pass had set out to, else the client.
    pub fn assembler(&self) -> CompletedBy {
        match (self.method, self.server_completing_at) {
            (UploadMethod::Presigned, Some(_)) => CompletedBy::Server,
            _ => CompletedBy::Client,
        }
    }

    /// Since when the upload has been quiet, as far as vidgate saw.
    pub fn quiet_since(&self) -> Timestamp {
        self.active_at.map_or(self.created_at, |at| at.max(self.created_at))
    }

    /// How the upload is cut into parts (its highest part number is `plan().max_parts(..)`).
    pub fn plan(&self) -> PartPlan {
        PartPlan { part_size: self.part_size, part_count: self.part_count }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::video as sample;

    #[test]
    fn playback_answers_a_video_type_or_one_no_browser_renders() {
        let mut v = sample("alice");
        assert_eq!(v.playback_type(), "video/mp4");
        v.content_type = "application/octet-stream".into();
        assert_eq!(v.playback_type(), "application/octet-stream");
        v.content_type = "text/html".into();
        assert_eq!(v.playback_type(), "application/octet-stream");
        // An object under a prefix named without a video extension, read as an MP4 at arrival.
        let mut header = super::super::media::sparse::Sparse::new(1 << 20);
        header.insert(0, super::super::media::synthetic_prefix());
        let mut media = super::super::media::read("mp4", &mut header).expect("the synthetic header");
        v.media = Some(Box::new(media.clone()));
        assert_eq!(v.playback_type(), "video/mp4");
        media.container = "webm".into();
        v.media = Some(Box::new(media));
        assert_eq!(v.playback_type(), "video/webm");
    }

    #[test]
    fn given_uploading_when_completed_then_uploaded_with_size_and_etag() {
        let mut v = sample("alice");
        let at = time::now();
        v.apply(
            &Change::Complete {
                by: CompletedBy::Client,
                size: 42,
                etag: "\"e\"".into(),
                checksum: None,
                version: None,
                media: None,
            },
            at,
        )
        .unwrap();
        assert_eq!(v.status, Status::Uploaded);
        assert_eq!(v.size, Some(42));
        assert_eq!(v.etag.as_deref(), Some("\"e\""));
        assert_eq!(v.completed_at, Some(at));
    }

    #[test]
    fn given_a_final_state_when_any_change_then_refused_and_unchanged() {
        for start in [Status::Uploaded, Status::Aborted, Status::Expired, Status::Rejected] {
            for change in [
                Change::Complete {
                    by: CompletedBy::Client,
                    size: 1,
                    etag: "x".into(),
                    checksum: None,
                    version: None,
                    media: None,
                },
                Change::Abort,
                Change::Expire,
            ] {
                let mut v = sample("alice");
                v.status = start;
                let before = v.clone();
                assert_eq!(v.apply(&change, time::now()), Err(AlreadyFinal(start)));
                assert_eq!(v, before);
            }
        }
    }

    #[test]
    fn given_uploading_when_aborted_or_expired_then_that_state() {
        for change in [Change::Abort, Change::Expire] {
            let mut v = sample("alice");
            v.apply(&change, time::now()).unwrap();
            assert_eq!(v.status, change.target());
            assert_eq!(v.completed_at, None);
        }
    }

    #[test]
    fn any_state_but_deleted_is_buried_once_and_the_tombstone_forgets_what_the_owner_said() {
        for start in [Status::Uploading, Status::Uploaded, Status::Aborted, Status::Expired, Status::Rejected]
        {
            let mut v = sample("alice");
            v.status = start;
            v.metadata.insert("title".into(), "Holiday".into());
            let at = time::now();
            v.bury(at).unwrap();
            assert_eq!(
                (v.status, v.filename.as_str(), v.metadata.len(), v.updated_at),
                (Status::Deleted, "", 0, at)
            );
            let before = v.clone();
            assert_eq!(v.bury(time::now()), Err(AlreadyFinal(Status::Deleted)));
            assert_eq!(v.apply(&Change::Abort, time::now()), Err(AlreadyFinal(Status::Deleted)));
            assert_eq!(v, before);
        }
    }

    #[test]
    fn status_text_round_trips() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("Uploading"), None);
    }

    #[test]
    fn video_ids_accept_only_the_canonical_form() {
        let id = VideoId::new();
        assert_eq!(id.to_string().parse::<VideoId>().unwrap(), id);
        assert!(id.to_string().to_uppercase().parse::<VideoId>().is_err());
        assert!(id.to_string().replace('-', "").parse::<VideoId>().is_err());
        assert!("../etc/passwd".parse::<VideoId>().is_err());
    }
}
