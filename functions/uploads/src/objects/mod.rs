//! The `ObjectStore` port: S3 multipart uploads and presigned part URLs.

#[cfg(any(test, feature = "test-util"))]
pub mod memory;

use std::time::Duration;

use async_trait::async_trait;

use vidgate_domain::checksum::{Checksum, ChecksumAlgorithm};

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// S3 no longer knows this multipart upload: it was completed or aborted.
    #[error("no such multipart upload")]
    NoSuchUpload,
    /// S3 refused the part list of a completion (`InvalidPart`, `InvalidPartOrder`,
    /// `EntityTooSmall`); the code says which.
    #[error("S3 refused the parts: {code}: {message}")]
    RejectedParts { code: String, message: String },
    /// S3 found the bytes differ from the checksum they were sent with (`BadDigest`, or an
    /// `InvalidRequest` naming a checksum).
    #[error("S3 refused a checksum: {0}")]
    ChecksumMismatch(String),
    /// There is no object at the key.
    #[error("no such object")]
    NoSuchKey,
    /// A write that must not replace an object found one at the key (`If-None-Match: *`: S3's
    /// `PreconditionFailed`, or `ConditionalRequestConflict` when two race).
    #[error("an object already exists at the key")]
    AlreadyExists,
    /// S3 holds the object but won't serve it as stored (SSE-C keys it lacks, an archive storage
    /// class): nothing vidgate could ever check or play.
    #[error("S3 can't serve the object: {0}")]
    Unreadable(String),
    #[error("object store unavailable: {0}")]
    Unavailable(String),
    #[error("object store error: {0}")]
    Other(String),
}

/// A part S3 holds for an upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadedPart {
    pub part_number: u32,
    pub etag: String,
    pub size: u64,
    /// The part's checksum, when its upload declared an algorithm.
    pub checksum: Option<String>,
    /// When S3 stored it: whether the upload is still receiving parts.
    pub last_modified: Option<vidgate_domain::time::Timestamp>,
}

/// A part named in a completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartRef {
    pub part_number: u32,
    pub etag: String,
    /// The part's checksum (of the upload's algorithm), which S3 compares with the stored one.
    pub checksum: Option<String>,
}

/// A presigned POST: where to send the form, and its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostForm {
    /// The bucket's URL, ending in `/` (Uppy appends the key to it for the object's location).
    pub url: String,
    pub fields: Vec<(String, String)>,
}

/// What S3 says of a stored object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub etag: String,
    /// The object's checksum, when S3 keeps one (it does for every object written since 2025).
    pub checksum: Option<Checksum>,
    /// The version S3 gave these bytes (a versioned bucket); what was checked is read by it.
    pub version: Option<String>,
}

/// What S3 answers a completion: the object's ETag and checksum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assembled {
    pub etag: String,
    pub checksum: Option<Checksum>,
    pub version: Option<String>,
}

/// One part of a multipart upload to presign a `PUT` for ([`ObjectStore::presign_part`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartUpload<'a> {
    pub key: &'a str,
    pub upload_id: &'a str,
    pub part_number: u32,
    /// Signed when given: S3 refuses a body of any other length.
    pub content_length: Option<u64>,
    /// Signed when given: the client must send it, and S3 refuses a body that doesn't match.
    pub checksum: Option<(ChecksumAlgorithm, &'a str)>,
}

/// An S3 request a client sends itself, to a URL presigned for it (parts have
/// [`ObjectStore::presign_part`]). Only `host` is signed: Uppy 6.1 (in `uppy` 6.0.1) sends the
/// file's own `Content-Type` and no header a signer names, so none may be required.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientRequest<'a> {
    /// `PUT` of the whole object.
    PutObject,
    /// `POST ?uploads`.
    CreateMultipart,
    /// `GET ?uploadId=`.
    ListParts { upload_id: &'a str },
    /// `POST ?uploadId=` with the part list.
    Complete { upload_id: &'a str },
    /// `DELETE ?uploadId=`.
    Abort { upload_id: &'a str },
}

#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Starts a multipart upload; returns its upload id. With `checksum`, every part must carry
    /// one of that algorithm, and the object's is of [`ChecksumAlgorithm::multipart_type`].
    async fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
        checksum: Option<ChecksumAlgorithm>,
    ) -> Result<String, ObjectError>;

    /// A URL a client can `PUT` one part's bytes to, with no extra headers. With
    /// `content_length` the length is signed too, so S3 refuses a body of any other length
    /// before storing a byte (every HTTP client sends `Content-Length` from the body). With
    /// `checksum` the client must send it in its header (`x-amz-checksum-<algorithm>`), and S3
    /// refuses a body whose checksum differs.
    async fn presign_part(&self, part: PartUpload<'_>, expires_in: Duration) -> Result<String, ObjectError>;

    /// When the credentials that sign URLs stop being valid (`None`: they don't expire): a
    /// presigned URL dies with them, whatever its own expiry says.
    async fn signing_expiry(&self) -> Result<Option<vidgate_domain::time::Timestamp>, ObjectError>;

    /// A browser-style POST upload of a whole object (S3's POST policy): the form `fields` to
    /// send, in order, before the file, to `url`. The policy pins the key and `Content-Type` and
    /// bounds the file to `lengths`, and S3 enforces all three.
    async fn presign_post(
        &self,
        key: &str,
        content_type: &str,
        lengths: std::ops::RangeInclusive<u64>,
        expires_in: Duration,
    ) -> Result<PostForm, ObjectError>;

    /// Writes a small object the server made (a poster, a sprite) only if none exists at `key`
    /// (`If-None-Match: *`; `AlreadyExists` otherwise): what is there is never replaced.
    async fn put_new(&self, key: &str, content_type: &str, body: Vec<u8>) -> Result<(), ObjectError>;

    /// Deletes the object at `key` with every version of it a versioned bucket keeps, so no
    /// byte of it stays (nothing there is no error).
    async fn delete(&self, key: &str) -> Result<(), ObjectError>;

    /// Deletes one version of the object at `key`: bytes written over a checked video.
    async fn delete_version(&self, key: &str, version: &str) -> Result<(), ObjectError>;

    /// A URL a client can `PUT` a whole object to in one request, sending exactly
    /// `Content-Type: content_type` (it is signed, so the stored object keeps the type),
    /// `If-None-Match: *` (signed too, so a replay after the object exists is refused with 412)
    /// and, when given, exactly `content_length` bytes.
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: Option<u64>,
        expires_in: Duration,
    ) -> Result<String, ObjectError>;

    /// A URL for one client `request` on `key`.
    async fn presign_request(
        &self,
        key: &str,
        request: ClientRequest<'_>,
        expires_in: Duration,
    ) -> Result<String, ObjectError>;

    /// The bucket's base URL for clients that sign their own requests (Uppy's `s3Endpoint`):
    /// object URLs are this plus `/<key>`.
    fn bucket_url(&self) -> String;

    /// Every part uploaded so far, in part-number order (all pages).
    async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<UploadedPart>, ObjectError>;

    /// Assembles the object from `parts` (ascending), only if no object exists at `key`
    /// (`If-None-Match: *`; `AlreadyExists` otherwise). With `full`, S3 assembles it only if the
    /// whole object has that checksum (`ChecksumMismatch` otherwise, and the upload stays open).
    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[PartRef],
        full: Option<&Checksum>,
    ) -> Result<Assembled, ObjectError>;

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), ObjectError>;

    /// Aborts every multipart upload open on exactly `key` (those a client started with
    /// temporary credentials); returns how many.
    async fn abort_all_multipart(&self, key: &str) -> Result<usize, ObjectError>;

    /// Deletes every object under `prefix` and aborts every multipart upload open under it (an
    /// owner's erasure); returns how many of each.
    async fn clear_prefix(&self, prefix: &str) -> Result<(usize, usize), ObjectError>;

    /// The current object's size, ETag and version, or `None` if there is no object at `key`.
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectError>;

    /// Bytes `start..=end` of the object (of `version`, when given: the checked one, whatever
    /// was written over it since); memory is bounded by the range, not the object.
    async fn get_range(
        &self,
        key: &str,
        version: Option<&str>,
        start: u64,
        end: u64,
    ) -> Result<Vec<u8>, ObjectError>;

    /// A URL that `GET`s the whole object (`version` of it, when given) for clients sent
    /// straight to S3, answered with `content_type` whatever type the object was stored with.
    async fn presign_get(
        &self,
        key: &str,
        version: Option<&str>,
        content_type: &str,
        expires_in: Duration,
    ) -> Result<String, ObjectError>;
}

/// ETags are compared without their quotes: S3 quotes them, some clients strip them.
pub fn same_etag(a: &str, b: &str) -> bool {
    a.trim_matches('"') == b.trim_matches('"')
}
