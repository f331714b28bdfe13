//! `erase-owner`: the operator's account-closure function, invoked by hand (`aws lambda invoke`,
//! `sam remote invoke`) with `{"owner": "<sub>", "limit": 500}`; answers what
//! [`uploads::erase_owner`] did. Invoke it again until `done` is true.

use serde::Deserialize;

use super::EventError;
use crate::app::Objects;
use crate::domain::Owner;
use crate::uploads::{self, DEFAULT_ERASE_LIMIT, Erasure, MAX_ERASE_LIMIT, UploadError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    /// The owner's id: the `sub` of their tokens.
    pub owner: String,
    pub limit: Option<u32>,
}

/// Runs one erasure; a payload that names no owner (or a limit out of 1..=5000) is refused
/// before anything is touched.
pub async fn erase_owner(app: &impl Objects, payload: serde_json::Value) -> Result<Erasure, EventError> {
    let request: EraseRequest = serde_json::from_value(payload).map_err(|e| {
        UploadError::invalid(
            "invalid_payload",
            format!("expected {{\"owner\": \"<sub>\", \"limit\": n}}: {e}"),
        )
    })?;
    let owner = request.owner.trim();
    if owner.is_empty() {
        return Err(UploadError::invalid("invalid_payload", "owner must not be empty").into());
    }
    let limit = request.limit.unwrap_or(DEFAULT_ERASE_LIMIT);
    if !(1..=MAX_ERASE_LIMIT).contains(&limit) {
        return Err(UploadError::invalid(
            "invalid_payload",
            format!("limit must be within 1..={MAX_ERASE_LIMIT}"),
        )
        .into());
    }
    Ok(uploads::erase_owner(app, &Owner::new(owner), limit).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Status;
    use crate::handlers::testing::Harness;
    use crate::objects::ObjectStore;
    use crate::objects::memory::video_like;
    use crate::store::VideoStore;
    use serde_json::json;

    #[tokio::test]
    async fn payloads_without_an_owner_or_with_a_wild_limit_touch_nothing() {
        let h = Harness::new();
        let created = h.create(json!({"filename": "a.mp4"})).await;
        for payload in [
            json!({}),
            json!({"owner": " "}),
            json!({"owner": "alice", "limit": 0}),
            json!({"owner": "alice", "limit": 99999}),
            json!({"owner": "alice", "extra": 1}),
            json!("alice"),
        ] {
            let err = erase_owner(&h.app, payload.clone()).await.unwrap_err();
            assert!(
                matches!(&err.0, UploadError::Invalid(i) if i.code == "invalid_payload"),
                "{payload}: {err}"
            );
        }
        assert_eq!(h.stored(created["videoId"].as_str().unwrap()).await.unwrap().status, Status::Uploading);
    }

    #[tokio::test]
    async fn an_owner_is_erased_over_runs_and_nobody_else_is_touched() {
        let h = Harness::new();
        let mut ids = Vec::new();
        for n in 0..7 {
            let created = h.create(json!({"filename": format!("{n}.mp4")})).await;
            ids.push(created["videoId"].as_str().unwrap().to_owned());
        }
        // One finished, so an object exists.
        let finished = h.stored(&ids[0]).await.unwrap();
        h.objects.put_part_bytes(finished.upload_id.as_deref().unwrap(), 1, video_like(1 << 20, 1)).unwrap();
        uploads::finish(&h.app, finished.clone(), None, None).await.unwrap();
        let other = h.create_as("bob", json!({"filename": "b.mp4"})).await;

        let first = erase_owner(&h.app, json!({"owner": Harness::OWNER, "limit": 3})).await.unwrap();
        assert_eq!((first.deleted, first.done), (3, false));
        let second = erase_owner(&h.app, json!({"owner": Harness::OWNER, "limit": 3})).await.unwrap();
        assert_eq!((second.deleted, second.done), (3, false));
        let last = erase_owner(&h.app, json!({"owner": Harness::OWNER})).await.unwrap();
        assert_eq!((last.deleted, last.done), (1, true));
        let by_status: u32 = [&first, &second, &last].iter().flat_map(|e| e.by_status.values()).sum();
        assert_eq!(by_status, 7);
        for id in &ids {
            assert_eq!(h.stored(id).await.unwrap().status, Status::Deleted);
        }
        assert_eq!(h.objects.head(&finished.key).await.unwrap(), None);
        assert_eq!(h.videos.quota_use(&Owner::new(Harness::OWNER)).await.unwrap(), Default::default());
        assert_eq!(h.stored(other["videoId"].as_str().unwrap()).await.unwrap().status, Status::Uploading);
        // Again: nothing to do, done.
        let again = erase_owner(&h.app, json!({"owner": Harness::OWNER})).await.unwrap();
        assert_eq!((again.deleted, again.done), (0, true));
    }
}
