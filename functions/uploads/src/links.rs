//! Upload links ([`vidgate_domain::link`]): created by an app's backend, used by whoever holds
//! the token to start one upload, sign its parts, complete it and see it.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use super::start::record_start;
use super::{Started, UploadError, owned};
use crate::app::{Objects, Records};
use vidgate_domain::link::{self, LinkId, LinkStatus, NewLink, UploadLink};
use vidgate_domain::time::{self, Timestamp};
use vidgate_domain::{NewUpload, UploadMethod, Video};

/// A new link and its token: the token is shown once, here; the record keeps its hash.
pub struct CreatedLink {
    pub link: UploadLink,
    pub token: String,
}

/// Records a link for `new.owner`, asked for by backend `created_by`.
pub async fn create_link(
    app: &impl Records,
    created_by: &str,
    new: NewLink,
) -> Result<CreatedLink, UploadError> {
    let random = SystemRandom::new();
    let (mut id, mut secret) = ([0u8; 16], [0u8; 32]);
    random
        .fill(&mut id)
        .and_then(|()| random.fill(&mut secret))
        .map_err(|_| UploadError::Store(crate::store::StoreError::Other("no randomness".into())))?;
    let link_id = LinkId::from_random(id);
    let issued = link::issue_token(&link_id, &secret);
    let now = time::now();
    let link = UploadLink {
        link_id,
        owner: new.owner,
        created_by: created_by.to_owned(),
        status: LinkStatus::Open,
        secret_hash: issued.secret_hash,
        limits: new.limits,
        metadata: new.metadata,
        cors_origin: new.cors_origin,
        created_at: now,
        link_expires_at: now + std::time::Duration::from_secs(new.expires_in_secs),
        video_id: None,
    };
    app.videos().put_link(&link).await?;
    Ok(CreatedLink { link, token: issued.token })
}

/// The link `token` opens. A malformed token, an unknown link and a wrong secret are the same
/// answer, so a guess learns nothing.
pub async fn open_link(app: &impl Records, token: &str) -> Result<UploadLink, UploadError> {
    let (id, secret) = link::parse_token(token).ok_or(UploadError::LinkNotFound)?;
    match app.videos().get_link(&id).await? {
        Some(link) if link.opens_with(secret) => Ok(link),
        _ => Err(UploadError::LinkNotFound),
    }
}

/// The refusal of a second start, or of a start after the link expired (told apart by
/// [`start_by_link`] when it can read the link; a race loser gets this).
pub(super) fn spent() -> UploadError {
    UploadError::conflict("link_used", "this upload link has started its upload already")
}

/// Starts the one upload of `link`, within its limits; the link is spent in the same write, so
/// of two starts racing one wins and the other is `link_used`.
pub async fn start_by_link(
    app: &impl Objects,
    link: &UploadLink,
    upload: NewUpload,
    now: Timestamp,
) -> Result<Started, UploadError> {
    if link.status == LinkStatus::Used {
        return Err(spent());
    }
    if link.is_expired(now) {
        return Err(expired());
    }
    if !matches!(upload.method, UploadMethod::Presigned | UploadMethod::Put) {
        return Err(UploadError::invalid(
            "unsupported_method",
            "an upload link starts a presigned multipart upload or a single PUT",
        ));
    }
    let upload = link.shape(upload)?;
    let video = record_start(app, &link.owner, upload, Some(link)).await?;
    Ok(Started { video, credentials: None })
}

fn expired() -> UploadError {
    UploadError::LinkGone { code: "link_expired", message: "this upload link has expired".into() }
}

/// The upload `link` started, for its holder; before a start there is none.
pub async fn link_video(app: &impl Records, link: &UploadLink) -> Result<Video, UploadError> {
    let Some(id) = link.video_id else {
        return Err(UploadError::conflict(
            "link_not_started",
            "this upload link has not started an upload yet",
        ));
    };
    owned(app, &link.owner, &id).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::objects::memory::MemoryObjectStore;
    use crate::store::memory::MemoryVideoStore;
    use crate::tests::upload;
    use crate::{App, Config};
    use vidgate_domain::Status;
    use vidgate_domain::link::LinkRequest;
    use vidgate_domain::parts::MIB;

    fn app() -> App {
        App::new(Config::for_tests(), Arc::new(MemoryVideoStore::new()), Arc::new(MemoryObjectStore::new()))
    }

    fn new_link(body: serde_json::Value) -> NewLink {
        serde_json::from_value::<LinkRequest>(body)
            .unwrap()
            .validate(Config::for_tests().max_video_size)
            .unwrap()
    }

    #[tokio::test]
    async fn a_token_starts_one_upload_for_the_links_owner_within_its_limits_and_no_second() {
        let app = app();
        let created = create_link(
            &app,
            "backend-client",
            new_link(serde_json::json!({
                "owner": "customer-42", "maxSizeBytes": 10 * MIB, "contentTypes": ["video/mp4"],
                "maxDurationSeconds": 5, "metadata": {"ticket": "T-7"}
            })),
        )
        .await
        .unwrap();
        let link = open_link(&app, &created.token).await.unwrap();
        assert_eq!(link.status, LinkStatus::Open);
        // Over the size, of another type, without a size: refused, the link still open.
        for (body, code) in [
            (serde_json::json!({"filename": "a.mp4", "size": 11 * MIB}), "too_large_for_link"),
            (serde_json::json!({"filename": "a.webm", "size": MIB}), "content_type_not_allowed"),
            (serde_json::json!({"filename": "a.mp4"}), "size_required"),
            (
                serde_json::json!({"filename": "a.mp4", "size": MIB, "method": "credentials"}),
                "unsupported_method",
            ),
        ] {
            let err = start_by_link(&app, &link, upload(body.clone()), time::now()).await.err().unwrap();
            assert!(matches!(&err, UploadError::Invalid(i) if i.code == code), "{body}: {err}");
        }
        let body = serde_json::json!({"filename": "a.mp4", "size": MIB, "metadata": {"ticket": "forged", "note": "hi"}});
        let Started { video, .. } =
            start_by_link(&app, &link, upload(body.clone()), time::now()).await.unwrap();
        assert_eq!((video.owner.as_str(), video.status), ("customer-42", Status::Uploading));
        assert_eq!(video.link_id, Some(link.link_id));
        assert_eq!(video.limits.as_ref().unwrap().max_duration_seconds, Some(5));
        // The backend's metadata wins over the holder's.
        assert_eq!(video.metadata["ticket"], "T-7");
        assert_eq!(video.metadata["note"], "hi");
        // Spent: the stale copy and a fresh read both refuse a second start.
        let err = start_by_link(&app, &link, upload(body.clone()), time::now()).await.err().unwrap();
        assert!(matches!(err, UploadError::Conflict { code: "link_used", .. }), "{err}");
        let again = open_link(&app, &created.token).await.unwrap();
        assert_eq!((again.status, again.video_id), (LinkStatus::Used, Some(video.id)));
        assert_eq!(link_video(&app, &again).await.unwrap().id, video.id);
        let err = start_by_link(&app, &again, upload(body), time::now()).await.err().unwrap();
        assert!(matches!(err, UploadError::Conflict { code: "link_used", .. }), "{err}");
        assert_eq!(app.videos.quota_use(&video.owner).await.unwrap().uploads, 1);
    }

    #[tokio::test]
    async fn an_expired_link_and_a_wrong_token_open_nothing() {
        let app = app();
        let created =
            create_link(&app, "b", new_link(serde_json::json!({"owner": "o", "expiresInSeconds": 60})))
                .await
                .unwrap();
        let link = open_link(&app, &created.token).await.unwrap();
        let later = time::now() + std::time::Duration::from_secs(61);
        let err =
            start_by_link(&app, &link, upload(serde_json::json!({"filename": "a.mp4"})), later).await.err();
        assert!(matches!(err, Some(UploadError::LinkGone { code: "link_expired", .. })));
        let (id, _) = link::parse_token(&created.token).unwrap();
        for token in [format!("{id}.{}", "A".repeat(43)), "nonsense".into(), String::new()] {
            assert!(matches!(open_link(&app, &token).await, Err(UploadError::LinkNotFound)), "{token}");
        }
        assert!(matches!(
            link_video(&app, &link).await,
            Err(UploadError::Conflict { code: "link_not_started", .. })
        ));
    }
}
