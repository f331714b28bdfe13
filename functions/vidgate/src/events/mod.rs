//! The functions S3 and the scheduler invoke, translating their events into use cases: learning
//! of finished uploads from S3 events, and expiring abandoned uploads.

mod expire_uploads;
mod object_created;

pub use crate::uploads::SweepReport;
pub use expire_uploads::expire_uploads;
pub use object_created::{ObjectReport, on_object_created};
