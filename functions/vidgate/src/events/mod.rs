//! The functions events invoke, translating them into use cases: learning of finished uploads
//! from S3 events, expiring abandoned uploads on a schedule, publishing lifecycle events from the
//! table's stream, and erasing an owner when an operator asks.

mod erase_owner;
mod expire_uploads;
mod object_created;
mod publish_events;

pub use crate::uploads::SweepReport;
pub use erase_owner::{EraseRequest, erase_owner};
pub use expire_uploads::expire_uploads;
pub use object_created::{MAX_RECEIVES, ObjectReport, on_object_created, on_s3_event};
pub use publish_events::{LifecycleDetail, PUBLISH_MAX_RETRIES, lifecycle_event, publish_events};
