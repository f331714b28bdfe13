//! An in-memory `ObjectStore` for unit tests, following S3's multipart rules closely enough for
//! the handlers' decisions (missing parts, small parts, completed or aborted uploads).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use super::{
    Assembled, ClientRequest, ObjectError, ObjectInfo, ObjectStore, PartRef, PartUpload, PostForm,
    UploadedPart, same_etag,
};
use vidgate_domain::checksum::{self, Checksum, ChecksumAlgorithm, ChecksumType};
use vidgate_domain::parts::MIN_PART_SIZE;

#[derive(Default)]
struct Upload {
    key: String,
    /// The algorithm declared at creation: each part's checksum is kept, and S3's checks made.
    checksum: Option<ChecksumAlgorithm>,
    parts: BTreeMap<u32, (UploadedPart, Vec<u8>)>,
}

/// What `put_part` stores: part 1 begins with a real MP4 header and an `mdat` to the end of the
/// file, so an assembled object reads as video (when part 1 is larger than that prefix).
pub fn video_like(size: u64, part_number: u32) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    if part_number == 1 {
        let header = vidgate_domain::media::synthetic_prefix();
        let n = header.len().min(bytes.len());
        bytes[..n].copy_from_slice(&header[..n]);
    }
    bytes
}

/// A versioned bucket, as vidgate's is: every write of a key is a new version, newest last.
#[derive(Default)]
struct State {
    uploads: HashMap<String, Upload>,
    objects: HashMap<String, Vec<(ObjectInfo, Vec<u8>)>>,
}

impl State {
    fn current(&self, key: &str) -> Option<&(ObjectInfo, Vec<u8>)> {
        self.objects.get(key).and_then(|versions| versions.last())
    }

    /// Stores `bytes` as the new current version of `key`; returns the version id.
    fn write(&mut self, key: &str, mut info: ObjectInfo, bytes: Vec<u8>, next: u64) -> String {
        let version = format!("mem-version-{next}");
        info.version = Some(version.clone());
        self.objects.entry(key.to_owned()).or_default().push((info, bytes));
        version
    }
}

#[derive(Default)]
pub struct MemoryObjectStore {
    state: Mutex<State>,
    next_id: AtomicU64,
    unavailable: AtomicBool,
    /// Keys whose reads fail: S3 won't serve them (`true`: SSE-C, archive class) or just fail.
    poisoned: Mutex<HashMap<String, bool>>,
    /// Bytes `get_range` has answered with, and how many times.
    served: AtomicU64,
    reads: AtomicU64,
    /// When the signing credentials expire (`None`: never), as [`Self::sign_until`] set it.
    signing_expiry: Mutex<Option<vidgate_domain::time::Timestamp>>,
}

impl MemoryObjectStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every call fail as if S3 could not be reached.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// What a client's `PUT` to a part URL does: stores a part of `size` video-like bytes
    /// ([`video_like`]); returns its ETag.
    pub fn put_part(&self, upload_id: &str, part_number: u32, size: u64) -> Option<String> {
        self.put_part_bytes(upload_id, part_number, video_like(size, part_number))
    }

    /// Makes the signing credentials expire at `at`, as temporary credentials do.
    pub fn sign_until(&self, at: Option<vidgate_domain::time::Timestamp>) {
        *self.signing_expiry.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    /// Stores a part with exactly these bytes; returns its ETag.
    pub fn put_part_bytes(&self, upload_id: &str, part_number: u32, bytes: Vec<u8>) -> Option<String> {
        let mut state = self.lock();
        let upload = state.uploads.get_mut(upload_id)?;
        let size = bytes.len() as u64;
        let etag = format!("\"{upload_id}-{part_number}-{size}\"");
        let checksum = upload.checksum.map(|a| checksum::of(a, &bytes));
        let last_modified = Some(vidgate_domain::time::now());
        upload.parts.insert(
            part_number,
            (UploadedPart { part_number, etag: etag.clone(), size, checksum, last_modified }, bytes),
        );
        Some(etag)
    }

    /// Stores an object as a single PUT would; returns its ETag.
    pub fn put_object(&self, key: &str, bytes: Vec<u8>) -> String {
        let etag = format!(
            "\"{:016x}\"",
            bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3))
        );
        // S3 gives every new object a CRC64NVME checksum when the client sends none.
        let checksum = Checksum {
            algorithm: ChecksumAlgorithm::Crc64nvme,
            kind: ChecksumType::FullObject,
            value: checksum::of(ChecksumAlgorithm::Crc64nvme, &bytes),
        };
        let info = ObjectInfo {
            size: bytes.len() as u64,
            etag: etag.clone(),
            checksum: Some(checksum),
            version: None,
        };
        let next = self.next_id.fetch_add(1, Ordering::SeqCst);
        self.lock().write(key, info, bytes, next);
        etag
    }

    /// Bytes ranged reads have answered with so far, and in how many reads.
    pub fn served(&self) -> (u64, u64) {
        (self.served.load(Ordering::Relaxed), self.reads.load(Ordering::Relaxed))
    }

    /// Every key holding an object.
    pub fn keys(&self) -> Vec<String> {
        self.lock().objects.keys().cloned().collect()
    }

    /// The current object's bytes at `key`.
    pub fn bytes(&self, key: &str) -> Option<Vec<u8>> {
        self.lock().current(key).map(|(_, bytes)| bytes.clone())
    }

    /// The version ids S3 keeps for `key`, oldest first.
    pub fn versions(&self, key: &str) -> Vec<String> {
        let state = self.lock();
        let versions = state.objects.get(key).map(Vec::as_slice).unwrap_or_default();
        versions.iter().filter_map(|(info, _)| info.version.clone()).collect()
    }

    /// Makes reads of `key` fail: as S3 fails an object it won't serve (`unreadable`: written with
    /// SSE-C or an archive storage class), or with an error nobody expects.
    pub fn poison(&self, key: &str, unreadable: bool) {
        self.poisoned.lock().unwrap_or_else(|p| p.into_inner()).insert(key.to_owned(), unreadable);
    }

    fn read_check(&self, key: &str) -> Result<(), ObjectError> {
        self.check()?;
        match self.poisoned.lock().unwrap_or_else(|p| p.into_inner()).get(key) {
            Some(true) => Err(ObjectError::Unreadable("InvalidRequest: Server Side Encryption".into())),
            Some(false) => Err(ObjectError::Other("InternalError: poisoned".into())),
            None => Ok(()),
        }
    }

    /// Whether S3 still knows the multipart upload.
    pub fn has_upload(&self, upload_id: &str) -> bool {
        self.lock().uploads.contains_key(upload_id)
    }

    fn check(&self) -> Result<(), ObjectError> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(ObjectError::Unavailable("memory object store switched off".into()));
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn rejected(code: &str, message: String) -> ObjectError {
    ObjectError::RejectedParts { code: code.into(), message }
}

#[async_trait]
impl ObjectStore for MemoryObjectStore {
    async fn create_multipart(
        &self,
        key: &str,
        _content_type: &str,
        checksum: Option<ChecksumAlgorithm>,
    ) -> Result<String, ObjectError> {
        self.check()?;
        let id = format!("mem-upload-{}", self.next_id.fetch_add(1, Ordering::SeqCst));
        self.lock()
            .uploads
            .insert(id.clone(), Upload { key: key.to_owned(), checksum, ..Default::default() });
        Ok(id)
    }

    async fn presign_put(
        &self,
        key: &str,
        _content_type: &str,
        content_length: Option<u64>,
        expires_in: Duration,
    ) -> Result<String, ObjectError> {
        self.check()?;
        let length = content_length.map(|n| format!("content-length={n}&")).unwrap_or_default();
        Ok(format!("memory://bucket/{key}?{length}if-none-match=*&X-Amz-Expires={}", expires_in.as_secs()))
    }

    async fn presign_request(
        &self,
        key: &str,
        request: ClientRequest<'_>,
        expires_in: Duration,
    ) -> Result<String, ObjectError> {
        self.check()?;
        let query = match request {
            ClientRequest::PutObject => "method=PUT".to_owned(),
            ClientRequest::CreateMultipart => "uploads&method=POST".to_owned(),
            ClientRequest::ListParts { upload_id } => format!("uploadId={upload_id}&method=GET"),
            ClientRequest::Complete { upload_id } => format!("uploadId={upload_id}&method=POST"),
            ClientRequest::Abort { upload_id } => format!("uploadId={upload_id}&method=DELETE"),
        };
        Ok(format!("memory://bucket/{key}?{query}&X-Amz-Expires={}", expires_in.as_secs()))
    }

    fn bucket_url(&self) -> String {
        "memory://bucket".into()
    }

    async fn presign_part(&self, part: PartUpload<'_>, expires_in: Duration) -> Result<String, ObjectError> {
        let PartUpload { key, upload_id, part_number, content_length, checksum } = part;
        self.check()?;
        let length = content_length.map(|n| format!("&content-length={n}")).unwrap_or_default();
        let checksum = checksum.map(|(a, v)| format!("&{}={v}", a.header())).unwrap_or_default();
        Ok(format!(
            "memory://bucket/{key}?partNumber={part_number}&uploadId={upload_id}{length}{checksum}&X-Amz-Expires={}",
            expires_in.as_secs()
        ))
    }

    async fn signing_expiry(&self) -> Result<Option<vidgate_domain::time::Timestamp>, ObjectError> {
        self.check()?;
        Ok(*self.signing_expiry.lock().unwrap_or_else(|p| p.into_inner()))
    }

    async fn presign_post(
        &self,
        key: &str,
        content_type: &str,
        lengths: std::ops::RangeInclusive<u64>,
        expires_in: Duration,
    ) -> Result<PostForm, ObjectError> {
        self.check()?;
        let fields = [
            ("key", key.to_owned()),
            ("Content-Type", content_type.to_owned()),
            ("content-length-range", format!("{},{}", lengths.start(), lengths.end())),
            ("expires-in", expires_in.as_secs().to_string()),
        ];
        Ok(PostForm {
            url: "memory://bucket/".into(),
            fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        })
    }

    async fn put_new(&self, key: &str, _content_type: &str, body: Vec<u8>) -> Result<(), ObjectError> {
        self.check()?;
        if self.lock().current(key).is_some() {
            return Err(ObjectError::AlreadyExists);
        }
        self.put_object(key, body);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        self.check()?;
        self.lock().objects.remove(key);
        Ok(())
    }

    async fn delete_version(&self, key: &str, version: &str) -> Result<(), ObjectError> {
        self.check()?;
        let mut state = self.lock();
        if let Some(versions) = state.objects.get_mut(key) {
            versions.retain(|(info, _)| info.version.as_deref() != Some(version));
            if versions.is_empty() {
                state.objects.remove(key);
            }
        }
        Ok(())
    }

    async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<UploadedPart>, ObjectError> {
        self.check()?;
        let state = self.lock();
        let upload =
            state.uploads.get(upload_id).filter(|u| u.key == key).ok_or(ObjectError::NoSuchUpload)?;
        Ok(upload.parts.values().map(|(part, _)| part.clone()).collect())
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[PartRef],
        full: Option<&Checksum>,
    ) -> Result<Assembled, ObjectError> {
        self.check()?;
        let next = self.next_id.fetch_add(1, Ordering::SeqCst);
        let mut state = self.lock();
        let upload =
            state.uploads.get(upload_id).filter(|u| u.key == key).ok_or(ObjectError::NoSuchUpload)?;
        if state.current(key).is_some() {
            return Err(ObjectError::AlreadyExists);
        }
        if parts.windows(2).any(|w| w[0].part_number >= w[1].part_number) {
            return Err(rejected("InvalidPartOrder", "parts must be ascending".into()));
        }
        let mut bytes = Vec::new();
        for (i, wanted) in parts.iter().enumerate() {
            let (stored, data) = upload
                .parts
                .get(&wanted.part_number)
                .filter(|(p, _)| same_etag(&p.etag, &wanted.etag))
                .ok_or_else(|| rejected("InvalidPart", format!("part {} not found", wanted.part_number)))?;
            if i + 1 < parts.len() && stored.size < MIN_PART_SIZE {
                return Err(rejected("EntityTooSmall", format!("part {} too small", wanted.part_number)));
            }
            if let Some(named) = &wanted.checksum
                && stored.checksum.as_ref() != Some(named)
            {
                return Err(rejected(
                    "InvalidPart",
                    format!("part {}: its checksum differs", wanted.part_number),
                ));
            }
            bytes.extend_from_slice(data);
        }
        let checksum = upload.checksum.map(|algorithm| {
            let kind = algorithm.multipart_type();
            let value = match kind {
                ChecksumType::FullObject => checksum::of(algorithm, &bytes),
                ChecksumType::Composite => {
                    let each: Vec<&str> = parts
                        .iter()
                        .filter_map(|p| upload.parts.get(&p.part_number)?.0.checksum.as_deref())
                        .collect();
                    checksum::composite(algorithm, &each)
                }
            };
            Checksum { algorithm, kind, value }
        });
        if let Some(full) = full
            && checksum.as_ref().map(|c| (&c.value, c.algorithm)) != Some((&full.value, full.algorithm))
        {
            return Err(ObjectError::ChecksumMismatch(format!(
                "the object's {} checksum is not {}",
                full.algorithm.as_str(),
                full.value
            )));
        }
        let size = bytes.len() as u64;
        let etag = format!("\"{upload_id}-{}\"", parts.len());
        state.uploads.remove(upload_id);
        let info = ObjectInfo { size, etag: etag.clone(), checksum: checksum.clone(), version: None };
        let version = Some(state.write(key, info, bytes, next));
        Ok(Assembled { etag, checksum, version })
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), ObjectError> {
        self.check()?;
        let mut state = self.lock();
        match state.uploads.get(upload_id) {
            Some(u) if u.key == key => {
                state.uploads.remove(upload_id);
                Ok(())
            }
            _ => Err(ObjectError::NoSuchUpload),
        }
    }

    async fn abort_all_multipart(&self, key: &str) -> Result<usize, ObjectError> {
        self.check()?;
        let mut state = self.lock();
        let before = state.uploads.len();
        state.uploads.retain(|_, u| u.key != key);
        Ok(before - state.uploads.len())
    }

    async fn clear_prefix(&self, prefix: &str) -> Result<(usize, usize), ObjectError> {
        self.check()?;
        let mut state = self.lock();
        let (objects, uploads) = (state.objects.len(), state.uploads.len());
        state.objects.retain(|key, _| !key.starts_with(prefix));
        state.uploads.retain(|_, u| !u.key.starts_with(prefix));
        Ok((objects - state.objects.len(), uploads - state.uploads.len()))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectError> {
        self.read_check(key)?;
        Ok(self.lock().current(key).map(|(info, _)| info.clone()))
    }

    async fn get_range(
        &self,
        key: &str,
        version: Option<&str>,
        start: u64,
        end: u64,
    ) -> Result<Vec<u8>, ObjectError> {
        self.read_check(key)?;
        let state = self.lock();
        let (_, bytes) = match version {
            None => state.current(key),
            Some(v) => state
                .objects
                .get(key)
                .and_then(|all| all.iter().find(|(i, _)| i.version.as_deref() == Some(v))),
        }
        .ok_or(ObjectError::NoSuchKey)?;
        let start = usize::try_from(start).unwrap_or(usize::MAX).min(bytes.len());
        let end = usize::try_from(end).unwrap_or(usize::MAX).saturating_add(1).min(bytes.len());
        self.served.fetch_add((end.max(start) - start) as u64, Ordering::Relaxed);
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(bytes[start..end.max(start)].to_vec())
    }

    async fn presign_get(
        &self,
        key: &str,
        version: Option<&str>,
        content_type: &str,
        expires_in: Duration,
    ) -> Result<String, ObjectError> {
        self.check()?;
        let version = version.map(|v| format!("versionId={v}&")).unwrap_or_default();
        Ok(format!(
            "memory://bucket/{key}?{version}response-content-type={content_type}&X-Amz-Expires={}",
            expires_in.as_secs()
        ))
    }
}
