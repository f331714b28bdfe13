//! A video's lifecycle as the app's backend hears it: one event per state a video enters.
//!
//! Each event is derived from a change of the stored record (the DynamoDB stream's old and new
//! images), not announced by the function that made it, so a function that dies right after its
//! write still leads to the event. A video enters each state at most once (every state but
//! `uploading` is final, and `deleted` only follows them), so `(video id, detail-type)` names an
//! event uniquely: receivers drop duplicates by it, and stale ones by `updatedAt`.

use super::Status;
use super::images::{Images, ImagesStatus};

/// The `source` of every vidgate event on the bus.
pub const SOURCE: &str = "vidgate";

/// One `detail-type`: a state a video entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lifecycle {
    UploadStarted,
    Uploaded,
    Rejected,
    UploadAborted,
    UploadExpired,
    Deleted,
}

impl Lifecycle {
    pub const ALL: [Lifecycle; 6] = [
        Lifecycle::UploadStarted,
        Lifecycle::Uploaded,
        Lifecycle::Rejected,
        Lifecycle::UploadAborted,
        Lifecycle::UploadExpired,
        Lifecycle::Deleted,
    ];

    /// The event that a record going from `old` (none: it was just created) to `new` (none: the
    /// item was removed, which only DynamoDB's TTL does to tombstones and ended uploads) means:
    /// none when the status did not change.
    pub fn of(old: Option<Status>, new: Option<Status>) -> Option<Lifecycle> {
        let new = new?;
        if old == Some(new) {
            return None;
        }
        Some(Self::entering(new))
    }

    /// The event of entering `status`.
    pub fn entering(status: Status) -> Lifecycle {
        match status {
            Status::Uploading => Lifecycle::UploadStarted,
            Status::Uploaded => Lifecycle::Uploaded,
            Status::Rejected => Lifecycle::Rejected,
            Status::Aborted => Lifecycle::UploadAborted,
            Status::Expired => Lifecycle::UploadExpired,
            Status::Deleted => Lifecycle::Deleted,
        }
    }

    /// The state this event says the video entered.
    pub fn status(self) -> Status {
        match self {
            Lifecycle::UploadStarted => Status::Uploading,
            Lifecycle::Uploaded => Status::Uploaded,
            Lifecycle::Rejected => Status::Rejected,
            Lifecycle::UploadAborted => Status::Aborted,
            Lifecycle::UploadExpired => Status::Expired,
            Lifecycle::Deleted => Status::Deleted,
        }
    }

    /// The event's `detail-type`, as EventBridge rules match it.
    pub fn detail_type(self) -> &'static str {
        match self {
            Lifecycle::UploadStarted => "Video Upload Started",
            Lifecycle::Uploaded => "Video Uploaded",
            Lifecycle::Rejected => "Video Rejected",
            Lifecycle::UploadAborted => "Video Upload Aborted",
            Lifecycle::UploadExpired => "Video Upload Expired",
            Lifecycle::Deleted => "Video Deleted",
        }
    }
}

/// The images function's news: a video's poster and storyboard are ready, or can't be made.
/// Unlike a state, these can come again: each poster the owner asks for ends in one more.
/// `(video id, detail-type, updatedAt)` names one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImagesLifecycle {
    /// The owner asked for another poster: make-images hears of it by this event too.
    Requested,
    Ready,
    Failed,
}

impl ImagesLifecycle {
    pub const ALL: [ImagesLifecycle; 3] =
        [ImagesLifecycle::Requested, ImagesLifecycle::Ready, ImagesLifecycle::Failed];

    /// The event a record's images going from `old` to `new` means: an owner's request (a new
    /// `pending` revision naming a moment), or a run's end (leaving `pending` for `ready` or
    /// `failed`). The `pending` an upload starts with is no event: `Video Uploaded` says it.
    pub fn of(old: Option<&Images>, new: Option<&Images>) -> Option<ImagesLifecycle> {
        let new = new?;
        let same = old.is_some_and(|old| old.status == new.status && old.rev == new.rev);
        if same {
            return None;
        }
        match new.status {
            ImagesStatus::Pending if new.poster_at.is_some() => Some(ImagesLifecycle::Requested),
            ImagesStatus::Pending => None,
            ImagesStatus::Ready => Some(ImagesLifecycle::Ready),
            ImagesStatus::Failed => Some(ImagesLifecycle::Failed),
        }
    }

    pub fn detail_type(self) -> &'static str {
        match self {
            ImagesLifecycle::Requested => "Video Images Requested",
            ImagesLifecycle::Ready => "Video Images Ready",
            ImagesLifecycle::Failed => "Video Images Failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_of_the_images_function_ends_in_one_event_and_a_rewrite_in_none() {
        let pending = Images::pending();
        let ready = Images { status: ImagesStatus::Ready, ..pending.clone() };
        let failed = Images { status: ImagesStatus::Failed, reason: Some("x".into()), ..pending.clone() };
        assert_eq!(ImagesLifecycle::of(None, Some(&pending)), None);
        assert_eq!(ImagesLifecycle::of(Some(&pending), Some(&ready)), Some(ImagesLifecycle::Ready));
        assert_eq!(ImagesLifecycle::of(Some(&pending), Some(&failed)), Some(ImagesLifecycle::Failed));
        assert_eq!(ImagesLifecycle::of(Some(&ready), Some(&ready)), None);
        assert_eq!(ImagesLifecycle::of(Some(&ready), None), None);
        // A chosen poster: requested, then ready again.
        let asked = ready.request_poster(1500);
        assert_eq!(ImagesLifecycle::of(Some(&ready), Some(&asked)), Some(ImagesLifecycle::Requested));
        assert_eq!(ImagesLifecycle::of(None, Some(&asked)), Some(ImagesLifecycle::Requested));
        let again = Images { status: ImagesStatus::Ready, ..asked.clone() };
        assert_eq!(ImagesLifecycle::of(Some(&asked), Some(&again)), Some(ImagesLifecycle::Ready));
    }

    #[test]
    fn every_state_has_one_event_and_only_a_change_of_status_is_one() {
        for status in Status::ALL {
            let event = Lifecycle::entering(status);
            assert_eq!(event.status(), status);
            assert_eq!(Lifecycle::of(None, Some(status)), Some(event), "created as {status}");
            assert_eq!(Lifecycle::of(Some(status), Some(status)), None, "rewritten as {status}");
            assert_eq!(Lifecycle::of(Some(status), None), None, "purged from {status}");
        }
        assert_eq!(Lifecycle::of(Some(Status::Uploading), Some(Status::Uploaded)), Some(Lifecycle::Uploaded));
        assert_eq!(Lifecycle::of(Some(Status::Uploaded), Some(Status::Deleted)), Some(Lifecycle::Deleted));
        let types: std::collections::HashSet<&str> = Lifecycle::ALL.iter().map(|l| l.detail_type()).collect();
        assert_eq!(types.len(), Status::ALL.len());
    }
}
