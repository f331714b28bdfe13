//! The `VideoStore` port: upload records, with conditional state changes.

pub mod dynamodb;
pub mod memory;
pub mod uploaded;

use async_trait::async_trait;

use crate::domain::time::Timestamp;
use crate::domain::{Change, Owner, Status, Video, VideoId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write's condition did not hold: the id exists already, or the record is not (or no
    /// longer) `uploading`.
    #[error("condition failed")]
    ConditionFailed,
    /// The store can't be reached or is throttling; worth retrying later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or a misconfiguration.
    #[error("store error: {0}")]
    Other(String),
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

#[async_trait]
pub trait VideoStore: Send + Sync {
    /// Stores a new record; fails with `ConditionFailed` if the id is taken.
    async fn insert(&self, video: &Video) -> Result<(), StoreError>;

    async fn get(&self, id: &VideoId) -> Result<Option<Video>, StoreError>;

    /// Applies `change` to the stored record of `current` only if that record is still
    /// `uploading`, whatever `current` says; returns the new record. `ConditionFailed` when it is
    /// already final or does not exist.
    async fn transition(&self, current: &Video, change: &Change, at: Timestamp) -> Result<Video, StoreError>;

    /// Up to `limit` `uploading` records of expiry shard `shard` whose deadline is before `now`.
    async fn list_expired(&self, shard: u8, now: Timestamp, limit: u32) -> Result<Vec<Video>, StoreError>;

    /// The owner's videos, newest first.
    async fn list(&self, query: &ListQuery) -> Result<Page, StoreError>;

    /// Remembers whose key prefix (`keys::owner_prefix`) this is. Prefixes are hashes, and an
    /// object written under one with prefix-scoped credentials (`GET /s3/sts`) has no record
    /// yet: the S3 event finds its owner here. Idempotent.
    async fn remember_prefix(&self, prefix: &str, owner: &Owner) -> Result<(), StoreError>;

    /// The owner [`VideoStore::remember_prefix`] recorded for `prefix`.
    async fn prefix_owner(&self, prefix: &str) -> Result<Option<Owner>, StoreError>;
}
