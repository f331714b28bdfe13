//! The DynamoDB adapter of `VideoStore`.
//!
//! One table keyed by `id`. Two GSIs list an owner's videos newest first: `byOwner` (all) and
//! `byOwnerStatus` (partition `"<owner>#<status>"`), so a status filter is a key condition and pages
//! stay full instead of being thinned by a filter expression. Every state change is an `UpdateItem`
//! conditioned on `status = uploading`.
//!
//! A third, sparse GSI `byExpiry` finds abandoned uploads without a scan: only `uploading` items
//! carry `expiryShard` (one of [`vidgate_domain::video::EXPIRY_SHARDS`] values, spread by video
//! id so no partition is hot), sorted by `expiresAt`; every state change removes it.
//!
//! Prefix items (`id = "prefix#videos/<hash>/"`, `prefixOwner`) say whose a key prefix is; they
//! carry none of the index attributes, so no index or listing ever sees them.
//!
//! A deleted video's tombstone keeps its owner in `deletedOwner` and has no `owner`,
//! `ownerStatus` or `expiryShard`, so no index (and no listing or sweep) sees it.
//!
//! Upload-link items (`id = "link#<linkId>"`) keep a link's owner in `linkOwner`, never `owner`,
//! so no index sees them; a start by link marks its item `used` in the start's transaction. They
//! are purged a month after they expire (`purgeAt`).
//!
//! Quota items (`id = "quota#<owner>"`, `openUploads`, `bytesInFlight`) count an owner's uploads
//! in progress. A start adds to them and a change out of `uploading` subtracts, each in one
//! `TransactWriteItems` with the record's own conditional write, so the counts are exact and a
//! start that would pass a bound fails its condition however many run at once.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    Projection, ProjectionType, Put, ReturnValue, ScalarAttributeType, StreamSpecification, StreamViewType,
    TransactWriteItem, Update,
};

use crate::sdk::{Failure, classify};
use vidgate_domain::images::Images;
use vidgate_domain::link::{LinkId, UploadLink};
use vidgate_domain::time::{self, Timestamp};
use vidgate_domain::{Change, Owner, QuotaDelta, Status, Video, VideoId};
use vidgate_uploads::config::Quota;
use vidgate_uploads::store::{ListQuery, Note, Page, PageKey, QuotaUse, StoreError, VideoStore};

pub const INDEX_BY_OWNER: &str = "byOwner";
pub const INDEX_BY_OWNER_STATUS: &str = "byOwnerStatus";
pub const INDEX_BY_EXPIRY: &str = "byExpiry";
const OWNER_STATUS: &str = "ownerStatus";
const EXPIRY_SHARD: &str = "expiryShard";
const PREFIX_OWNER: &str = "prefixOwner";
const QUOTA_UPLOADS: &str = "openUploads";
const QUOTA_BYTES: &str = "bytesInFlight";
/// Bytes of uploads in progress and uploaded videos together, bounded by `Quota::stored`.
const QUOTA_STORED: &str = "bytesStored";
/// A tombstone's owner: kept out of `owner` so the `byOwner` index (sparse on it) drops it.
const DELETED_OWNER: &str = "deletedOwner";

/// The id of an owner's quota item: never a video id, and distinct from prefix items.
fn quota_item_id(owner: &Owner) -> String {
    format!("quota#{owner}")
}

/// The id of a prefix item; never a video id (those are bare UUIDs).
fn prefix_item_id(prefix: &str) -> String {
    format!("prefix#{prefix}")
}

/// The id of an upload link's item; never a video id.
fn link_item_id(id: &LinkId) -> String {
    format!("link#{id}")
}

/// A link's owner is `linkOwner` in its item: an `owner` would put it in the owner index.
const LINK_OWNER: &str = "linkOwner";

/// A month after its link expired, its item goes (the table's TTL).
const LINK_PURGE_DAYS: i64 = 30;

type Item = HashMap<String, AttributeValue>;

pub struct DynamoVideoStore {
    client: Client,
    table: String,
    purge_after_days: u64,
}

impl DynamoVideoStore {
    pub fn new(sdk: &aws_config::SdkConfig, table: &str) -> Self {
        Self { client: Client::new(sdk), table: table.to_owned(), purge_after_days: 0 }
    }

    /// Aborted and expired records get a `purgeAt` (epoch seconds) this many days ahead, for the
    /// table's TTL to remove them; 0 keeps them.
    pub fn purging_after_days(mut self, days: u64) -> Self {
        self.purge_after_days = days;
        self
    }
}

fn owner_status(owner: &Owner, status: Status) -> String {
    format!("{owner}#{status}")
}

fn to_item(video: &Video) -> Result<Item, StoreError> {
    let mut item: Item =
        serde_dynamo::to_item(video).map_err(|e| StoreError::Other(format!("encoding item: {e}")))?;
    item.insert(OWNER_STATUS.into(), AttributeValue::S(owner_status(&video.owner, video.status)));
    if video.status == Status::Uploading {
        item.insert(EXPIRY_SHARD.into(), AttributeValue::S(expiry_shard(video.id.shard())));
    }
    Ok(item)
}

fn expiry_shard(shard: u8) -> String {
    format!("s{shard}")
}

fn from_item(item: Item) -> Result<Video, StoreError> {
    video_from_image(item.into())
}

/// Whether the item with this `id` is a video's record (not a quota or prefix item).
pub fn is_video_id(id: &str) -> bool {
    !id.contains('#')
}

/// A video's record from an item as DynamoDB Streams shows it (an old or a new image).
pub fn video_from_image(mut item: serde_dynamo::Item) -> Result<Video, StoreError> {
    if let Some(owner) = item.remove(DELETED_OWNER) {
        item.insert("owner".into(), owner);
    }
    serde_dynamo::from_item(item).map_err(|e| StoreError::Other(format!("decoding item: {e}")))
}

fn store_error<E>(err: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match classify(&err) {
        Failure::Unavailable(why) => StoreError::Unavailable(why),
        Failure::Service { code, .. } if code == "ConditionalCheckFailedException" => {
            StoreError::ConditionFailed
        }
        Failure::Service { code, message } => StoreError::Other(format!("{code}: {message}")),
        Failure::Other(why) => StoreError::Other(why),
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

impl DynamoVideoStore {
    /// The conditional update that applies `change` to `current`'s record.
    fn transition_update(
        &self,
        current: &Video,
        change: &Change,
        at: Timestamp,
    ) -> Result<Update, StoreError> {
        let target = change.target();
        let at = time::format(&at);
        let mut update = "SET #status = :to, #ownerStatus = :ownerStatus, #updatedAt = :at".to_string();
        let mut request = Update::builder()
            .table_name(&self.table)
            .key("id", s(current.id.to_string()))
            .condition_expression("#status = :uploading")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#ownerStatus", OWNER_STATUS)
            .expression_attribute_names("#updatedAt", "updatedAt")
            .expression_attribute_names("#expiryShard", EXPIRY_SHARD)
            .expression_attribute_values(":to", s(target.as_str()))
            .expression_attribute_values(":uploading", s(Status::Uploading.as_str()))
            .expression_attribute_values(":ownerStatus", s(owner_status(&current.owner, target)))
            .expression_attribute_values(":at", s(at));
        if let Change::Complete { checksum: Some(checksum), .. } = change {
            update.push_str(", #checksum = :checksum");
            let value = serde_dynamo::to_attribute_value(checksum)
                .map_err(|e| StoreError::Other(format!("encoding checksum: {e}")))?;
            request = request
                .expression_attribute_names("#checksum", "checksum")
                .expression_attribute_values(":checksum", value);
        }
        if let (Change::Complete { size, .. }, Some(_)) = (change, current.quota_bytes) {
            // What the owner's stored total now counts for it, given back when it is deleted.
            update.push_str(", #storedBytes = :storedBytes");
            request = request
                .expression_attribute_names("#storedBytes", "storedBytes")
                .expression_attribute_values(":storedBytes", AttributeValue::N(size.to_string()));
        }
        if let Change::Complete { version: Some(version), .. } = change {
            update.push_str(", #versionId = :versionId");
            request = request
                .expression_attribute_names("#versionId", "versionId")
                .expression_attribute_values(":versionId", s(version.clone()));
        }
        if let Change::Complete { by, .. } = change {
            update.push_str(", #completedBy = :completedBy");
            request = request
                .expression_attribute_names("#completedBy", "completedBy")
                .expression_attribute_values(":completedBy", s(by.as_str()));
        }
        if let Change::Complete { .. } = change {
            // The images function hears of it from the `Video Uploaded` event.
            update.push_str(", #images = :images");
            let value = serde_dynamo::to_attribute_value(Images::pending())
                .map_err(|e| StoreError::Other(format!("encoding images: {e}")))?;
            request = request
                .expression_attribute_names("#images", "images")
                .expression_attribute_values(":images", value);
        }
        if let Change::Complete { media: Some(media), .. } = change {
            update.push_str(", #media = :media");
            let value = serde_dynamo::to_attribute_value(media)
                .map_err(|e| StoreError::Other(format!("encoding media: {e}")))?;
            request = request
                .expression_attribute_names("#media", "media")
                .expression_attribute_values(":media", value);
        }
        if let Change::Complete { size, etag, .. } | Change::Reject { size, etag, .. } = change {
            update.push_str(", #size = :size, #etag = :etag");
            request = request
                .expression_attribute_names("#size", "size")
                .expression_attribute_names("#etag", "etag")
                .expression_attribute_values(":size", AttributeValue::N(size.to_string()))
                .expression_attribute_values(":etag", s(etag.clone()));
        }
        match change {
            Change::Complete { .. } => {
                update.push_str(", #completedAt = :at");
                request = request.expression_attribute_names("#completedAt", "completedAt");
            }
            Change::Reject { reason, .. } => {
                update.push_str(", #rejectReason = :reason");
                request = request
                    .expression_attribute_names("#rejectReason", "rejectReason")
                    .expression_attribute_values(":reason", s(reason.clone()));
            }
            Change::Abort | Change::Expire if self.purge_after_days > 0 => {
                let purge_at = chrono::Utc::now().timestamp() as u64 + self.purge_after_days * 86_400;
                update.push_str(", #purgeAt = :purgeAt");
                request = request
                    .expression_attribute_names("#purgeAt", "purgeAt")
                    .expression_attribute_values(":purgeAt", AttributeValue::N(purge_at.to_string()));
            }
            Change::Abort | Change::Expire => {}
        }
        // Out of `uploading`, out of the expiry index.
        update.push_str(" REMOVE #expiryShard");
        request
            .update_expression(update)
            .build()
            .map_err(|e| StoreError::Other(format!("building update: {e}")))
    }
}

impl DynamoVideoStore {
    /// Writes `update` of `current`'s record and, in the same transaction, `delta` to its owner's
    /// quota counters. Returns the new record.
    async fn write_change(
        &self,
        current: &Video,
        update: Update,
        delta: Option<QuotaDelta>,
    ) -> Result<Video, StoreError> {
        let Some(delta) = delta else {
            let out = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("id", s(current.id.to_string()))
                .update_expression(update.update_expression())
                .set_condition_expression(update.condition_expression().map(str::to_owned))
                .set_expression_attribute_names(update.expression_attribute_names().cloned())
                .set_expression_attribute_values(update.expression_attribute_values().cloned())
                .return_values(ReturnValue::AllNew)
                .send()
                .await
                .map_err(store_error)?;
            return out
                .attributes
                .map(from_item)
                .transpose()?
                .ok_or_else(|| StoreError::Other("UpdateItem returned no attributes".into()));
        };
        let release = Update::builder()
            .table_name(&self.table)
            .key("id", s(quota_item_id(&current.owner)))
            .update_expression("ADD #uploads :uploads, #bytes :bytes, #stored :stored")
            .expression_attribute_names("#uploads", QUOTA_UPLOADS)
            .expression_attribute_names("#bytes", QUOTA_BYTES)
            .expression_attribute_names("#stored", QUOTA_STORED)
            .expression_attribute_values(":uploads", AttributeValue::N(delta.uploads.to_string()))
            .expression_attribute_values(":bytes", AttributeValue::N(delta.in_flight.to_string()))
            .expression_attribute_values(":stored", AttributeValue::N(delta.stored.to_string()))
            .build()
            .map_err(|e| StoreError::Other(format!("building update: {e}")))?;
        let written = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(TransactWriteItem::builder().update(release).build())
            .send()
            .await;
        if let Err(e) = written {
            return Err(match cancelled_by(&e) {
                Some(reasons) if reasons.first().is_some_and(|r| r == "ConditionalCheckFailed") => {
                    StoreError::ConditionFailed
                }
                _ => store_error(e),
            });
        }
        self.get(&current.id).await?.ok_or_else(|| StoreError::Other("record gone after its change".into()))
    }
}

/// The cancellation reason codes of a cancelled transaction, one per item in order ("None" for
/// an item that was fine).
fn cancelled_by<R>(err: &SdkError<TransactWriteItemsError, R>) -> Option<Vec<String>> {
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = err.as_service_error()? else {
        return None;
    };
    Some(cancelled.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_owned()).collect())
}

impl DynamoVideoStore {
    /// A start: the owner's counters and the new record in one transaction, and the link's
    /// spending when it starts by one.
    async fn start_counted(
        &self,
        video: &Video,
        quota: &Quota,
        link: Option<(&LinkId, Timestamp)>,
    ) -> Result<(), StoreError> {
        let bytes = video.quota_bytes.unwrap_or(0);
        let (Some(room), Some(stored_room)) =
            (quota.bytes.checked_sub(bytes), quota.stored.checked_sub(bytes))
        else {
            return Err(StoreError::QuotaExceeded(self.quota_use(&video.owner).await?));
        };
        let count = Update::builder()
            .table_name(&self.table)
            .key("id", s(quota_item_id(&video.owner)))
            .update_expression("ADD #uploads :one, #bytes :bytes, #stored :bytes")
            .condition_expression(
                "(attribute_not_exists(#uploads) OR #uploads < :maxUploads) \
                 AND (attribute_not_exists(#bytes) OR #bytes <= :room) \
                 AND (attribute_not_exists(#stored) OR #stored <= :storedRoom)",
            )
            .expression_attribute_names("#uploads", QUOTA_UPLOADS)
            .expression_attribute_names("#bytes", QUOTA_BYTES)
            .expression_attribute_names("#stored", QUOTA_STORED)
            .expression_attribute_values(":storedRoom", AttributeValue::N(stored_room.to_string()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":bytes", AttributeValue::N(bytes.to_string()))
            .expression_attribute_values(":maxUploads", AttributeValue::N(quota.uploads.to_string()))
            .expression_attribute_values(":room", AttributeValue::N(room.to_string()))
            .build()
            .map_err(|e| StoreError::Other(format!("building update: {e}")))?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(video)?))
            .condition_expression("attribute_not_exists(id)")
            .build()
            .map_err(|e| StoreError::Other(format!("building put: {e}")))?;
        let mut written = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(count).build())
            .transact_items(TransactWriteItem::builder().put(put).build());
        if let Some((link, now)) = link {
            // Used once, by this video, while not expired: the transaction's third condition.
            let spend = Update::builder()
                .table_name(&self.table)
                .key("id", s(link_item_id(link)))
                .update_expression("SET #status = :used, #videoId = :video")
                .condition_expression("#status = :open AND #expires > :now")
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#videoId", "videoId")
                .expression_attribute_names("#expires", "linkExpiresAt")
                .expression_attribute_values(":used", s("used"))
                .expression_attribute_values(":open", s("open"))
                .expression_attribute_values(":video", s(video.id.to_string()))
                .expression_attribute_values(":now", s(time::format(&now)))
                .build()
                .map_err(|e| StoreError::Other(format!("building update: {e}")))?;
            written = written.transact_items(TransactWriteItem::builder().update(spend).build());
        }
        let Err(e) = written.send().await else { return Ok(()) };
        match cancelled_by(&e) {
            Some(reasons) if reasons.get(2).is_some_and(|r| r == "ConditionalCheckFailed") => {
                Err(StoreError::LinkSpent)
            }
            Some(reasons) if reasons.first().is_some_and(|r| r == "ConditionalCheckFailed") => {
                Err(StoreError::QuotaExceeded(self.quota_use(&video.owner).await?))
            }
            Some(reasons) if reasons.get(1).is_some_and(|r| r == "ConditionalCheckFailed") => {
                Err(StoreError::ConditionFailed)
            }
            _ => Err(store_error(e)),
        }
    }
}

#[async_trait]
impl VideoStore for DynamoVideoStore {
    async fn insert(&self, video: &Video) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(video)?))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn start(&self, video: &Video, quota: &Quota) -> Result<(), StoreError> {
        self.start_counted(video, quota, None).await
    }

    async fn start_with_link(
        &self,
        video: &Video,
        quota: &Quota,
        link: &LinkId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.start_counted(video, quota, Some((link, now))).await
    }

    async fn put_link(&self, link: &UploadLink) -> Result<(), StoreError> {
        let mut item: Item =
            serde_dynamo::to_item(link).map_err(|e| StoreError::Other(format!("encoding link: {e}")))?;
        if let Some(owner) = item.remove("owner") {
            item.insert(LINK_OWNER.into(), owner);
        }
        item.insert("id".into(), s(link_item_id(&link.link_id)));
        let purge_at = link.link_expires_at.timestamp() + LINK_PURGE_DAYS * 86_400;
        item.insert("purgeAt".into(), AttributeValue::N(purge_at.to_string()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| match e.as_service_error() {
                Some(e) if e.is_conditional_check_failed_exception() => StoreError::ConditionFailed,
                _ => store_error(e),
            })
    }

    async fn get_link(&self, id: &LinkId) -> Result<Option<UploadLink>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(link_item_id(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        let Some(mut item) = out.item else { return Ok(None) };
        if let Some(owner) = item.remove(LINK_OWNER) {
            item.insert("owner".into(), owner);
        }
        serde_dynamo::from_item(item).map(Some).map_err(|e| StoreError::Other(format!("decoding link: {e}")))
    }

    async fn quota_use(&self, owner: &Owner) -> Result<QuotaUse, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(quota_item_id(owner)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        let number = |item: &Item, name: &str| match item.get(name) {
            Some(AttributeValue::N(n)) => n.parse::<i64>().unwrap_or(0).max(0) as u64,
            _ => 0,
        };
        Ok(out.item.map_or_else(QuotaUse::default, |item| QuotaUse {
            uploads: number(&item, QUOTA_UPLOADS),
            bytes: number(&item, QUOTA_BYTES),
            stored: number(&item, QUOTA_STORED),
        }))
    }

    async fn get(&self, id: &VideoId) -> Result<Option<Video>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        out.item.map(from_item).transpose()
    }

    async fn transition(&self, current: &Video, change: &Change, at: Timestamp) -> Result<Video, StoreError> {
        let update = self.transition_update(current, change, at)?;
        // The write is conditioned on `uploading`: whatever `current` says, it leaves that state.
        self.write_change(current, update, current.released_by(Some(change))).await
    }

    async fn bury(&self, current: &Video, at: Timestamp) -> Result<Video, StoreError> {
        let mut set = "SET #status = :deleted, #updatedAt = :at, #filename = :blank, #deletedOwner = :owner"
            .to_string();
        let mut request = Update::builder()
            .table_name(&self.table)
            .key("id", s(current.id.to_string()))
            .condition_expression("#status = :from")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#updatedAt", "updatedAt")
            .expression_attribute_names("#filename", "filename")
            .expression_attribute_names("#deletedOwner", DELETED_OWNER)
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_names("#ownerStatus", OWNER_STATUS)
            .expression_attribute_names("#expiryShard", EXPIRY_SHARD)
            .expression_attribute_names("#metadata", "metadata")
            .expression_attribute_names("#images", "images")
            .expression_attribute_values(":deleted", s(Status::Deleted.as_str()))
            .expression_attribute_values(":from", s(current.status.as_str()))
            .expression_attribute_values(":at", s(time::format(&at)))
            .expression_attribute_values(":blank", s(""))
            .expression_attribute_values(":owner", s(current.owner.as_str()));
        if self.purge_after_days > 0 {
            let purge_at = chrono::Utc::now().timestamp() as u64 + self.purge_after_days * 86_400;
            set.push_str(", #purgeAt = :purgeAt");
            request = request
                .expression_attribute_names("#purgeAt", "purgeAt")
                .expression_attribute_values(":purgeAt", AttributeValue::N(purge_at.to_string()));
        }
        // Out of every index: `byOwner` (owner), `byOwnerStatus`, `byExpiry`.
        let update = request
            .update_expression(format!("{set} REMOVE #owner, #ownerStatus, #expiryShard, #metadata, #images"))
            .build()
            .map_err(|e| StoreError::Other(format!("building update: {e}")))?;
        // Conditioned on `current.status`: what leaving it gives back.
        self.write_change(current, update, current.released_by_delete()).await
    }

    async fn set_images(
        &self,
        current: &Video,
        rev: Option<u32>,
        images: &Images,
        at: Timestamp,
    ) -> Result<Video, StoreError> {
        let value = serde_dynamo::to_attribute_value(images)
            .map_err(|e| StoreError::Other(format!("encoding images: {e}")))?;
        let mut request = Update::builder()
            .table_name(&self.table)
            .key("id", s(current.id.to_string()))
            .update_expression("SET #images = :images, #updatedAt = :at")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#images", "images")
            .expression_attribute_names("#updatedAt", "updatedAt")
            .expression_attribute_values(":images", value)
            .expression_attribute_values(":uploaded", s(Status::Uploaded.as_str()))
            .expression_attribute_values(":at", s(time::format(&at)));
        request = match rev {
            Some(rev) => request
                .condition_expression("#status = :uploaded AND #images.#rev = :rev")
                .expression_attribute_names("#rev", "rev")
                .expression_attribute_values(":rev", AttributeValue::N(rev.to_string())),
            None => request.condition_expression("#status = :uploaded AND attribute_not_exists(#images)"),
        };
        let update = request.build().map_err(|e| StoreError::Other(format!("building update: {e}")))?;
        self.write_change(current, update, None).await
    }

    async fn list_expired(&self, shard: u8, now: Timestamp, limit: u32) -> Result<Vec<Video>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_BY_EXPIRY)
            .key_condition_expression("#shard = :shard AND #expiresAt < :now")
            .expression_attribute_names("#shard", EXPIRY_SHARD)
            .expression_attribute_names("#expiresAt", "expiresAt")
            .expression_attribute_values(":shard", s(expiry_shard(shard)))
            .expression_attribute_values(":now", s(time::format(&now)))
            .limit(limit as i32)
            .send()
            .await
            .map_err(store_error)?;
        out.items.unwrap_or_default().into_iter().map(from_item).collect()
    }

    async fn list_quiet(
        &self,
        shard: u8,
        quiet_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<Video>, StoreError> {
        // The index holds only uploads in progress; the filter keeps the ones the pass may
        // complete. It reads them all (a filter saves no reads), page by page.
        let mut quiet = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(INDEX_BY_EXPIRY)
                .key_condition_expression("#shard = :shard")
                .filter_expression(
                    "(attribute_not_exists(#auto) OR #auto = :true) AND attribute_exists(#uploadId) \
                     AND attribute_exists(#partCount) AND #createdAt < :before \
                     AND (attribute_not_exists(#activeAt) OR #activeAt < :before)",
                )
                .expression_attribute_names("#shard", EXPIRY_SHARD)
                .expression_attribute_names("#auto", "autoComplete")
                .expression_attribute_names("#uploadId", "uploadId")
                .expression_attribute_names("#partCount", "partCount")
                .expression_attribute_names("#createdAt", "createdAt")
                .expression_attribute_names("#activeAt", "activeAt")
                .expression_attribute_values(":shard", s(expiry_shard(shard)))
                .expression_attribute_values(":true", AttributeValue::Bool(true))
                .expression_attribute_values(":before", s(time::format(&quiet_before)))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(store_error)?;
            for item in out.items.unwrap_or_default() {
                quiet.push(from_item(item)?);
                if quiet.len() >= limit as usize {
                    return Ok(quiet);
                }
            }
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(quiet),
            }
        }
    }

    async fn note(&self, current: &Video, note: Note, at: Timestamp) -> Result<(), StoreError> {
        let attribute = match note {
            Note::Active => "activeAt",
            Note::ServerCompleting => "serverCompletingAt",
        };
        self.client
            .update_item()
            .table_name(&self.table)
            .key("id", s(current.id.to_string()))
            .update_expression("SET #note = :at")
            .condition_expression("#status = :uploading")
            .expression_attribute_names("#note", attribute)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":at", s(time::format(&at)))
            .expression_attribute_values(":uploading", s(Status::Uploading.as_str()))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
        let (index, partition_attr, partition) = match query.status {
            None => (INDEX_BY_OWNER, "owner", query.owner.to_string()),
            Some(status) => (INDEX_BY_OWNER_STATUS, OWNER_STATUS, owner_status(&query.owner, status)),
        };
        let start = query.after.as_ref().map(|after| {
            HashMap::from([
                ("id".to_string(), s(after.id.to_string())),
                (partition_attr.to_string(), s(partition.clone())),
                ("createdAt".to_string(), s(time::format(&after.created_at))),
            ])
        });
        // One more than asked for tells whether another page exists, so the last page carries no
        // cursor (DynamoDB's own LastEvaluatedKey would send clients to an empty page).
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", partition_attr)
            .expression_attribute_values(":pk", s(partition))
            .scan_index_forward(false)
            .limit(query.limit.saturating_add(1) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(store_error)?;
        let mut videos =
            out.items.unwrap_or_default().into_iter().map(from_item).collect::<Result<Vec<_>, _>>()?;
        let limit = query.limit as usize;
        let next = (videos.len() > limit)
            .then(|| PageKey { id: videos[limit - 1].id, created_at: videos[limit - 1].created_at });
        videos.truncate(limit);
        Ok(Page { videos, next })
    }

    async fn remember_prefix(&self, prefix: &str, owner: &Owner) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("id", s(prefix_item_id(prefix)))
            .item(PREFIX_OWNER, s(owner.as_str()))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn prefix_owner(&self, prefix: &str) -> Result<Option<Owner>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(prefix_item_id(prefix)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        Ok(out.item.and_then(|mut item| match item.remove(PREFIX_OWNER) {
            Some(AttributeValue::S(owner)) => Some(Owner::new(owner)),
            _ => None,
        }))
    }

    async fn forget_owner(&self, owner: &Owner, prefix: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("id", s(prefix_item_id(prefix)))
            .send()
            .await
            .map_err(store_error)?;
        let quota = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("id", s(quota_item_id(owner)))
            .condition_expression("attribute_not_exists(#uploads) OR #uploads = :zero")
            .expression_attribute_names("#uploads", QUOTA_UPLOADS)
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .send()
            .await;
        match quota.map_err(store_error) {
            // An upload started since: its counter stays.
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Creates the table with the keys and indexes this adapter uses, unless it exists (local stack
/// and tests; the SAM template declares the same for AWS).
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("name and type are set")
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("name and type are set")
    };
    let index = |name: &str, partition: &str, sort: &str| {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(partition, KeyType::Hash))
            .key_schema(key(sort, KeyType::Range))
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .expect("index fields are set")
    };
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("id"))
        .attribute_definitions(attr("owner"))
        .attribute_definitions(attr(OWNER_STATUS))
        .attribute_definitions(attr("createdAt"))
        .attribute_definitions(attr(EXPIRY_SHARD))
        .attribute_definitions(attr("expiresAt"))
        .key_schema(key("id", KeyType::Hash))
        .global_secondary_indexes(index(INDEX_BY_OWNER, "owner", "createdAt"))
        .global_secondary_indexes(index(INDEX_BY_OWNER_STATUS, OWNER_STATUS, "createdAt"))
        .global_secondary_indexes(index(INDEX_BY_EXPIRY, EXPIRY_SHARD, "expiresAt"))
        // Lifecycle events are read off this stream (`events::publish_events`).
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .expect("enabled is set"),
        )
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => Ok(()),
        Err(e) => Err(store_error(e)),
    }
}
