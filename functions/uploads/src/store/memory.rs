//! An in-memory `VideoStore` for unit tests, with the same conditional semantics as DynamoDB.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;

use super::{ListQuery, Note, Page, PageKey, QuotaUse, StoreError, VideoStore};
use crate::config::Quota;
use vidgate_domain::images::Images;
use vidgate_domain::link::{LinkId, LinkStatus, UploadLink};
use vidgate_domain::time::Timestamp;
use vidgate_domain::{Change, Owner, Status, UploadMethod, Video, VideoId};

#[derive(Default)]
pub struct MemoryVideoStore {
    videos: Mutex<HashMap<VideoId, Video>>,
    /// Locked only while `videos` is, so a record and its owner's count change together.
    quotas: Mutex<HashMap<Owner, QuotaUse>>,
    prefixes: Mutex<HashMap<String, Owner>>,
    /// Locked only while `videos` is, as the link and its video are written together.
    links: Mutex<HashMap<LinkId, UploadLink>>,
    unavailable: AtomicBool,
}

impl MemoryVideoStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Overwrites a record as it is, bypassing every rule (tests back-date uploads with it).
    pub fn replace(&self, video: Video) {
        self.lock().insert(video.id, video);
    }

    /// Makes every call fail as if the service could not be reached.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("memory store switched off".into()));
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<VideoId, Video>> {
        self.videos.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn quotas(&self) -> std::sync::MutexGuard<'_, HashMap<Owner, QuotaUse>> {
        self.quotas.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies a record change's `delta` to its owner's counters (called with `videos` locked).
    fn count(&self, owner: &Owner, delta: Option<vidgate_domain::QuotaDelta>) {
        if let Some(delta) = delta {
            let mut quotas = self.quotas();
            let held = quotas.entry(owner.clone()).or_default();
            *held = held.apply(delta);
        }
    }

    /// A start's checks and writes, under the records' lock.
    fn insert_counted(&self, video: &Video, quota: &Quota) -> Result<(), StoreError> {
        let mut videos = self.lock();
        let mut quotas = self.quotas();
        let held = quotas.get(&video.owner).copied().unwrap_or_default();
        let bytes = video.quota_bytes.unwrap_or(0);
        if held.uploads >= u64::from(quota.uploads)
            || held.bytes.saturating_add(bytes) > quota.bytes
            || held.stored.saturating_add(bytes) > quota.stored
        {
            return Err(StoreError::QuotaExceeded(held));
        }
        if videos.contains_key(&video.id) {
            return Err(StoreError::ConditionFailed);
        }
        videos.insert(video.id, video.clone());
        quotas.insert(
            video.owner.clone(),
            QuotaUse { uploads: held.uploads + 1, bytes: held.bytes + bytes, stored: held.stored + bytes },
        );
        Ok(())
    }
}

#[async_trait]
impl VideoStore for MemoryVideoStore {
    async fn insert(&self, video: &Video) -> Result<(), StoreError> {
        self.check()?;
        let mut videos = self.lock();
        if videos.contains_key(&video.id) {
            return Err(StoreError::ConditionFailed);
        }
        videos.insert(video.id, video.clone());
        Ok(())
    }

    async fn start(&self, video: &Video, quota: &Quota) -> Result<(), StoreError> {
        self.check()?;
        self.insert_counted(video, quota)
    }

    async fn start_with_link(
        &self,
        video: &Video,
        quota: &Quota,
        link: &LinkId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.check()?;
        // The link's lock, then the records' (as `insert_counted` takes it): one order.
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        let stored = links.get_mut(link).ok_or(StoreError::LinkSpent)?;
        if stored.status != LinkStatus::Open || stored.is_expired(now) {
            return Err(StoreError::LinkSpent);
        }
        self.insert_counted(video, quota)?;
        stored.status = LinkStatus::Used;
        stored.video_id = Some(video.id);
        Ok(())
    }

    async fn put_link(&self, link: &UploadLink) -> Result<(), StoreError> {
        self.check()?;
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        if links.contains_key(&link.link_id) {
            return Err(StoreError::ConditionFailed);
        }
        links.insert(link.link_id, link.clone());
        Ok(())
    }

    async fn get_link(&self, id: &LinkId) -> Result<Option<UploadLink>, StoreError> {
        self.check()?;
        Ok(self.links.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned())
    }

    async fn quota_use(&self, owner: &Owner) -> Result<QuotaUse, StoreError> {
        self.check()?;
        let _videos = self.lock();
        Ok(self.quotas().get(owner).copied().unwrap_or_default())
    }

    async fn get(&self, id: &VideoId) -> Result<Option<Video>, StoreError> {
        self.check()?;
        Ok(self.lock().get(id).cloned())
    }

    async fn transition(&self, current: &Video, change: &Change, at: Timestamp) -> Result<Video, StoreError> {
        self.check()?;
        let mut videos = self.lock();
        let video = videos.get_mut(&current.id).ok_or(StoreError::ConditionFailed)?;
        let delta = video.released_by(Some(change)).filter(|_| video.status == Status::Uploading);
        video.apply(change, at).map_err(|_| StoreError::ConditionFailed)?;
        self.count(&video.owner, delta);
        Ok(video.clone())
    }

    async fn bury(&self, current: &Video, at: Timestamp) -> Result<Video, StoreError> {
        self.check()?;
        let mut videos = self.lock();
        let video = videos.get_mut(&current.id).ok_or(StoreError::ConditionFailed)?;
        if video.status != current.status {
            return Err(StoreError::ConditionFailed);
        }
        let delta = video.released_by_delete();
        video.bury(at).map_err(|_| StoreError::ConditionFailed)?;
        self.count(&video.owner, delta);
        Ok(video.clone())
    }

    async fn set_images(
        &self,
        current: &Video,
        rev: Option<u32>,
        images: &Images,
        at: Timestamp,
    ) -> Result<Video, StoreError> {
        self.check()?;
        let mut videos = self.lock();
        let video = videos.get_mut(&current.id).ok_or(StoreError::ConditionFailed)?;
        if video.status != Status::Uploaded || video.images.as_ref().map(|i| i.rev) != rev {
            return Err(StoreError::ConditionFailed);
        }
        video.images = Some(images.clone());
        video.updated_at = at;
        Ok(video.clone())
    }

    async fn list_expired(&self, shard: u8, now: Timestamp, limit: u32) -> Result<Vec<Video>, StoreError> {
        self.check()?;
        let mut due: Vec<Video> = self
            .lock()
            .values()
            .filter(|v| v.status == Status::Uploading && v.id.shard() == shard && v.expires_at < now)
            .cloned()
            .collect();
        due.sort_by_key(|v| v.expires_at);
        due.truncate(limit as usize);
        Ok(due)
    }

    async fn list_quiet(
        &self,
        shard: u8,
        quiet_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<Video>, StoreError> {
        self.check()?;
        let mut quiet: Vec<Video> = self
            .lock()
            .values()
            .filter(|v| v.status == Status::Uploading && v.id.shard() == shard && v.auto_complete)
            .filter(|v| {
                v.method == UploadMethod::Presigned && v.upload_id.is_some() && v.part_count.is_some()
            })
            .filter(|v| v.quiet_since() < quiet_before)
            .cloned()
            .collect();
        quiet.sort_by_key(|v| v.expires_at);
        quiet.truncate(limit as usize);
        Ok(quiet)
    }

    async fn note(&self, current: &Video, note: Note, at: Timestamp) -> Result<(), StoreError> {
        self.check()?;
        let mut videos = self.lock();
        let Some(stored) = videos.get_mut(&current.id).filter(|v| v.status == Status::Uploading) else {
            return Err(StoreError::ConditionFailed);
        };
        match note {
            Note::Active => stored.active_at = Some(at),
            Note::ServerCompleting => stored.server_completing_at = Some(at),
        }
        Ok(())
    }

    async fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
        self.check()?;
        let mut mine: Vec<Video> = self
            .lock()
            .values()
            .filter(|v| v.owner == query.owner && v.status != Status::Deleted)
            .filter(|v| query.status.is_none_or(|s| v.status == s))
            .cloned()
            .collect();
        mine.sort_by_key(|v| std::cmp::Reverse((v.created_at, v.id)));
        if let Some(after) = &query.after {
            mine.retain(|v| (v.created_at, v.id) < (after.created_at, after.id));
        }
        let limit = query.limit as usize;
        let next = (mine.len() > limit).then(|| {
            let last = &mine[limit - 1];
            PageKey { id: last.id, created_at: last.created_at }
        });
        mine.truncate(limit);
        Ok(Page { videos: mine, next })
    }

    async fn remember_prefix(&self, prefix: &str, owner: &Owner) -> Result<(), StoreError> {
        self.check()?;
        self.prefixes.lock().unwrap_or_else(|p| p.into_inner()).insert(prefix.to_owned(), owner.clone());
        Ok(())
    }

    async fn prefix_owner(&self, prefix: &str) -> Result<Option<Owner>, StoreError> {
        self.check()?;
        Ok(self.prefixes.lock().unwrap_or_else(|p| p.into_inner()).get(prefix).cloned())
    }

    async fn forget_owner(&self, owner: &Owner, prefix: &str) -> Result<(), StoreError> {
        self.check()?;
        self.prefixes.lock().unwrap_or_else(|p| p.into_inner()).remove(prefix);
        let _videos = self.lock();
        let mut quotas = self.quotas();
        if quotas.get(owner).is_some_and(|q| q.uploads == 0) {
            quotas.remove(owner);
        }
        Ok(())
    }
}
