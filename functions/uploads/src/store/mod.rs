//! The `VideoStore` port: upload records, with conditional state changes.

#[cfg(any(test, feature = "test-util"))]
pub mod memory;
pub mod uploaded;

use async_trait::async_trait;

use crate::config::Quota;
use vidgate_domain::images::Images;
use vidgate_domain::link::{LinkId, UploadLink};
use vidgate_domain::time::Timestamp;
use vidgate_domain::{Change, Owner, Status, Video, VideoId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write's condition did not hold: the id exists already, or the record is not (or no
    /// longer) `uploading`.
    #[error("condition failed")]
    ConditionFailed,
    /// The store can't be reached or is throttling; worth retrying later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Starting the upload would take its owner past a bound of their quota; what they hold now.
    #[error("quota exceeded: {0:?}")]
    QuotaExceeded(QuotaUse),
    /// The upload link was used already, or expired: nothing was written.
    #[error("upload link spent")]
    LinkSpent,
    /// Anything else: a bug or a misconfiguration.
    #[error("store error: {0}")]
    Other(String),
}

/// What one owner holds of their [`Quota`]: uploads in progress, the bytes they reserve, and the
/// bytes of those reservations and uploaded videos together (`stored`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuotaUse {
    pub uploads: u64,
    pub bytes: u64,
    pub stored: u64,
}

impl QuotaUse {
    /// The counters after `delta`, never below zero.
    pub fn apply(self, delta: vidgate_domain::QuotaDelta) -> Self {
        let add = |n: u64, d: i64| {
            if d < 0 { n.saturating_sub(d.unsigned_abs()) } else { n.saturating_add(d as u64) }
        };
        Self {
            uploads: add(self.uploads, delta.uploads),
            bytes: add(self.bytes, delta.in_flight),
            stored: add(self.stored, delta.stored),
        }
    }
}

/// Where a page of a listing starts: the last item of the previous page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageKey {
    pub id: VideoId,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery {
    pub owner: Owner,
    pub status: Option<Status>,
    pub limit: u32,
    pub after: Option<PageKey>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub videos: Vec<Video>,
    pub next: Option<PageKey>,
}

/// What [`VideoStore::note`] writes of an upload in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Note {
    /// It moved: a part URL was signed, or S3 listed a part newer than the last note
    /// (`Video::active_at`).
    Active,
    /// vidgate's pass is about to have S3 assemble it (`Video::server_completing_at`).
    ServerCompleting,
}

#[async_trait]
pub trait VideoStore: Send + Sync {
    /// Stores a new record, counted against no quota (an object that arrived without one);
    /// fails with `ConditionFailed` if the id is taken.
    async fn insert(&self, video: &Video) -> Result<(), StoreError>;

    /// Stores a new `uploading` record and, in the same atomic write, counts it and its
    /// `quota_bytes` against its owner's `quota`: `QuotaExceeded` (nothing written) if either
    /// bound would be passed, so concurrent starts can never overshoot. Every change out of
    /// `uploading` ([`VideoStore::transition`]) gives the share back, in the same write.
    async fn start(&self, video: &Video, quota: &Quota) -> Result<(), StoreError>;

    /// [`VideoStore::start`], and in the same atomic write upload link `link` marked used by this
    /// video: `LinkSpent` (nothing written) if the link is used already or expired at `now`, so
    /// of two starts racing on one link exactly one wins.
    async fn start_with_link(
        &self,
        video: &Video,
        quota: &Quota,
        link: &LinkId,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Stores a new upload link; `ConditionFailed` if its id is taken.
    async fn put_link(&self, link: &UploadLink) -> Result<(), StoreError>;

    async fn get_link(&self, id: &LinkId) -> Result<Option<UploadLink>, StoreError>;

    /// What `owner`'s uploads in progress hold now.
    async fn quota_use(&self, owner: &Owner) -> Result<QuotaUse, StoreError>;

    async fn get(&self, id: &VideoId) -> Result<Option<Video>, StoreError>;

    /// Applies `change` to the stored record of `current` only if that record is still
    /// `uploading`, whatever `current` says; returns the new record. `ConditionFailed` when it is
    /// already final or does not exist.
    async fn transition(&self, current: &Video, change: &Change, at: Timestamp) -> Result<Video, StoreError>;

    /// Turns the stored record of `current` into the tombstone of a deleted video
    /// ([`Video::bury`]) only if it is still in `current.status`; leaving `uploading` gives the
    /// quota share back in the same write. Tombstones carry no index attribute: no listing sees
    /// them. `ConditionFailed` when the record changed (read it again) or is already deleted.
    async fn bury(&self, current: &Video, at: Timestamp) -> Result<Video, StoreError>;

    /// Replaces the images of an `uploaded` record whose images are still at request `rev` (the
    /// one the caller is answering; `None`: it has none yet); returns the new record.
    /// `ConditionFailed` when the video was deleted meanwhile, or another request was made.
    async fn set_images(
        &self,
        current: &Video,
        rev: Option<u32>,
        images: &Images,
        at: Timestamp,
    ) -> Result<Video, StoreError>;

    /// Up to `limit` `uploading` records of expiry shard `shard` whose deadline is before `now`.
    async fn list_expired(&self, shard: u8, now: Timestamp, limit: u32) -> Result<Vec<Video>, StoreError>;

    /// Up to `limit` `uploading` records of expiry shard `shard` that vidgate may complete itself
    /// and that have been quiet since before `quiet_before`: `autoComplete` on, a server-side
    /// multipart upload of declared size, created and last seen moving ([`Video::active_at`])
    /// before it.
    async fn list_quiet(
        &self,
        shard: u8,
        quiet_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<Video>, StoreError>;

    /// Writes what vidgate saw of an upload in progress, only while it is still `uploading`
    /// (`ConditionFailed` otherwise).
    async fn note(&self, current: &Video, note: Note, at: Timestamp) -> Result<(), StoreError>;

    /// The owner's videos, newest first.
    async fn list(&self, query: &ListQuery) -> Result<Page, StoreError>;

    /// Remembers whose key prefix (`keys::owner_prefix`) this is. Prefixes are hashes, and an
    /// object written under one with prefix-scoped credentials (`GET /s3/sts`) has no record
    /// yet: the S3 event finds its owner here. Idempotent.
    async fn remember_prefix(&self, prefix: &str, owner: &Owner) -> Result<(), StoreError>;

    /// The owner [`VideoStore::remember_prefix`] recorded for `prefix`.
    async fn prefix_owner(&self, prefix: &str) -> Result<Option<Owner>, StoreError>;

    /// Forgets what the store keeps of `owner` beside their records, once they have none left:
    /// the prefix item of `prefix` and their quota counter (only while it counts no upload, so a
    /// start racing this keeps its count). Idempotent.
    async fn forget_owner(&self, owner: &Owner, prefix: &str) -> Result<(), StoreError>;
}
