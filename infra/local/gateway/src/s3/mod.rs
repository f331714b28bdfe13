//! A local S3 that refuses what S3 refuses. `s3s` does the protocol — routing, SigV4 (header,
//! presigned, aws-chunked), expiry, XML — and this module is the bucket behind it: objects and
//! parts as files, their metadata in memory, the checks S3 makes on bodies (Content-MD5,
//! `x-amz-checksum-*`), multipart rules (EntityTooSmall, InvalidPart, InvalidPartOrder,
//! NoSuchUpload) with complete and abort deciding under one lock, CORS rules, and `ObjectCreated`
//! notifications to an SQS queue.
//!
//! Why not `s3s-fs`: it checks no part checksums or ETags on complete, lists parts without ETags
//! or pages, has no ListMultipartUploads or GetObjectAttributes, and complete and abort race.

pub mod checksum;
pub mod cors;
mod events;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use futures::TryStreamExt as _;
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};

use self::checksum::{Algorithm, BodyHasher, Fields, Stored};
pub use self::events::Notifier;
use crate::checksum_fields;

/// S3's smallest part, but for the last.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
const MAX_PART_NUMBER: i32 = 10_000;
/// How much of a file one read or write moves.
const CHUNK: usize = 1024 * 1024;

/// A file holding an object's or a part's bytes, removed when the last holder lets go — so a
/// reader that took it before a delete or an overwrite still reads what it asked for.
#[derive(Debug)]
struct Blob(PathBuf);

impl Drop for Blob {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[derive(Clone, Debug)]
struct Object {
    blob: Arc<Blob>,
    size: u64,
    etag: String,
    last_modified: SystemTime,
    content_type: Option<String>,
    metadata: Option<Metadata>,
    checksum: Option<Stored>,
    /// Sizes and checksums of the parts it was completed from (empty for a single PUT).
    parts: Vec<(u64, Option<String>)>,
}

#[derive(Clone, Debug)]
struct Part {
    blob: Arc<Blob>,
    size: u64,
    etag: String,
    last_modified: SystemTime,
    checksum: Option<Stored>,
    /// A part of an upload with no algorithm, sent without a checksum: its CRC-64/NVME, computed
    /// as it arrived (never reported for the part) to combine the object's default one at complete.
    default_crc64: Option<String>,
}

#[derive(Debug)]
struct Upload {
    bucket: String,
    key: String,
    initiated: SystemTime,
    content_type: Option<String>,
    metadata: Option<Metadata>,
    algorithm: Option<Algorithm>,
    full_object: bool,
    parts: BTreeMap<i32, Part>,
}

/// One version of a key: an object, or a delete marker (`object: None`). Written while the
/// bucket kept no versions, its id is `null`, as S3 names it.
#[derive(Clone, Debug)]
struct Version {
    id: String,
    at: SystemTime,
    object: Option<Object>,
}

const NULL_VERSION: &str = "null";

#[derive(Debug, Default)]
struct Bucket {
    created: Option<SystemTime>,
    cors: Option<Vec<CORSRule>>,
    queues: Vec<QueueConfiguration>,
    /// `Enabled` or `Suspended` once PutBucketVersioning was called; never back to unversioned.
    versioning: Option<BucketVersioningStatus>,
    /// Every key's versions, oldest first: the last is the current one.
    objects: BTreeMap<String, Vec<Version>>,
}

impl Bucket {
    fn enabled(&self) -> bool {
        self.versioning.as_ref().is_some_and(|v| v.as_str() == BucketVersioningStatus::ENABLED)
    }

    /// The version id to report in a response: none on a bucket that never kept versions.
    fn reported(&self, id: &str) -> Option<String> {
        self.versioning.is_some().then(|| id.to_owned())
    }

    /// The current object of `key`, with its version id; a delete marker is none.
    fn current(&self, key: &str) -> Option<(&Object, &str)> {
        let version = self.objects.get(key)?.last()?;
        version.object.as_ref().map(|o| (o, version.id.as_str()))
    }

    /// Stores `entry` (an object or a delete marker) as the current version of `key`: a new
    /// version when versioning is enabled, else in place of the `null` version. Returns its id.
    fn write(&mut self, key: &str, object: Option<Object>) -> String {
        let id = if self.enabled() { new_version_id() } else { NULL_VERSION.to_owned() };
        let versions = self.objects.entry(key.to_owned()).or_default();
        if id == NULL_VERSION {
            versions.retain(|v| v.id != NULL_VERSION);
        }
        versions.push(Version { id: id.clone(), at: SystemTime::now(), object });
        id
    }

    /// Removes one version of `key`; returns it if it was there.
    fn remove_version(&mut self, key: &str, id: &str) -> Option<Version> {
        let versions = self.objects.get_mut(key)?;
        let at = versions.iter().position(|v| v.id == id)?;
        let removed = versions.remove(at);
        if versions.is_empty() {
            self.objects.remove(key);
        }
        Some(removed)
    }

    /// S3's DeleteObject: one version when named; else a delete marker on a bucket that keeps
    /// versions, or the object itself on one that never did. Returns (version id, delete marker).
    fn delete(&mut self, key: &str, version: Option<&str>) -> (Option<String>, bool) {
        match version {
            Some(id) => {
                let removed = self.remove_version(key, id);
                let marker = removed.is_some_and(|v| v.object.is_none());
                (Some(id.to_owned()), marker)
            }
            None if self.versioning.is_some() => {
                let id = self.write(key, None);
                (Some(id), true)
            }
            None => {
                self.objects.remove(key);
                (None, false)
            }
        }
    }
}

fn new_version_id() -> String {
    // Opaque to clients, as S3's are; unique and ordered here.
    uuid::Uuid::now_v7().simple().to_string()
}

#[derive(Clone, Debug)]
struct Completed {
    bucket: String,
    key: String,
    etag: String,
    checksum: Option<Stored>,
    version: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    buckets: BTreeMap<String, Bucket>,
    uploads: HashMap<String, Upload>,
    /// What each completed upload answered: S3 answers a repeated CompleteMultipartUpload of a
    /// finished upload with 200 and the same result.
    completed: HashMap<String, Completed>,
}

impl State {
    fn bucket(&mut self, name: &str) -> S3Result<&mut Bucket> {
        self.buckets
            .get_mut(name)
            .ok_or_else(|| s3_error!(NoSuchBucket, "The specified bucket does not exist"))
    }

    fn upload(&mut self, bucket: &str, key: &str, id: &str) -> S3Result<&mut Upload> {
        match self.uploads.get_mut(id) {
            Some(upload) if upload.bucket == bucket && upload.key == key => Ok(upload),
            _ => Err(no_such_upload()),
        }
    }
}

fn no_such_upload() -> s3s::S3Error {
    s3_error!(
        NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )
}

fn no_such_key() -> s3s::S3Error {
    s3_error!(NoSuchKey, "The specified key does not exist.")
}

fn internal(e: impl std::fmt::Display) -> s3s::S3Error {
    tracing::error!(error = %e, "local S3");
    s3_error!(InternalError, "We encountered an internal error. Please try again.")
}

struct Inner {
    root: PathBuf,
    state: Mutex<State>,
    next: AtomicU64,
    notifier: Option<Notifier>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Objects' blobs go with the state; then the directory itself.
        self.state.get_mut().map(std::mem::take).ok();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The local S3: cheap to clone, every clone the same buckets.
#[derive(Clone)]
pub struct LocalS3 {
    inner: Arc<Inner>,
}

impl LocalS3 {
    /// Keeps bytes under `root` (created, and removed when the last clone is dropped); sends
    /// bucket notifications through `notifier` if there is one.
    pub fn new(root: PathBuf, notifier: Option<Notifier>) -> std::io::Result<Self> {
        std::fs::create_dir_all(&root)?;
        Ok(Self {
            inner: Arc::new(Inner { root, state: Mutex::default(), next: AtomicU64::new(1), notifier }),
        })
    }

    /// A fresh directory under the system's temporary one.
    pub fn in_temp_dir(notifier: Option<Notifier>) -> std::io::Result<Self> {
        let root = std::env::temp_dir().join(format!(
            "vidgate-local-s3-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7()
        ));
        Self::new(root, notifier)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock can't leave the maps half-changed: every change is one
        // insert or remove.
        self.inner.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn new_blob(&self) -> Blob {
        Blob(self.inner.root.join(self.inner.next.fetch_add(1, Ordering::Relaxed).to_string()))
    }

    /// The bucket's CORS rules, for [`cors`].
    pub fn cors_rules(&self, bucket: &str) -> Option<Vec<CORSRule>> {
        self.state().buckets.get(bucket).and_then(|b| b.cors.clone())
    }

    /// Writes a body to a new blob, hashing it as it goes; checks it against what the request
    /// declared: Content-MD5, a checksum in a header or the presigned URL's query, or one in an
    /// aws-chunked trailer that `x-amz-trailer` announced. `named` is `x-amz-sdk-checksum-algorithm`;
    /// `default` what S3 computes when the request names nothing.
    #[allow(clippy::too_many_arguments)]
    async fn receive(
        &self,
        body: Option<StreamingBlob>,
        content_md5: Option<&str>,
        declared: Fields,
        named: Option<Algorithm>,
        default: Option<Algorithm>,
        headers: &http::HeaderMap,
        trailers: Option<&s3s::TrailingHeaders>,
    ) -> S3Result<(Blob, u64, String, Option<Stored>)> {
        let declared_md5 = content_md5.map(checksum::check_content_md5).transpose()?;
        let given = declared.single()?;
        if let Some((algorithm, value)) = &given {
            checksum::check_well_formed(*algorithm, value)?;
        }
        let trailer = match headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()) {
            None => None,
            Some(name) => Some(
                Algorithm::ALL
                    .into_iter()
                    .find(|a| a.header().eq_ignore_ascii_case(name.trim()))
                    .ok_or_else(|| {
                        s3_error!(
                            InvalidRequest,
                            "The value specified in the x-amz-trailer header is not supported"
                        )
                    })?,
            ),
        };
        let announced = given.as_ref().map(|(a, _)| *a).or(trailer);
        if let (Some(n), Some(a)) = (named, announced)
            && n != a
        {
            return Err(s3_error!(
                InvalidRequest,
                "Value for x-amz-sdk-checksum-algorithm header is invalid."
            ));
        }
        if named.is_some() && announced.is_none() {
            return Err(s3_error!(
                InvalidRequest,
                "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found."
            ));
        }
        let algorithm = announced.or(default);
        let mut hasher = BodyHasher::new(algorithm);
        let blob = self.new_blob();
        let mut file = tokio::io::BufWriter::with_capacity(
            CHUNK,
            tokio::fs::File::create(&blob.0).await.map_err(internal)?,
        );
        let mut size = 0u64;
        if let Some(mut body) = body {
            while let Some(chunk) = body.try_next().await.map_err(|e| {
                s3_error!(
                    IncompleteBody,
                    "You did not provide the number of bytes specified by the Content-Length HTTP header: {e}"
                )
            })? {
                hasher.update(&chunk);
                file.write_all(&chunk).await.map_err(internal)?;
                size += chunk.len() as u64;
            }
        }
        file.flush().await.map_err(internal)?;
        let (md5, computed) = hasher.finalize();
        let declared_value = match (given, trailer) {
            (Some((_, value)), _) => Some(value),
            (None, Some(a)) => {
                let trailers = trailers.and_then(s3s::TrailingHeaders::take);
                let value = trailers
                    .as_ref()
                    .and_then(|t| t.get(a.header()))
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        s3_error!(
                            InvalidRequest,
                            "The trailer {} announced by x-amz-trailer was not sent",
                            a.header()
                        )
                    })?
                    .to_owned();
                checksum::check_well_formed(a, &value)?;
                Some(value)
            }
            (None, None) => None,
        };
        checksum::verify_body(&md5, declared_md5, computed.as_ref(), declared_value.as_deref())?;
        Ok((blob, size, hex(&md5), computed))
    }

    fn notify(&self, bucket: &str, key: &str, event: &'static str, object: &Object, version: Option<&str>) {
        let Some(notifier) = &self.inner.notifier else { return };
        let queues = self.state().buckets.get(bucket).map(|b| b.queues.clone()).unwrap_or_default();
        let created = events::Created { bucket, key, event, size: object.size, etag: &object.etag, version };
        notifier.object_created(&queues, &created);
    }

    /// The object a read names (the current one, or `version`), with the version id to report.
    fn object(&self, bucket: &str, key: &str, version: Option<&str>) -> S3Result<(Object, Option<String>)> {
        let mut state = self.state();
        let bucket = state.bucket(bucket)?;
        match version {
            None => {
                let (object, id) = bucket.current(key).ok_or_else(no_such_key)?;
                Ok((object.clone(), bucket.reported(id)))
            }
            Some(id) => {
                let found = bucket.objects.get(key).and_then(|all| all.iter().find(|v| v.id == id));
                match found {
                    None => Err(s3_error!(NoSuchVersion, "The specified version does not exist.")),
                    Some(Version { object: None, .. }) => Err(s3_error!(
                        MethodNotAllowed,
                        "The specified method is not allowed against this resource."
                    )),
                    Some(Version { object: Some(object), .. }) => Ok((object.clone(), Some(id.to_owned()))),
                }
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn etag(value: &str) -> ETag {
    ETag::Strong(value.to_owned())
}

/// `If-Match` / `If-None-Match` on reads, as S3 answers them.
fn check_conditions(
    object: &Object,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<()> {
    let current = etag(&object.etag);
    if let Some(condition) = if_match
        && !condition.is_any()
        && !condition.as_etag().is_some_and(|e| e.strong_cmp(&current))
    {
        return Err(s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold"
        ));
    }
    if let Some(condition) = if_none_match
        && (condition.is_any() || condition.as_etag().is_some_and(|e| e.weak_cmp(&current)))
    {
        return Err(s3_error!(NotModified));
    }
    Ok(())
}

fn precondition_failed() -> s3s::S3Error {
    s3_error!(PreconditionFailed, "At least one of the pre-conditions you specified did not hold")
}

/// What the deployed bucket's policy refuses (template.yaml, `DenyUnservableWrites`): objects
/// S3 would keep but not serve back as they are (SSE-C keys nobody else holds, a storage class
/// other than STANDARD) — so the local S3 refuses them the same way, 403 AccessDenied.
fn refuse_unservable(sse_customer: Option<&str>, class: Option<&StorageClass>) -> S3Result<()> {
    if sse_customer.is_some() || class.is_some_and(|c| c.as_str() != StorageClass::STANDARD) {
        return Err(s3_error!(AccessDenied, "Access Denied"));
    }
    Ok(())
}

fn wants_checksum(mode: Option<&ChecksumMode>) -> bool {
    mode.is_some_and(|m| m.as_str() == ChecksumMode::ENABLED)
}

/// Concatenates parts into one file: `copy_file_range` when no full-object checksum is needed,
/// else read, hash and write in one pass. Returns the full-object checksum if one was computed.
fn assemble(
    dest: &Path,
    parts: &[Arc<Blob>],
    full_object: Option<Algorithm>,
) -> std::io::Result<Option<String>> {
    let mut out = std::fs::File::create(dest)?;
    let mut hasher = full_object.map(checksum::Hasher::new);
    let mut buf = vec![0u8; CHUNK];
    for part in parts {
        let mut input = std::fs::File::open(&part.0)?;
        match &mut hasher {
            None => {
                std::io::copy(&mut input, &mut out)?;
            }
            Some(hasher) => loop {
                let n = input.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n])?;
            },
        }
    }
    out.flush()?;
    Ok(hasher.map(|h| checksum::base64(&h.finalize())))
}

#[async_trait::async_trait]
impl S3 for LocalS3 {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let mut state = self.state();
        if state.buckets.contains_key(&req.input.bucket) {
            return Err(s3_error!(
                BucketAlreadyOwnedByYou,
                "Your previous request to create the named bucket succeeded and you already own it."
            ));
        }
        state.buckets.insert(
            req.input.bucket.clone(),
            Bucket { created: Some(SystemTime::now()), ..Bucket::default() },
        );
        Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{}", req.input.bucket)) }))
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        self.state().bucket(&req.input.bucket)?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(crate::bootstrap::REGION.into()),
            ..Default::default()
        }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.state().bucket(&req.input.bucket)?;
        // us-east-1 is the empty constraint.
        Ok(S3Response::new(GetBucketLocationOutput::default()))
    }

    async fn list_buckets(
        &self,
        _req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let state = self.state();
        let buckets = state
            .buckets
            .iter()
            .map(|(name, b)| s3s::dto::Bucket {
                name: Some(name.clone()),
                creation_date: b.created.map(Timestamp::from),
                bucket_region: Some(crate::bootstrap::REGION.into()),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput { buckets: Some(buckets), ..Default::default() }))
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let mut state = self.state();
        if !state.bucket(&req.input.bucket)?.objects.is_empty() {
            return Err(s3_error!(BucketNotEmpty, "The bucket you tried to delete is not empty"));
        }
        state.buckets.remove(&req.input.bucket);
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    async fn put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        let rules = req.input.cors_configuration.cors_rules;
        if rules.is_empty() || rules.len() > 100 {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        }
        self.state().bucket(&req.input.bucket)?.cors = Some(rules);
        Ok(S3Response::new(PutBucketCorsOutput {}))
    }

    async fn get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        let rules = self.state().bucket(&req.input.bucket)?.cors.clone();
        match rules {
            Some(rules) => Ok(S3Response::new(GetBucketCorsOutput { cors_rules: Some(rules) })),
            None => Err(s3_error!(NoSuchCORSConfiguration, "The CORS configuration does not exist")),
        }
    }

    async fn delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        self.state().bucket(&req.input.bucket)?.cors = None;
        Ok(S3Response::new(DeleteBucketCorsOutput {}))
    }

    async fn put_bucket_notification_configuration(
        &self,
        req: S3Request<PutBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
        let config = req.input.notification_configuration;
        if config.lambda_function_configurations.as_ref().is_some_and(|l| !l.is_empty())
            || config.topic_configurations.as_ref().is_some_and(|t| !t.is_empty())
        {
            return Err(s3_error!(NotImplemented, "the local S3 notifies SQS queues only"));
        }
        let queues = config.queue_configurations.unwrap_or_default();
        if let Some(notifier) = &self.inner.notifier {
            // S3 checks the destinations exist, and sends each a test event.
            notifier.validate(&queues, &req.input.bucket).await?;
        }
        self.state().bucket(&req.input.bucket)?.queues = queues;
        Ok(S3Response::new(PutBucketNotificationConfigurationOutput {}))
    }

    async fn get_bucket_notification_configuration(
        &self,
        req: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
        let queues = self.state().bucket(&req.input.bucket)?.queues.clone();
        Ok(S3Response::new(GetBucketNotificationConfigurationOutput {
            queue_configurations: Some(queues),
            ..Default::default()
        }))
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        self.state().bucket(&input.bucket)?;
        refuse_unservable(input.sse_customer_algorithm.as_deref(), input.storage_class.as_ref())?;
        let declared = checksum_fields!(input).or_from_query(&req.uri);
        // S3 gives every object a checksum: CRC64NVME if the request names none.
        let named = Algorithm::from_dto(input.checksum_algorithm.as_ref())?;
        let (blob, size, md5, stored) = self
            .receive(
                input.body,
                input.content_md5.as_deref(),
                declared,
                named,
                Some(Algorithm::Crc64Nvme),
                &req.headers,
                req.trailing_headers.as_ref(),
            )
            .await?;
        let object = Object {
            blob: Arc::new(blob),
            size,
            etag: md5.clone(),
            last_modified: SystemTime::now(),
            content_type: input.content_type,
            metadata: input.metadata,
            checksum: stored.clone(),
            parts: Vec::new(),
        };
        let version = {
            let mut state = self.state();
            let bucket = state.bucket(&input.bucket)?;
            if let Some(condition) = &input.if_none_match
                && condition.is_any()
                && bucket.current(&input.key).is_some()
            {
                return Err(precondition_failed());
            }
            let id = bucket.write(&input.key, Some(object.clone()));
            bucket.reported(&id)
        };
        // s3s hands a browser's POST form here too (its default `post_object`); S3 names it.
        let post = req.method == http::Method::POST;
        let event = if post { "ObjectCreated:Post" } else { "ObjectCreated:Put" };
        self.notify(&input.bucket, &input.key, event, &object, version.as_deref());
        let sums = stored.as_ref().map(Stored::fields).unwrap_or_default();
        let mut response = S3Response::new(PutObjectOutput {
            e_tag: Some(etag(&md5)),
            version_id: version,
            checksum_crc32: sums.crc32,
            checksum_crc32c: sums.crc32c,
            checksum_crc64nvme: sums.crc64nvme,
            checksum_sha1: sums.sha1,
            checksum_sha256: sums.sha256,
            checksum_type: stored.as_ref().map(Stored::checksum_type),
            size: Some(size as i64),
            ..Default::default()
        });
        if post {
            // S3 answers a POST form 204 with the ETag and Location as headers (browsers read the
            // ETag); s3s serializes a 204 with neither.
            let location = format!("/{}/{}", input.bucket, input.key);
            for (name, value) in [("etag", format!("\"{md5}\"")), ("location", location)] {
                if let Ok(value) = value.parse() {
                    response.headers.insert(name, value);
                }
            }
        }
        Ok(response)
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        if input.part_number.is_some() {
            return Err(s3_error!(NotImplemented, "the local S3 reads no single parts (partNumber)"));
        }
        let (object, version) = self.object(&input.bucket, &input.key, input.version_id.as_deref())?;
        check_conditions(&object, input.if_match.as_ref(), input.if_none_match.as_ref())?;
        let (start, length, content_range) = match &input.range {
            None => (0, object.size, None),
            Some(range) => {
                let r = range
                    .check(object.size)
                    .map_err(|_| s3_error!(InvalidRange, "The requested range is not satisfiable"))?;
                (r.start, r.end - r.start, Some(format!("bytes {}-{}/{}", r.start, r.end - 1, object.size)))
            }
        };
        let mut file = tokio::fs::File::open(&object.blob.0).await.map_err(internal)?;
        file.seek(std::io::SeekFrom::Start(start)).await.map_err(internal)?;
        let stream = tokio_util::io::ReaderStream::with_capacity(file.take(length), CHUNK);
        let whole = content_range.is_none();
        let sums = object.checksum.as_ref().filter(|_| whole && wants_checksum(input.checksum_mode.as_ref()));
        let fields = sums.map(Stored::fields).unwrap_or_default();
        Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::wrap(stream)),
            content_length: Some(length as i64),
            content_range,
            accept_ranges: Some("bytes".into()),
            // S3 answers a signed request's `response-content-type` with that type.
            content_type: input.response_content_type.or_else(|| object.content_type.clone()),
            metadata: object.metadata.clone(),
            e_tag: Some(etag(&object.etag)),
            last_modified: Some(Timestamp::from(object.last_modified)),
            checksum_crc32: fields.crc32,
            checksum_crc32c: fields.crc32c,
            checksum_crc64nvme: fields.crc64nvme,
            checksum_sha1: fields.sha1,
            checksum_sha256: fields.sha256,
            checksum_type: sums.map(Stored::checksum_type),
            parts_count: (!object.parts.is_empty()).then_some(object.parts.len() as i32),
            version_id: version,
            ..Default::default()
        }))
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        let (object, version) = self.object(&input.bucket, &input.key, input.version_id.as_deref())?;
        check_conditions(&object, input.if_match.as_ref(), input.if_none_match.as_ref())?;
        let (length, content_range) = match &input.range {
            None => (object.size, None),
            Some(range) => {
                let r = range
                    .check(object.size)
                    .map_err(|_| s3_error!(InvalidRange, "The requested range is not satisfiable"))?;
                (r.end - r.start, Some(format!("bytes {}-{}/{}", r.start, r.end - 1, object.size)))
            }
        };
        let sums = object.checksum.as_ref().filter(|_| wants_checksum(input.checksum_mode.as_ref()));
        let fields = sums.map(Stored::fields).unwrap_or_default();
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(length as i64),
            content_range,
            accept_ranges: Some("bytes".into()),
            content_type: object.content_type.clone(),
            metadata: object.metadata.clone(),
            e_tag: Some(etag(&object.etag)),
            last_modified: Some(Timestamp::from(object.last_modified)),
            checksum_crc32: fields.crc32,
            checksum_crc32c: fields.crc32c,
            checksum_crc64nvme: fields.crc64nvme,
            checksum_sha1: fields.sha1,
            checksum_sha256: fields.sha256,
            checksum_type: sums.map(Stored::checksum_type),
            parts_count: (!object.parts.is_empty()).then_some(object.parts.len() as i32),
            version_id: version,
            ..Default::default()
        }))
    }

    async fn get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        let input = req.input;
        let (object, version) = self.object(&input.bucket, &input.key, input.version_id.as_deref())?;
        let wants = |name: &str| input.object_attributes.iter().any(|a| a.as_str() == name);
        let mut out = GetObjectAttributesOutput {
            last_modified: Some(Timestamp::from(object.last_modified)),
            version_id: version,
            ..Default::default()
        };
        if wants(ObjectAttributes::ETAG) {
            out.e_tag = Some(etag(&object.etag));
        }
        if wants(ObjectAttributes::OBJECT_SIZE) {
            out.object_size = Some(object.size as i64);
        }
        if wants(ObjectAttributes::STORAGE_CLASS) {
            out.storage_class = Some(StorageClass::from_static(StorageClass::STANDARD));
        }
        if wants(ObjectAttributes::CHECKSUM)
            && let Some(stored) = &object.checksum
        {
            let mut sums = stored.fields().into_dto();
            sums.checksum_type = Some(stored.checksum_type());
            out.checksum = Some(sums);
        }
        if wants(ObjectAttributes::OBJECT_PARTS) && !object.parts.is_empty() {
            let marker = input.part_number_marker.unwrap_or(0).max(0) as usize;
            let max = input.max_parts.unwrap_or(1000).clamp(1, 1000) as usize;
            let algorithm = object.checksum.as_ref().map(|s| s.algorithm);
            let parts: Vec<ObjectPart> = object
                .parts
                .iter()
                .enumerate()
                .skip(marker)
                .take(max)
                .map(|(i, (size, sum))| {
                    let mut part = ObjectPart {
                        part_number: Some(i as i32 + 1),
                        size: Some(*size as i64),
                        ..Default::default()
                    };
                    if let (Some(a), Some(v)) = (algorithm, sum) {
                        let f = Stored { algorithm: a, value: v.clone(), full_object: false }.fields();
                        part.checksum_crc32 = f.crc32;
                        part.checksum_crc32c = f.crc32c;
                        part.checksum_crc64nvme = f.crc64nvme;
                        part.checksum_sha1 = f.sha1;
                        part.checksum_sha256 = f.sha256;
                    }
                    part
                })
                .collect();
            let last = marker + parts.len();
            out.object_parts = Some(GetObjectAttributesParts {
                total_parts_count: Some(object.parts.len() as i32),
                part_number_marker: Some(marker as i32),
                next_part_number_marker: Some(last as i32),
                max_parts: Some(max as i32),
                is_truncated: Some(last < object.parts.len()),
                parts: Some(parts),
            });
        }
        Ok(S3Response::new(out))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        // A blob goes when the last reader lets go of it.
        let input = req.input;
        let (version_id, marker) =
            self.state().bucket(&input.bucket)?.delete(&input.key, input.version_id.as_deref());
        Ok(S3Response::new(DeleteObjectOutput {
            version_id,
            delete_marker: marker.then_some(true),
            ..Default::default()
        }))
    }

    /// DeleteObjects: each key as DeleteObject would, each answered in the list (errors too).
    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let input = req.input;
        if input.delete.objects.is_empty() || input.delete.objects.len() > 1000 {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        }
        let quiet = input.delete.quiet == Some(true);
        let mut state = self.state();
        let bucket = state.bucket(&input.bucket)?;
        let mut deleted = Vec::new();
        for object in input.delete.objects {
            let (version_id, marker) = bucket.delete(&object.key, object.version_id.as_deref());
            if quiet {
                continue;
            }
            let created = marker && object.version_id.is_none();
            deleted.push(DeletedObject {
                key: Some(object.key),
                version_id: object.version_id.clone(),
                delete_marker: marker.then_some(true),
                delete_marker_version_id: version_id.filter(|_| created),
            });
        }
        Ok(S3Response::new(DeleteObjectsOutput { deleted: Some(deleted), ..Default::default() }))
    }

    /// ListObjectVersions: every version and delete marker, by key, newest first within a key.
    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let input = req.input;
        if input.delimiter.as_deref().is_some_and(|d| !d.is_empty()) {
            return Err(s3_error!(NotImplemented, "the local S3 lists versions without a delimiter"));
        }
        let max = input.max_keys.unwrap_or(1000).clamp(0, 1000) as usize;
        let prefix = input.prefix.clone().unwrap_or_default();
        let mut state = self.state();
        let bucket = state.bucket(&input.bucket)?;
        let mut rows: Vec<(&String, &Version, bool)> = Vec::new();
        for (key, versions) in &bucket.objects {
            if !key.starts_with(&prefix) || input.key_marker.as_ref().is_some_and(|m| key < m) {
                continue;
            }
            let newest_first = versions.iter().rev().enumerate();
            let mut skipping = input.key_marker.as_ref() == Some(key);
            for (i, version) in newest_first {
                if skipping {
                    // After the key marker alone: the whole key is done; with a version marker,
                    // the versions after it are still to list.
                    if input.version_id_marker.as_deref() == Some(version.id.as_str()) {
                        skipping = false;
                    }
                    continue;
                }
                rows.push((key, version, i == 0));
            }
        }
        let truncated = rows.len() > max;
        let next = truncated.then(|| (rows[max - 1].0.clone(), rows[max - 1].1.id.clone()));
        rows.truncate(max);
        let mut versions = Vec::new();
        let mut markers = Vec::new();
        for (key, version, latest) in rows {
            let last_modified = Some(Timestamp::from(version.at));
            match &version.object {
                Some(object) => versions.push(ObjectVersion {
                    key: Some(key.clone()),
                    version_id: Some(version.id.clone()),
                    is_latest: Some(latest),
                    last_modified,
                    size: Some(object.size as i64),
                    e_tag: Some(etag(&object.etag)),
                    storage_class: Some(ObjectVersionStorageClass::from_static(
                        ObjectVersionStorageClass::STANDARD,
                    )),
                    checksum_algorithm: object.checksum.as_ref().map(|s| vec![s.algorithm.to_dto()]),
                    checksum_type: object.checksum.as_ref().map(Stored::checksum_type),
                    ..Default::default()
                }),
                None => markers.push(DeleteMarkerEntry {
                    key: Some(key.clone()),
                    version_id: Some(version.id.clone()),
                    is_latest: Some(latest),
                    last_modified,
                    ..Default::default()
                }),
            }
        }
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(input.bucket),
            prefix: input.prefix,
            key_marker: input.key_marker,
            version_id_marker: input.version_id_marker,
            max_keys: Some(max as i32),
            is_truncated: Some(truncated),
            next_key_marker: next.as_ref().map(|(k, _)| k.clone()),
            next_version_id_marker: next.map(|(_, v)| v),
            versions: Some(versions),
            delete_markers: Some(markers),
            ..Default::default()
        }))
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let input = req.input;
        let status = input.versioning_configuration.status.filter(|s| {
            matches!(s.as_str(), BucketVersioningStatus::ENABLED | BucketVersioningStatus::SUSPENDED)
        });
        let Some(status) = status else {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        };
        self.state().bucket(&input.bucket)?.versioning = Some(status);
        Ok(S3Response::new(PutBucketVersioningOutput {}))
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let status = self.state().bucket(&req.input.bucket)?.versioning.clone();
        Ok(S3Response::new(GetBucketVersioningOutput { status, ..Default::default() }))
    }

    /// Version 1 of the listing (a plain `GET /bucket`): the same walk, `marker` for `start-after`.
    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let marker = req.input.marker.clone();
        let v2 = req.map_input(|v1| ListObjectsV2Input {
            bucket: v1.bucket,
            delimiter: v1.delimiter,
            max_keys: v1.max_keys,
            prefix: v1.prefix,
            start_after: v1.marker,
            ..Default::default()
        });
        let out = self.list_objects_v2(v2).await?.output;
        Ok(S3Response::new(ListObjectsOutput {
            name: out.name,
            prefix: out.prefix,
            marker,
            max_keys: out.max_keys,
            is_truncated: out.is_truncated,
            next_marker: out.next_continuation_token,
            contents: out.contents,
            common_prefixes: out.common_prefixes,
            delimiter: out.delimiter,
            ..Default::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let max = input.max_keys.unwrap_or(1000).clamp(0, 1000) as usize;
        let prefix = input.prefix.clone().unwrap_or_default();
        let after = input.continuation_token.clone().or(input.start_after.clone()).unwrap_or_default();
        let mut state = self.state();
        let bucket = state.bucket(&input.bucket)?;
        let mut contents = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut next = None;
        for (key, versions) in
            bucket.objects.range::<String, _>((std::ops::Bound::Excluded(&after), std::ops::Bound::Unbounded))
        {
            // A key whose current version is a delete marker is not listed.
            let Some(object) = versions.last().and_then(|v| v.object.as_ref()) else { continue };
            if !key.starts_with(&prefix) {
                continue;
            }
            if contents.len() + prefixes.len() >= max {
                next = Some(key.clone());
                break;
            }
            if let Some(d) = input.delimiter.as_deref().filter(|d| !d.is_empty())
                && let Some(at) = key[prefix.len()..].find(d)
            {
                let common = key[..prefix.len() + at + d.len()].to_owned();
                if prefixes.last() != Some(&common) {
                    prefixes.push(common);
                }
                continue;
            }
            contents.push(s3s::dto::Object {
                key: Some(key.clone()),
                size: Some(object.size as i64),
                e_tag: Some(etag(&object.etag)),
                last_modified: Some(Timestamp::from(object.last_modified)),
                storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
                checksum_algorithm: object.checksum.as_ref().map(|s| vec![s.algorithm.to_dto()]),
                checksum_type: object.checksum.as_ref().map(Stored::checksum_type),
                ..Default::default()
            });
        }
        // A token is the last key listed: the next page starts after it.
        let token = next.and_then(|_| {
            let last_object = contents.last().and_then(|o: &s3s::dto::Object| o.key.clone());
            last_object.max(prefixes.last().cloned())
        });
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: input.prefix,
            delimiter: input.delimiter,
            max_keys: Some(max as i32),
            key_count: Some((contents.len() + prefixes.len()) as i32),
            is_truncated: Some(token.is_some()),
            continuation_token: input.continuation_token,
            next_continuation_token: token,
            start_after: input.start_after,
            common_prefixes: (!prefixes.is_empty())
                .then(|| prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(p) }).collect()),
            contents: Some(contents),
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        refuse_unservable(input.sse_customer_algorithm.as_deref(), input.storage_class.as_ref())?;
        let algorithm = Algorithm::from_dto(input.checksum_algorithm.as_ref())?;
        let full_object = match input.checksum_type.as_ref().map(ChecksumType::as_str) {
            None => algorithm == Some(Algorithm::Crc64Nvme),
            Some(ChecksumType::FULL_OBJECT) => true,
            Some(ChecksumType::COMPOSITE) => false,
            Some(other) => {
                return Err(s3_error!(
                    InvalidRequest,
                    "Value for x-amz-checksum-type header is invalid: {other}"
                ));
            }
        };
        match algorithm {
            None if input.checksum_type.is_some() => {
                return Err(s3_error!(
                    InvalidRequest,
                    "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
                ));
            }
            Some(a) if full_object && !a.can_be_full_object() => {
                return Err(s3_error!(
                    InvalidRequest,
                    "The FULL_OBJECT checksum type cannot be used with the {} checksum algorithm.",
                    a.name().to_ascii_lowercase()
                ));
            }
            Some(Algorithm::Crc64Nvme) if !full_object => {
                return Err(s3_error!(
                    InvalidRequest,
                    "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm."
                ));
            }
            _ => {}
        }
        let id = uuid::Uuid::now_v7().simple().to_string();
        let mut state = self.state();
        state.bucket(&input.bucket)?;
        state.uploads.insert(
            id.clone(),
            Upload {
                bucket: input.bucket.clone(),
                key: input.key.clone(),
                initiated: SystemTime::now(),
                content_type: input.content_type,
                metadata: input.metadata,
                algorithm,
                full_object,
                parts: BTreeMap::new(),
            },
        );
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id),
            checksum_algorithm: algorithm.map(Algorithm::to_dto),
            checksum_type: algorithm.map(|_| {
                ChecksumType::from(
                    if full_object { ChecksumType::FULL_OBJECT } else { ChecksumType::COMPOSITE }.to_owned(),
                )
            }),
            ..Default::default()
        }))
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        let input = req.input;
        if !(1..=MAX_PART_NUMBER).contains(&input.part_number) {
            return Err(s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive"
            ));
        }
        let upload_algorithm = self.state().upload(&input.bucket, &input.key, &input.upload_id)?.algorithm;
        let declared = checksum_fields!(input).or_from_query(&req.uri);
        let named = Algorithm::from_dto(input.checksum_algorithm.as_ref())?;
        let trailer = req.headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()).and_then(|name| {
            Algorithm::ALL.into_iter().find(|a| a.header().eq_ignore_ascii_case(name.trim()))
        });
        let part_algorithm = declared.single()?.map(|(a, _)| a).or(trailer).or(named);
        match (upload_algorithm, part_algorithm) {
            (Some(u), Some(p)) if u != p => {
                return Err(s3_error!(
                    InvalidRequest,
                    "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                    u.name().to_ascii_lowercase(),
                    p.name().to_ascii_lowercase()
                ));
            }
            (Some(u), None) => {
                return Err(s3_error!(
                    InvalidRequest,
                    "The upload was created using a {} checksum. The part must carry {} (a header, the presigned URL's query or a trailer).",
                    u.name().to_ascii_lowercase(),
                    u.header()
                ));
            }
            _ => {}
        }
        let (blob, size, md5, stored) = self
            .receive(
                input.body,
                input.content_md5.as_deref(),
                declared,
                named,
                upload_algorithm.is_none().then_some(Algorithm::Crc64Nvme),
                &req.headers,
                req.trailing_headers.as_ref(),
            )
            .await?;
        // What the part named is its checksum; what S3 computed by default is kept aside.
        let (stored, default_crc64) = match (part_algorithm, stored) {
            (None, Some(computed)) => (None, Some(computed.value)),
            (_, stored) => (stored, None),
        };
        let stored = stored.map(|s| Stored { full_object: false, ..s });
        let part = Part {
            blob: Arc::new(blob),
            size,
            etag: md5.clone(),
            last_modified: SystemTime::now(),
            checksum: stored.clone(),
            default_crc64,
        };
        // If the upload was completed or aborted meanwhile, the part is refused (and its blob
        // goes with it).
        self.state()
            .upload(&input.bucket, &input.key, &input.upload_id)?
            .parts
            .insert(input.part_number, part);
        let sums = stored.as_ref().map(Stored::fields).unwrap_or_default();
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(etag(&md5)),
            checksum_crc32: sums.crc32,
            checksum_crc32c: sums.crc32c,
            checksum_crc64nvme: sums.crc64nvme,
            checksum_sha1: sums.sha1,
            checksum_sha256: sums.sha256,
            ..Default::default()
        }))
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        let max = input.max_parts.unwrap_or(1000).clamp(1, 1000) as usize;
        let marker = input.part_number_marker.unwrap_or(0);
        let mut state = self.state();
        let upload = state.upload(&input.bucket, &input.key, &input.upload_id)?;
        let mut listed: Vec<Part> = Vec::new();
        let mut numbers = Vec::new();
        let mut more = false;
        for (number, part) in upload.parts.range(marker + 1..) {
            if listed.len() == max {
                more = true;
                break;
            }
            numbers.push(*number);
            listed.push(part.clone());
        }
        let parts = numbers
            .iter()
            .zip(&listed)
            .map(|(number, part)| {
                let f = part.checksum.as_ref().map(Stored::fields).unwrap_or_default();
                s3s::dto::Part {
                    part_number: Some(*number),
                    e_tag: Some(etag(&part.etag)),
                    size: Some(part.size as i64),
                    last_modified: Some(Timestamp::from(part.last_modified)),
                    checksum_crc32: f.crc32,
                    checksum_crc32c: f.crc32c,
                    checksum_crc64nvme: f.crc64nvme,
                    checksum_sha1: f.sha1,
                    checksum_sha256: f.sha256,
                }
            })
            .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            max_parts: Some(max as i32),
            part_number_marker: Some(marker),
            next_part_number_marker: numbers.last().copied(),
            is_truncated: Some(more),
            checksum_algorithm: upload.algorithm.map(Algorithm::to_dto),
            parts: Some(parts),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            ..Default::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        let max = input.max_uploads.unwrap_or(1000).clamp(1, 1000) as usize;
        let prefix = input.prefix.clone().unwrap_or_default();
        let mut state = self.state();
        state.bucket(&input.bucket)?;
        let mut open: Vec<(&String, &Upload)> = state
            .uploads
            .iter()
            .filter(|(_, u)| u.bucket == input.bucket && u.key.starts_with(&prefix))
            .collect();
        // By key, then by initiation, as S3 lists them; ids are v7 UUIDs, so they sort the same.
        open.sort_by(|a, b| (&a.1.key, a.0).cmp(&(&b.1.key, b.0)));
        let after = |(id, u): &(&String, &Upload)| match (&input.key_marker, &input.upload_id_marker) {
            (Some(key), Some(marker)) => (&u.key, *id) > (key, marker),
            (Some(key), None) => &u.key > key,
            _ => true,
        };
        let page: Vec<_> = open.iter().filter(|u| after(u)).take(max + 1).collect();
        let more = page.len() > max;
        let uploads: Vec<MultipartUpload> = page
            .iter()
            .take(max)
            .map(|(id, u)| MultipartUpload {
                key: Some(u.key.clone()),
                upload_id: Some((*id).clone()),
                initiated: Some(Timestamp::from(u.initiated)),
                checksum_algorithm: u.algorithm.map(Algorithm::to_dto),
                storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix,
            key_marker: input.key_marker,
            upload_id_marker: input.upload_id_marker,
            max_uploads: Some(max as i32),
            is_truncated: Some(more),
            next_key_marker: uploads.last().and_then(|u| u.key.clone()).filter(|_| more),
            next_upload_id_marker: uploads.last().and_then(|u| u.upload_id.clone()).filter(|_| more),
            uploads: Some(uploads),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        let mut state = self.state();
        state.upload(&input.bucket, &input.key, &input.upload_id)?;
        let upload = state.uploads.remove(&input.upload_id);
        drop(state);
        drop(upload);
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let listed = input.multipart_upload.as_ref().and_then(|m| m.parts.clone()).unwrap_or_default();
        if listed.is_empty() {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        }
        let declared = checksum_fields!(input).single()?;
        let must_be_new = input.if_none_match.as_ref().is_some_and(|c| c.is_any());

        // Decide under the lock: check every part, then take the upload out, so an abort (or a
        // second complete) that comes now finds NoSuchUpload rather than half a completion.
        let (upload, chosen) = {
            let mut state = self.state();
            if let Some(done) = state.completed.get(&input.upload_id)
                && done.bucket == input.bucket
                && done.key == input.key
            {
                return Ok(S3Response::new(completed_output(done.clone())));
            }
            if must_be_new && state.bucket(&input.bucket)?.current(&input.key).is_some() {
                return Err(precondition_failed());
            }
            let upload = state.upload(&input.bucket, &input.key, &input.upload_id)?;
            let mut chosen: Vec<(i32, Part)> = Vec::with_capacity(listed.len());
            for completed in &listed {
                let number = completed.part_number.unwrap_or(0);
                if chosen.last().is_some_and(|(last, _)| *last >= number) {
                    return Err(s3_error!(
                        InvalidPartOrder,
                        "The list of parts was not in ascending order. The parts list must be specified in order by part number."
                    ));
                }
                let invalid = || {
                    s3_error!(
                        InvalidPart,
                        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
                    )
                };
                let part = upload.parts.get(&number).ok_or_else(invalid)?;
                if completed.e_tag.as_ref().is_none_or(|e| e.value().trim_matches('"') != part.etag) {
                    return Err(invalid());
                }
                let sums = checksum_fields!(completed).single()?;
                if let Some((a, v)) = sums
                    && part.checksum.as_ref().is_none_or(|s| s.algorithm != a || s.value != v)
                {
                    return Err(invalid());
                }
                chosen.push((number, part.clone()));
            }
            for (i, (number, part)) in chosen.iter().enumerate() {
                if i + 1 < chosen.len() && part.size < MIN_PART_SIZE {
                    return Err(s3_error!(
                        EntityTooSmall,
                        "Your proposed upload is smaller than the minimum allowed size (part {number}: {} bytes, the minimum is 5 MiB)",
                        part.size
                    ));
                }
            }
            let total: u64 = chosen.iter().map(|(_, p)| p.size).sum();
            if let Some(size) = input.mpu_object_size
                && size != total as i64
            {
                return Err(s3_error!(
                    InvalidRequest,
                    "The provided 'x-amz-mp-object-size' header value {size} does not match what was computed: {total}"
                ));
            }
            if let Some(kind) = &input.checksum_type
                && upload.algorithm.is_some()
                && (kind.as_str() == ChecksumType::FULL_OBJECT) != upload.full_object
            {
                return Err(s3_error!(
                    InvalidRequest,
                    "The upload was created using the {} checksum mode. The complete request must use the same checksum mode.",
                    if upload.full_object { "full_object" } else { "composite" }
                ));
            }
            if let Some((a, _)) = &declared
                && upload.algorithm != Some(*a)
            {
                return Err(s3_error!(
                    InvalidRequest,
                    "The upload was created using {} checksum algorithm; the complete request named {}",
                    upload.algorithm.map_or("no", Algorithm::name),
                    a.name()
                ));
            }
            let upload = state.uploads.remove(&input.upload_id).expect("checked above");
            (upload, chosen)
        };

        let dest = self.new_blob();
        let blobs: Vec<Arc<Blob>> = chosen.iter().map(|(_, p)| p.blob.clone()).collect();
        // A full-object CRC is combined from the parts' CRCs, as S3 does (no pass over the
        // object's bytes); only parts without a stored checksum make the bytes be read again.
        let combined = upload.algorithm.filter(|_| upload.full_object).and_then(|algorithm| {
            let parts: Option<Vec<(&str, u64)>> = chosen
                .iter()
                .map(|(_, p)| {
                    p.checksum
                        .as_ref()
                        .filter(|c| c.algorithm == algorithm)
                        .map(|c| (c.value.as_str(), p.size))
                })
                .collect();
            checksum::combine(algorithm, &parts?)
        });
        // Without an algorithm, S3 still gives the object its default full-object CRC-64/NVME:
        // combined from the parts' too, read from the bytes only if a part has none.
        let combined = combined.or_else(|| {
            let parts: Option<Vec<(&str, u64)>> =
                chosen.iter().map(|(_, p)| p.default_crc64.as_deref().map(|c| (c, p.size))).collect();
            upload.algorithm.is_none().then(|| checksum::combine(Algorithm::Crc64Nvme, &parts?)).flatten()
        });
        let full = match upload.algorithm {
            None => Some(Algorithm::Crc64Nvme).filter(|_| combined.is_none()),
            Some(a) => Some(a).filter(|_| upload.full_object && combined.is_none()),
        };
        let path = dest.0.clone();
        let assembled = tokio::task::spawn_blocking(move || assemble(&path, &blobs, full))
            .await
            .map_err(internal)
            .and_then(|r| r.map_err(internal));
        let restore = |upload: Upload| {
            self.state().uploads.insert(input.upload_id.clone(), upload);
        };
        let full_sum = match assembled {
            Ok(sum) => sum.or(combined),
            Err(e) => {
                restore(upload);
                return Err(e);
            }
        };
        let checksum = match upload.algorithm {
            None => Some(Stored {
                algorithm: Algorithm::Crc64Nvme,
                value: full_sum.clone().unwrap_or_default(),
                full_object: true,
            }),
            Some(algorithm) if upload.full_object => {
                Some(Stored { algorithm, value: full_sum.unwrap_or_default(), full_object: true })
            }
            Some(algorithm) => {
                let sums: Vec<&str> = chosen
                    .iter()
                    .filter_map(|(_, p)| p.checksum.as_ref().map(|s| s.value.as_str()))
                    .collect();
                Some(Stored { algorithm, value: checksum::composite(algorithm, &sums), full_object: false })
            }
        };
        if let (Some((_, value)), Some(stored)) = (&declared, &checksum) {
            // A composite value may be given with or without its `-<parts>`.
            let bare = stored.value.split('-').next().unwrap_or_default();
            if value != &stored.value && value != bare {
                restore(upload);
                return Err(s3_error!(
                    BadDigest,
                    "The {} you specified did not match the calculated checksum.",
                    stored.algorithm.name()
                ));
            }
        }
        let mut md5s = Vec::with_capacity(chosen.len() * 16);
        for (_, part) in &chosen {
            md5s.extend(
                (0..part.etag.len())
                    .step_by(2)
                    .filter_map(|i| u8::from_str_radix(&part.etag[i..i + 2], 16).ok()),
            );
        }
        let etag_value = format!(
            "{}-{}",
            hex(&<s3s::crypto::Md5 as s3s::crypto::Checksum>::checksum(&md5s)),
            chosen.len()
        );
        let object = Object {
            blob: Arc::new(dest),
            size: chosen.iter().map(|(_, p)| p.size).sum(),
            etag: etag_value.clone(),
            last_modified: SystemTime::now(),
            content_type: upload.content_type.clone(),
            metadata: upload.metadata.clone(),
            checksum: checksum.clone(),
            parts: chosen
                .iter()
                .map(|(_, p)| (p.size, p.checksum.as_ref().map(|s| s.value.clone())))
                .collect(),
        };
        let version = {
            let mut state = self.state();
            let bucket = state.bucket(&input.bucket)?;
            // Checked again: an object may have been written while the parts were assembled.
            if must_be_new && bucket.current(&input.key).is_some() {
                drop(state);
                restore(upload);
                return Err(precondition_failed());
            }
            let id = bucket.write(&input.key, Some(object.clone()));
            bucket.reported(&id)
        };
        self.notify(
            &input.bucket,
            &input.key,
            "ObjectCreated:CompleteMultipartUpload",
            &object,
            version.as_deref(),
        );
        let done = Completed { bucket: input.bucket, key: input.key, etag: etag_value, checksum, version };
        self.state().completed.insert(input.upload_id, done.clone());
        Ok(S3Response::new(completed_output(done)))
    }
}

fn completed_output(done: Completed) -> CompleteMultipartUploadOutput {
    let fields = done.checksum.as_ref().map(Stored::fields).unwrap_or_default();
    CompleteMultipartUploadOutput {
        location: Some(format!("/{}/{}", done.bucket, done.key)),
        bucket: Some(done.bucket),
        key: Some(done.key),
        e_tag: Some(etag(&done.etag)),
        checksum_crc32: fields.crc32,
        checksum_crc32c: fields.crc32c,
        checksum_crc64nvme: fields.crc64nvme,
        checksum_sha1: fields.sha1,
        checksum_sha256: fields.sha256,
        checksum_type: done.checksum.as_ref().map(Stored::checksum_type),
        version_id: done.version,
        ..Default::default()
    }
}
