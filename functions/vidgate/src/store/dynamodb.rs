//! The DynamoDB adapter of `VideoStore`.
//!
//! One table keyed by `id`. Two GSIs list an owner's videos newest first: `byOwner` (all) and
//! `byOwnerStatus` (partition `"<owner>#<status>"`), so a status filter is a key condition and pages
//! stay full instead of being thinned by a filter expression. Every state change is an `UpdateItem`
//! conditioned on `status = uploading`.
//!
//! A third, sparse GSI `byExpiry` finds abandoned uploads without a scan: only `uploading` items
//! carry `expiryShard` (one of [`crate::domain::video::EXPIRY_SHARDS`] values, spread by video
//! id so no partition is hot), sorted by `expiresAt`; every state change removes it.
//!
//! Prefix items (`id = "prefix#videos/<hash>/"`, `prefixOwner`) say whose a key prefix is; they
//! carry none of the index attributes, so no index or listing ever sees them.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    Projection, ProjectionType, ReturnValue, ScalarAttributeType,
};

use super::{ListQuery, Page, PageKey, StoreError, VideoStore};
use crate::aws::{Failure, classify};
use crate::domain::time::{self, Timestamp};
use crate::domain::{Change, Owner, Status, Video, VideoId};

pub const INDEX_BY_OWNER: &str = "byOwner";
pub const INDEX_BY_OWNER_STATUS: &str = "byOwnerStatus";
pub const INDEX_BY_EXPIRY: &str = "byExpiry";
const OWNER_STATUS: &str = "ownerStatus";
const EXPIRY_SHARD: &str = "expiryShard";
const PREFIX_OWNER: &str = "prefixOwner";

/// The id of a prefix item; never a video id (those are bare UUIDs).
fn prefix_item_id(prefix: &str) -> String {
    format!("prefix#{prefix}")
}

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
        let id = &current.id;
        let target = change.target();
        let at = time::format(&at);
        let mut update = "SET #status = :to, #ownerStatus = :ownerStatus, #updatedAt = :at".to_string();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id.to_string()))
            .condition_expression("#status = :uploading")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#ownerStatus", OWNER_STATUS)
            .expression_attribute_names("#updatedAt", "updatedAt")
            .expression_attribute_names("#expiryShard", EXPIRY_SHARD)
            .expression_attribute_values(":to", s(target.as_str()))
            .expression_attribute_values(":uploading", s(Status::Uploading.as_str()))
            .expression_attribute_values(":ownerStatus", s(owner_status(&current.owner, target)))
            .expression_attribute_values(":at", s(at))
            .return_values(ReturnValue::AllNew);
        if let Change::Complete { size, etag } | Change::Reject { size, etag, .. } = change {
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
        let out = request.update_expression(update).send().await.map_err(store_error)?;
        out.attributes
            .map(from_item)
            .transpose()?
            .ok_or_else(|| StoreError::Other("UpdateItem returned no attributes".into()))
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
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => Ok(()),
        Err(e) => Err(store_error(e)),
    }
}
