//! Reply shapes more than one protocol shares: the `Video` JSON shown to its owner, and
//! temporary credentials.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::checksum::{Checksum, ChecksumAlgorithm};
use crate::domain::images::{Images, ImagesStatus, Poster, Storyboard};
use crate::domain::link::LinkId;
use crate::domain::media::Media;
use crate::domain::time::{self, Timestamp};
use crate::domain::{CompletedBy, Status, UploadMethod, Video, VideoId};
use crate::uploads::Grant;

/// Every field is always present (`null` when unknown), so clients need no existence checks.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoView<'a> {
    pub id: VideoId,
    pub status: Status,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size: Option<u64>,
    pub key: &'a str,
    pub method: UploadMethod,
    pub upload_id: Option<&'a str>,
    pub part_size: u64,
    pub part_count: Option<u32>,
    pub metadata: &'a BTreeMap<String, String>,
    pub etag: Option<&'a str>,
    pub reject_reason: Option<&'a str>,
    #[serde(with = "time")]
    pub created_at: Timestamp,
    #[serde(with = "time")]
    pub updated_at: Timestamp,
    #[serde(with = "time::option")]
    pub completed_at: Option<Timestamp>,
    #[serde(with = "time")]
    pub expires_at: Timestamp,
    /// Whether vidgate completes the upload itself once every part is in S3 and the client is
    /// quiet (presigned uploads of declared size).
    pub auto_complete: bool,
    /// Who had the object assembled: `client` (its `complete`, or its own PUT) or `server`
    /// (`null` until uploaded).
    pub completed_by: Option<CompletedBy>,
    /// The algorithm the upload declared for its parts (`null`: none).
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// The stored object's checksum as S3 reported it (`null` until recorded, or if S3 kept none).
    pub checksum: Option<&'a Checksum>,
    /// What the container's header says (`null` until uploaded, and for containers vidgate
    /// doesn't read: AVI, MPEG, Ogg, FLV, ASF).
    pub media: Option<&'a Media>,
    /// Its poster and storyboard (`null` until it is uploaded).
    pub images: Option<ImagesView<'a>>,
    /// The upload link that started it (`null` for the API's own uploads).
    pub link_id: Option<LinkId>,
}

/// `Video.images`: what was made, and what is being made. The URLs come from playback.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImagesView<'a> {
    pub status: ImagesStatus,
    pub reason: Option<&'a str>,
    pub poster: Option<&'a Poster>,
    pub storyboard: Option<&'a Storyboard>,
}

impl<'a> From<&'a Images> for ImagesView<'a> {
    fn from(i: &'a Images) -> Self {
        Self {
            status: i.status,
            reason: i.reason.as_deref(),
            poster: i.poster.as_ref(),
            storyboard: i.storyboard.as_ref(),
        }
    }
}

impl<'a> From<&'a Video> for VideoView<'a> {
    fn from(v: &'a Video) -> Self {
        Self {
            id: v.id,
            status: v.status,
            filename: &v.filename,
            content_type: &v.content_type,
            size: v.size,
            key: &v.key,
            method: v.method,
            upload_id: v.upload_id.as_deref(),
            part_size: v.part_size,
            part_count: v.part_count,
            metadata: &v.metadata,
            etag: v.etag.as_deref(),
            reject_reason: v.reject_reason.as_deref(),
            created_at: v.created_at,
            updated_at: v.updated_at,
            completed_at: v.completed_at,
            expires_at: v.expires_at,
            auto_complete: v.auto_complete,
            completed_by: v.completed_by,
            checksum_algorithm: v.checksum_algorithm,
            checksum: v.checksum.as_ref(),
            media: v.media.as_deref(),
            images: v.images.as_ref().map(ImagesView::from),
            link_id: v.link_id,
        }
    }
}

/// Temporary credentials as `/v1` and `/uppy/credentials` answer them (the SDKs' field names).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantView<'a> {
    pub credentials: CredentialsView<'a>,
    pub bucket: &'a str,
    pub region: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsView<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: &'a str,
    #[serde(with = "time")]
    pub expiration: Timestamp,
}

impl<'a> From<&'a Grant> for GrantView<'a> {
    fn from(g: &'a Grant) -> Self {
        let c = &g.credentials;
        Self {
            credentials: CredentialsView {
                access_key_id: &c.access_key_id,
                secret_access_key: &c.secret_access_key,
                session_token: &c.session_token,
                expiration: c.expiration,
            },
            bucket: &g.bucket,
            region: &g.region,
        }
    }
}
