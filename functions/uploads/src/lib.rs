//! vidgate's use cases, each a function over the ports it needs (see [`app`]):
//! [`start`], [`sign_parts`], [`list_parts`], [`finish`], [`abort`], [`delete`], [`erase_owner`], [`grant`] /
//! [`grant_prefix`], [`sign_client_request`] (a client running S3's multipart API itself),
//! [`record_arrival`] (an object S3 says was created), [`auto_complete`] (uploads whose client
//! went away), [`expire`] (the sweeper) and
//! [`make_images`] (a video's poster and storyboard), and the upload links an app's backend hands
//! out ([`create_link`], [`open_link`], [`start_by_link`], [`link_video`]). Whichever
//! path records an arrived object reads its header with [`probe`] (media facts, or why it is not
//! a video vidgate can read).
//!
//! # Module map
//! - the use cases (private modules, re-exported here), answering [`UploadError`];
//! - [`app`]: what a function holds, [`Config`] and exactly the ports it uses, as capabilities
//!   ([`app::Records`], [`app::Objects`], [`app::Credentials`]);
//! - the ports: [`store`] (records), [`objects`] (S3), [`credentials`] (STS), [`bus`] (events),
//!   [`frames`] (pictures decoded out of a video),
//!   each a narrow trait; their in-memory fakes and fixtures are behind the `test-util` feature,
//!   their AWS adapters in `vidgate-aws`;
//! - [`config`]: typed settings parsed once at Init; [`cdn`]: the CloudFront URL signer;
//! - [`webhooks`]: delivering lifecycle events to the app's webhook, signed (its ports: the
//!   receiver, the secrets, the queue).
//!
//! The Lambda edge (`vidgate`: HTTP, Companion, Uppy, events) only translates requests into these
//! calls and the results into replies; it maps [`UploadError`] to a status once. This crate links
//! no AWS SDK and no Lambda runtime.

pub mod app;
pub mod bus;
pub mod cdn;
pub mod config;
pub mod credentials;
pub mod frames;
pub mod objects;
pub mod store;
pub mod webhooks;

mod abort;
mod arrival;
mod autocomplete;
mod client;
mod delete;
mod erase;
mod error;
mod expire;
mod finish;
mod grant;
mod images;
mod links;
mod parts;
mod probe;
mod settle;
mod start;

pub use abort::abort;
pub use arrival::{Arrival, record_arrival};
pub use autocomplete::{
    AUTOCOMPLETE_BATCH, AutoCompletion, Quiet, auto_complete, completable, complete_quiet,
};
pub use client::{ClientCall, Presigned, sign_client_request};
pub use delete::delete;
pub use erase::{DEFAULT_ERASE_LIMIT, Erasure, MAX_ERASE_LIMIT, erase_owner};
pub use error::UploadError;
pub use expire::{SweepReport, expire};
pub use finish::{NamedPart, finish};
pub use grant::{Grant, grant, grant_prefix};
pub use images::{ImagesRun, POSTER_TRIES, choose_poster, make_images};
pub use links::{CreatedLink, create_link, link_video, open_link, start_by_link};
pub use parts::{
    MAX_URLS_PER_CALL, PartChoice, PartLengths, SignedPart, SignedParts, list_parts, sign_parts,
};
pub use probe::{Probe, probe};
pub use start::{PutTarget, Started, post_target, put_target, start};

pub use app::{App, NotWired};
pub use config::Config;

use crate::app::Records;
use vidgate_domain::{Owner, Status, UploadMethod, Video, VideoId};

/// The caller's own video. Someone else's, and a deleted one, are as unknown as a missing one.
pub async fn owned(app: &impl Records, owner: &Owner, id: &VideoId) -> Result<Video, UploadError> {
    match owned_or_buried(app, owner, id).await? {
        video if video.status == Status::Deleted => Err(UploadError::NotFound),
        video => Ok(video),
    }
}

/// The caller's own record even if it is a deleted video's tombstone (deleting twice is fine);
/// someone else's is as unknown as a missing one.
pub async fn owned_or_buried(app: &impl Records, owner: &Owner, id: &VideoId) -> Result<Video, UploadError> {
    match app.videos().get(id).await? {
        Some(video) if &video.owner == owner => Ok(video),
        _ => Err(UploadError::NotFound),
    }
}

/// The refusal of an operation that needs an upload in progress. A deleted video is, to every
/// operation but delete, one that never existed.
pub fn not_uploading(status: Status) -> UploadError {
    let (code, message) = match status {
        Status::Deleted => return UploadError::NotFound,
        Status::Uploaded => ("upload_completed", "the upload was already completed"),
        Status::Aborted => ("upload_aborted", "the upload was aborted"),
        Status::Expired => ("upload_expired", "the upload expired before it was completed"),
        Status::Rejected => ("upload_rejected", "the uploaded bytes are not a video"),
        Status::Uploading => ("upload_in_progress", "the upload is still in progress"),
    };
    UploadError::conflict(code, message)
}

pub fn require_uploading(video: &Video) -> Result<(), UploadError> {
    match video.status {
        Status::Uploading => Ok(()),
        other => Err(not_uploading(other)),
    }
}

/// The server's multipart upload id; uploads of the other methods have none (their client sends
/// one PUT, or runs its own multipart upload).
fn presigned_upload(video: &Video) -> Result<&str, UploadError> {
    video.upload_id.as_deref().ok_or_else(|| match video.method {
        UploadMethod::Put => UploadError::conflict(
            "single_put_upload",
            "this upload is one PUT to its presigned URL and has no parts",
        ),
        UploadMethod::Signed => UploadError::conflict(
            "signed_upload",
            "this upload's client runs S3's multipart API itself: sign its requests with POST /uppy/sign",
        ),
        _ => UploadError::conflict(
            "credentials_upload",
            "this upload uses temporary credentials: upload with an AWS SDK, then complete",
        ),
    })
}

/// The use cases on the in-memory ports, no HTTP in sight: what each answers, as a type.
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::objects::memory::{MemoryObjectStore, video_like};
    use crate::store::memory::MemoryVideoStore;
    use crate::{App, Config};
    use vidgate_domain::parts::MIB;
    use vidgate_domain::{NewUpload, UploadRequest};

    fn ports() -> (App, Arc<MemoryObjectStore>) {
        let objects = Arc::new(MemoryObjectStore::new());
        let app = App::new(Config::for_tests(), Arc::new(MemoryVideoStore::new()), objects.clone());
        (app, objects)
    }

    /// Signs part `n` alone (arrived parts answered as such).
    async fn sign_one(
        app: &App,
        video: &Video,
        n: u32,
        lengths: PartLengths,
        checksums: Option<Vec<String>>,
    ) -> Result<SignedParts, UploadError> {
        sign_parts(app, video, PartChoice::Numbers(vec![n]), lengths, checksums, true).await
    }

    /// A valid new upload from a `/v1/uploads` body (the other use cases' tests take it too).
    pub(crate) fn upload(body: serde_json::Value) -> NewUpload {
        serde_json::from_value::<UploadRequest>(body)
            .unwrap()
            .validate(&Config::for_tests().size_rules())
            .unwrap()
    }

    #[tokio::test]
    async fn given_a_started_upload_when_its_parts_arrive_and_it_finishes_then_it_is_uploaded_once() {
        let (app, objects) = ports();
        let alice = Owner::new("alice");
        let Started { video, credentials } =
            start(&app, &alice, upload(serde_json::json!({"filename": "a.mp4", "size": 6 * MIB})))
                .await
                .unwrap();
        assert!(credentials.is_none());
        assert_eq!(
            (video.status, video.plan().max_parts(&app.config().size_rules())),
            (Status::Uploading, 1)
        );
        let signed = sign_one(&app, &video, 1, PartLengths::Unstated, None).await.unwrap();
        assert_eq!(signed.urls.len(), 1);
        // The URL signs the part's length: the whole 6 MiB.
        assert!(
            signed.urls[0].url.as_deref().unwrap().contains(&format!("content-length={}", 6 * MIB)),
            "{:?}",
            signed.urls[0].url
        );
        assert!(
            matches!(sign_one(&app, &video, 2, PartLengths::Unstated, None).await, Err(UploadError::Invalid(i)) if i.code == "part_number_out_of_range")
        );
        assert!(
            matches!(sign_one(&app, &video, 1, PartLengths::Stated(vec![5 * MIB]), None).await, Err(UploadError::Invalid(i)) if i.code == "part_size_mismatch")
        );

        objects.put_part_bytes(video.upload_id.as_deref().unwrap(), 1, video_like(6 * MIB, 1)).unwrap();
        let done = finish(&app, video.clone(), None, None).await.unwrap();
        assert_eq!((done.status, done.size), (Status::Uploaded, Some(6 * MIB)));
        // Finished: other use cases say why they can't run, as a conflict with a code.
        assert!(matches!(
            abort(&app, done.clone()).await,
            Err(UploadError::Conflict { code: "upload_completed", .. })
        ));
        assert!(matches!(
            list_parts(&app, &done).await,
            Err(UploadError::Conflict { code: "upload_completed", .. })
        ));
        assert_eq!(finish(&app, done.clone(), None, None).await.unwrap(), done);
    }

    #[tokio::test]
    async fn a_declared_checksum_is_signed_into_each_part_url_checked_at_completion_and_recorded() {
        use vidgate_domain::checksum::{self, Checksum, ChecksumAlgorithm::Crc64nvme, ChecksumType};
        let (app, objects) = ports();
        let alice = Owner::new("alice");
        let body =
            serde_json::json!({"filename": "a.mp4", "size": 6 * MIB, "checksumAlgorithm": "crc64nvme"});
        let Started { video, .. } = start(&app, &alice, upload(body)).await.unwrap();
        assert_eq!(video.checksum_algorithm, Some(Crc64nvme));
        let upload_id = video.upload_id.clone().unwrap();
        let bytes = video_like(6 * MIB, 1);
        let part = checksum::of(Crc64nvme, &bytes);
        let refused = |r: Result<SignedParts, UploadError>| match r {
            Err(UploadError::Invalid(i)) => i.code,
            other => panic!("{:?}", other.map(|s| s.urls)),
        };
        assert_eq!(
            refused(sign_one(&app, &video, 1, PartLengths::Unstated, None).await),
            "part_checksums_required"
        );
        assert_eq!(
            refused(sign_one(&app, &video, 1, PartLengths::Unstated, Some(vec!["AAAA".into()])).await),
            "invalid_checksum"
        );
        let signed =
            sign_one(&app, &video, 1, PartLengths::Unstated, Some(vec![part.clone()])).await.unwrap();
        assert!(
            signed.urls[0].url.as_deref().unwrap().contains(&format!("x-amz-checksum-crc64nvme={part}")),
            "{:?}",
            signed.urls[0].url
        );
        // The header the PUT must send is the value the URL signs.
        assert_eq!(signed.urls[0].headers.get("x-amz-checksum-crc64nvme"), Some(&part));
        objects.put_part_bytes(&upload_id, 1, bytes.clone()).unwrap();

        // A whole-object checksum the bytes don't have: nothing is final.
        let wrong = checksum::of(Crc64nvme, b"another file");
        let err = finish(&app, video.clone(), None, Some(wrong)).await.unwrap_err();
        assert!(matches!(&err, UploadError::Invalid(i) if i.code == "checksum_mismatch"), "{err}");
        assert_eq!(app.videos.get(&video.id).await.unwrap().unwrap().status, Status::Uploading);
        assert!(objects.has_upload(&upload_id));
        // A part named with another checksum: refused before S3 is asked.
        let etag = app.objects.list_parts(&video.key, &upload_id).await.unwrap()[0].etag.clone();
        let named = vec![NamedPart {
            part_number: 1,
            etag: etag.clone(),
            checksum: Some(checksum::of(Crc64nvme, b"x")),
        }];
        let err = finish(&app, video.clone(), Some(named), None).await.unwrap_err();
        assert!(matches!(&err, UploadError::Invalid(i) if i.code == "checksum_mismatch"), "{err}");

        // The right one: uploaded, and the record keeps S3's checksum of the whole object.
        let named = vec![NamedPart { part_number: 1, etag, checksum: Some(part) }];
        let done =
            finish(&app, video.clone(), Some(named), Some(checksum::of(Crc64nvme, &bytes))).await.unwrap();
        assert_eq!(done.status, Status::Uploaded);
        let expected = Checksum {
            algorithm: Crc64nvme,
            kind: ChecksumType::FullObject,
            value: checksum::of(Crc64nvme, &bytes),
        };
        assert_eq!(done.checksum, Some(expected.clone()));
        assert_eq!(app.videos.get(&video.id).await.unwrap().unwrap().checksum, Some(expected));

        // An upload that declared none takes no checksums; other methods can't declare one.
        let Started { video: plain, .. } =
            start(&app, &alice, upload(serde_json::json!({"filename": "b.mp4", "size": MIB}))).await.unwrap();
        let some = Some(vec![checksum::of(Crc64nvme, b"")]);
        assert_eq!(
            refused(sign_one(&app, &plain, 1, PartLengths::Unstated, some).await),
            "checksum_not_declared"
        );
        let err = finish(&app, plain, None, Some(checksum::of(Crc64nvme, b""))).await.unwrap_err();
        assert!(matches!(&err, UploadError::Invalid(i) if i.code == "checksum_not_declared"), "{err}");
        let credentials = serde_json::from_value::<UploadRequest>(
            serde_json::json!({"filename": "c.mp4", "method": "credentials", "checksumAlgorithm": "sha256"}),
        )
        .unwrap()
        .validate(&Config::for_tests().size_rules());
        assert_eq!(credentials.unwrap_err().code, "checksum_not_supported");
    }

    #[tokio::test]
    async fn what_an_owner_keeps_is_bounded_and_a_delete_gives_its_share_back() {
        let objects = Arc::new(MemoryObjectStore::new());
        let mut config = Config::for_tests();
        config.max_video_size = 5 * MIB;
        config.quota.stored = 10 * MIB;
        let app = App::new(config, Arc::new(MemoryVideoStore::new()), objects.clone());
        let alice = Owner::new("alice");
        let sized = |name: &str| {
            let rules = app.config().size_rules();
            serde_json::from_value::<UploadRequest>(serde_json::json!({"filename": name, "size": 4 * MIB}))
                .unwrap()
                .validate(&rules)
                .unwrap()
        };
        let mut kept = Vec::new();
        for name in ["a.mp4", "b.mp4"] {
            let Started { video, .. } = start(&app, &alice, sized(name)).await.unwrap();
            objects.put_part_bytes(video.upload_id.as_deref().unwrap(), 1, video_like(4 * MIB, 1)).unwrap();
            kept.push(finish(&app, video, None, None).await.unwrap());
        }
        assert_eq!(kept[0].stored_bytes, Some(4 * MIB));
        let held = app.videos.quota_use(&alice).await.unwrap();
        assert_eq!((held.uploads, held.bytes, held.stored), (0, 0, 8 * MIB));
        // 8 MiB kept + 4 MiB asked > 10 MiB: refused, naming the bound; nothing recorded.
        let err = start(&app, &alice, sized("c.mp4")).await.err().expect("over the stored bound");
        assert!(err.to_string().contains("bytes you may store"), "{err}");
        // Deleting a video gives its size back; the next start fits.
        delete(&app, kept[0].clone()).await.unwrap();
        assert_eq!(app.videos.quota_use(&alice).await.unwrap().stored, 4 * MIB);
        let Started { video, .. } = start(&app, &alice, sized("c.mp4")).await.unwrap();
        assert_eq!(app.videos.quota_use(&alice).await.unwrap().stored, 8 * MIB);
        // An abort gives its reservation back.
        abort(&app, video).await.unwrap();
        assert_eq!(
            app.videos.quota_use(&alice).await.unwrap(),
            crate::store::QuotaUse { uploads: 0, bytes: 0, stored: 4 * MIB }
        );
    }

    #[tokio::test]
    async fn parts_past_the_maximum_video_size_are_never_assembled_and_the_record_says_why() {
        let objects = Arc::new(MemoryObjectStore::new());
        let mut config = Config::for_tests();
        config.max_video_size = 8 * MIB;
        let app = App::new(config, Arc::new(MemoryVideoStore::new()), objects.clone());
        // Companion's part URLs sign no length: 5 MiB + 4 MiB arrive for an 8 MiB maximum.
        let Started { video, .. } =
            start(&app, &Owner::new("alice"), upload(serde_json::json!({"filename": "a.mp4"})))
                .await
                .unwrap();
        let upload_id = video.upload_id.clone().unwrap();
        objects.put_part(&upload_id, 1, 5 * MIB).unwrap();
        objects.put_part(&upload_id, 2, 4 * MIB).unwrap();
        let err = finish(&app, video.clone(), None, None).await.unwrap_err();
        assert!(matches!(&err, UploadError::Invalid(i) if i.code == "video_too_large"), "{err}");
        assert!(!objects.has_upload(&upload_id), "the parts are still in S3");
        let stored = app.videos.get(&video.id).await.unwrap().unwrap();
        assert_eq!(stored.status, Status::Rejected);
        assert!(stored.reject_reason.unwrap().contains("the parts are 9437184 bytes"));
        assert_eq!(app.videos.quota_use(&video.owner).await.unwrap(), crate::store::QuotaUse::default());
    }

    #[tokio::test]
    async fn bytes_that_are_no_video_finish_as_not_a_video_and_the_record_says_rejected() {
        let (app, objects) = ports();
        let Started { video, .. } =
            start(&app, &Owner::new("alice"), upload(serde_json::json!({"filename": "a.mp4"})))
                .await
                .unwrap();
        objects.put_part_bytes(video.upload_id.as_deref().unwrap(), 1, b"%PDF-1.7".to_vec()).unwrap();
        assert!(matches!(finish(&app, video.clone(), None, None).await, Err(UploadError::NotAVideo(_))));
        assert_eq!(app.videos.get(&video.id).await.unwrap().unwrap().status, Status::Rejected);
    }

    #[tokio::test]
    async fn someone_elses_video_is_not_found_and_a_records_only_app_can_read_records() {
        let (app, _) = ports();
        let Started { video, .. } =
            start(&app, &Owner::new("alice"), upload(serde_json::json!({"filename": "a.mp4"})))
                .await
                .unwrap();
        // What get-video holds: DynamoDB and nothing else.
        let records = App::records(Config::for_tests(), app.videos.clone());
        assert_eq!(owned(&records, &Owner::new("alice"), &video.id).await.unwrap(), video);
        assert!(matches!(owned(&records, &Owner::new("bob"), &video.id).await, Err(UploadError::NotFound)));
    }

    #[tokio::test]
    async fn a_deleted_video_is_gone_from_s3_and_every_lookup_and_stays_deleted_whatever_comes_late() {
        let (app, objects) = ports();
        let alice = Owner::new("alice");
        // An uploaded one, an uploading one (presigned, with a part), a rejected one.
        let Started { video: uploaded, .. } =
            start(&app, &alice, upload(serde_json::json!({"filename": "a.mp4"}))).await.unwrap();
        objects.put_part_bytes(uploaded.upload_id.as_deref().unwrap(), 1, video_like(MIB, 1)).unwrap();
        let uploaded = finish(&app, uploaded, None, None).await.unwrap();
        let Started { video: uploading, .. } =
            start(&app, &alice, upload(serde_json::json!({"filename": "b.mp4", "size": MIB}))).await.unwrap();
        objects.put_part(uploading.upload_id.as_deref().unwrap(), 1, MIB).unwrap();
        let Started { video: rejected, .. } =
            start(&app, &alice, upload(serde_json::json!({"filename": "c.mp4"}))).await.unwrap();
        objects.put_part_bytes(rejected.upload_id.as_deref().unwrap(), 1, b"%PDF-1.7".to_vec()).unwrap();
        assert!(matches!(finish(&app, rejected.clone(), None, None).await, Err(UploadError::NotAVideo(_))));
        assert_eq!(app.videos.quota_use(&alice).await.unwrap().uploads, 1);

        for video in [&uploaded, &uploading, &rejected] {
            // Someone else: not found, nothing touched.
            assert!(matches!(
                owned_or_buried(&app, &Owner::new("bob"), &video.id).await,
                Err(UploadError::NotFound)
            ));
            let mine = owned_or_buried(&app, &alice, &video.id).await.unwrap();
            let buried = delete(&app, mine).await.unwrap();
            assert_eq!((buried.status, buried.filename.as_str()), (Status::Deleted, ""));
            assert_eq!(app.objects.head(&video.key).await.unwrap(), None, "object of {}", video.filename);
            // Deleting again succeeds again; every other use case sees nothing.
            let again = owned_or_buried(&app, &alice, &video.id).await.unwrap();
            assert_eq!(delete(&app, again).await.unwrap().status, Status::Deleted);
            assert!(matches!(owned(&app, &alice, &video.id).await, Err(UploadError::NotFound)));
        }
        assert!(!objects.has_upload(uploading.upload_id.as_deref().unwrap()), "the open upload is aborted");
        assert_eq!(app.videos.quota_use(&alice).await.unwrap(), crate::store::QuotaUse::default());
        let page = app
            .videos
            .list(&crate::store::ListQuery { owner: alice.clone(), status: None, limit: 10, after: None })
            .await
            .unwrap();
        assert!(page.videos.is_empty(), "{:?}", page.videos);

        // A late ObjectCreated (an SDK finishing after the delete): the object goes, the record stays.
        objects.put_object(&uploaded.key, video_like(MIB, 1));
        assert!(matches!(record_arrival(&app, &uploaded.key, None).await.unwrap(), Arrival::Ignored(_)));
        assert_eq!(app.objects.head(&uploaded.key).await.unwrap(), None);
        assert_eq!(app.videos.get(&uploaded.id).await.unwrap().unwrap().status, Status::Deleted);
        // A retried complete of the deleted upload: not found, nothing made.
        assert!(matches!(finish(&app, uploading.clone(), None, None).await, Err(UploadError::NotFound)));
        assert_eq!(app.objects.head(&uploading.key).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_complete_that_lost_to_a_delete_removes_the_object_it_made() {
        let (app, objects) = ports();
        let alice = Owner::new("alice");
        let Started { video, .. } =
            start(&app, &alice, upload(serde_json::json!({"filename": "a.mp4"}))).await.unwrap();
        let upload_id = video.upload_id.clone().unwrap();
        objects.put_part_bytes(&upload_id, 1, video_like(MIB, 1)).unwrap();
        // The complete got S3 to assemble the object, then the delete wrote its tombstone before
        // the complete wrote `uploaded`.
        let parts = app.objects.list_parts(&video.key, &upload_id).await.unwrap();
        let refs = [crate::objects::PartRef { part_number: 1, etag: parts[0].etag.clone(), checksum: None }];
        let assembled = app.objects.complete_multipart(&video.key, &upload_id, &refs, None).await.unwrap();
        app.videos.bury(&video, vidgate_domain::time::now()).await.unwrap();
        let object = crate::objects::ObjectInfo {
            size: MIB,
            etag: assembled.etag,
            checksum: None,
            version: assembled.version,
        };
        let after = settle::arrived(&app, &video, object, vidgate_domain::CompletedBy::Client).await.unwrap();
        assert_eq!(after.status, Status::Deleted);
        assert_eq!(app.objects.head(&video.key).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_credentials_upload_is_deleted_with_whatever_its_sdk_left_open() {
        let (app, objects) = ports();
        let alice = Owner::new("alice");
        let video = vidgate_domain::fixtures::video("alice");
        let video = Video { upload_id: None, method: vidgate_domain::UploadMethod::Credentials, ..video };
        app.videos.insert(&video).await.unwrap();
        let left = app.objects.create_multipart(&video.key, "video/mp4", None).await.unwrap();
        objects.put_part(&left, 1, MIB).unwrap();
        let owned = owned(&app, &alice, &video.id).await.unwrap();
        delete(&app, owned).await.unwrap();
        assert!(!objects.has_upload(&left));
        assert_eq!(app.videos.get(&video.id).await.unwrap().unwrap().status, Status::Deleted);
    }

    #[tokio::test]
    async fn an_unreachable_store_is_an_unavailable_error_and_so_reported() {
        let videos = Arc::new(MemoryVideoStore::new());
        let app = App::new(Config::for_tests(), videos.clone(), Arc::new(MemoryObjectStore::new()));
        videos.set_unavailable(true);
        let err = expire(&app).await.unwrap_err();
        assert!(err.is_unavailable(), "{err}");
    }

    #[tokio::test]
    async fn the_whole_plan_is_signed_in_pages_with_ranges_and_parts_that_arrived_are_not_signed() {
        let (app, objects) = ports();
        let alice = Owner::new("alice");
        // 2,500 parts of 5 MiB, the last one 1 MiB.
        let size = 2499 * 5 * MIB + MIB;
        let body = serde_json::json!({"filename": "long.mp4", "size": size, "partSize": 5 * MIB});
        let Started { video, .. } = start(&app, &alice, upload(body)).await.unwrap();
        objects.put_part_bytes(video.upload_id.as_deref().unwrap(), 2, video_like(5 * MIB, 2)).unwrap();
        let mut from = Some(1);
        let mut seen = Vec::new();
        while let Some(n) = from {
            let page = sign_parts(&app, &video, PartChoice::From(n), PartLengths::Unstated, None, true)
                .await
                .unwrap();
            assert!(page.urls.len() <= MAX_URLS_PER_CALL);
            seen.extend(page.urls);
            from = page.next;
        }
        assert_eq!(seen.len(), 2500);
        assert!(seen.iter().enumerate().all(|(i, p)| p.part_number == i as u32 + 1));
        // Ranges that tile the file exactly.
        let mut offset = 0;
        for part in &seen {
            let (at, length) = part.range.unwrap();
            assert_eq!(at, offset, "part {}", part.part_number);
            offset += length;
        }
        assert_eq!(offset, size);
        // Part 2 is in S3 at its length: its ETag, no URL; every other part a URL.
        assert!(seen[1].url.is_none() && seen[1].arrived.is_some());
        assert!(seen.iter().filter(|p| p.part_number != 2).all(|p| p.url.is_some() && p.arrived.is_none()));
        // A part of another length in S3 is signed again (its URL may replace it).
        objects.put_part_bytes(video.upload_id.as_deref().unwrap(), 3, video_like(MIB, 3)).unwrap();
        let again = sign_one(&app, &video, 3, PartLengths::Unstated, None).await.unwrap();
        assert!(again.urls[0].url.is_some());
        // No plan without a size; `from` past the plan is out of range.
        let unknown =
            start(&app, &alice, upload(serde_json::json!({"filename": "u.mp4"}))).await.unwrap().video;
        let code = |r: Result<SignedParts, UploadError>| match r {
            Err(UploadError::Invalid(i)) => i.code,
            other => panic!("{:?}", other.map(|s| s.urls)),
        };
        for (v, from, expected) in [(&unknown, 1, "plan_unknown"), (&video, 2501, "part_number_out_of_range")]
        {
            let r = sign_parts(&app, v, PartChoice::From(from), PartLengths::Unstated, None, true).await;
            assert_eq!(code(r), expected);
        }
    }

    #[tokio::test]
    async fn urls_expire_with_the_credentials_that_signed_them() {
        let (app, objects) = ports();
        let alice = Owner::new("alice");
        let Started { video, .. } =
            start(&app, &alice, upload(serde_json::json!({"filename": "a.mp4", "size": 6 * MIB})))
                .await
                .unwrap();
        let hour = vidgate_domain::time::now() + chrono::Duration::hours(1);
        let signed = sign_one(&app, &video, 1, PartLengths::Unstated, None).await.unwrap();
        assert!(signed.urls[0].url.as_deref().unwrap().ends_with("X-Amz-Expires=3600"));
        assert!(signed.expires_at >= hour - chrono::Duration::seconds(1));
        // Credentials that expire in 90 s: the URL says so, and signs no longer.
        let soon = vidgate_domain::time::now() + chrono::Duration::seconds(90);
        objects.sign_until(Some(soon));
        let signed = sign_one(&app, &video, 1, PartLengths::Unstated, None).await.unwrap();
        assert_eq!(signed.expires_at, soon);
        let expires: u64 =
            signed.urls[0].url.as_deref().unwrap().rsplit('=').next().unwrap().parse().unwrap();
        assert!((88..=90).contains(&expires), "X-Amz-Expires={expires}");
    }
}
