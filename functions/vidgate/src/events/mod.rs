//! The functions the S3 event queue and the scheduler invoke, translating their events into use
//! cases: learning of finished uploads from S3 events, and expiring abandoned uploads.

mod expire_uploads;
mod object_created;

pub use crate::uploads::SweepReport;
pub use expire_uploads::expire_uploads;
pub use object_created::{MAX_RECEIVES, ObjectReport, on_object_created, on_s3_event};
