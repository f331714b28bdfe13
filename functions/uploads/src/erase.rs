//! Erasing one owner (an account closed, GDPR art. 17): every video and upload of theirs is
//! [`delete`]d, in runs of a bounded size so one invocation stays inside its time limit.
//!
//! A run can stop anywhere (its limit, a timeout, an outage) and the next picks up where it
//! stopped without remembering anything: a deleted video's tombstone leaves the owner's index,
//! so listing the owner again finds exactly what is left. When no record is left, everything S3
//! still holds under the owner's prefix goes (a run that died between a tombstone and S3 left
//! it), and so does what the store keeps of the owner beside records (their key prefix and
//! quota counter). Tombstones
//! keep the owner id until `purgeAt`, when DynamoDB's TTL removes them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{UploadError, delete};
use crate::app::Objects;
use crate::store::ListQuery;
use vidgate_domain::{Owner, keys};

/// The most videos one run deletes when the caller names no limit.
pub const DEFAULT_ERASE_LIMIT: u32 = 500;
/// The most one run may be asked to delete: about a minute of calls, well inside Lambda's 15.
pub const MAX_ERASE_LIMIT: u32 = 5000;

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Erasure {
    pub owner: String,
    /// Videos deleted by this run.
    pub deleted: u32,
    /// Of those, how many were in each state.
    pub by_status: BTreeMap<&'static str, u32>,
    /// Objects and multipart uploads under the owner's prefix that no record showed (removed
    /// by the last run).
    pub unrecorded_objects: usize,
    pub unrecorded_uploads: usize,
    /// Nothing of the owner is left: no video, no object or upload under their prefix, no
    /// prefix or quota item.
    pub done: bool,
}

/// Deletes up to `limit` of `owner`'s videos, newest first.
pub async fn erase_owner(app: &impl Objects, owner: &Owner, limit: u32) -> Result<Erasure, UploadError> {
    let mut erasure = Erasure { owner: owner.to_string(), ..Default::default() };
    let mut after = None;
    while erasure.deleted < limit {
        let page = app
            .videos()
            .list(&ListQuery {
                owner: owner.clone(),
                status: None,
                limit: (limit - erasure.deleted).min(100),
                after: after.take(),
            })
            .await?;
        for video in page.videos {
            let was = video.status.as_str();
            delete(app, video).await?;
            erasure.deleted += 1;
            *erasure.by_status.entry(was).or_default() += 1;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let left =
        app.videos().list(&ListQuery { owner: owner.clone(), status: None, limit: 1, after: None }).await?;
    if left.videos.is_empty() {
        // Whatever no record shows any more: a run that died between a tombstone and S3, an
        // object written with prefix-scoped credentials whose event never came.
        let prefix = keys::owner_prefix(owner);
        let (objects, uploads) = app.objects().clear_prefix(&prefix).await?;
        // And pictures of videos no record shows (a delete that died before removing them).
        let (pictures, _) = app.objects().clear_prefix(&keys::owner_images_prefix(owner)).await?;
        erasure.unrecorded_objects = objects + pictures;
        erasure.unrecorded_uploads = uploads;
        app.videos().forget_owner(owner, &prefix).await?;
        erasure.done = true;
    }
    tracing::info!(owner = %owner, deleted = erasure.deleted, done = erasure.done, "owner erasure run");
    Ok(erasure)
}
