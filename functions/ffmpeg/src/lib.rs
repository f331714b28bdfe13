//! vidgate's frame decoder: the [`Frames`](vidgate_uploads::frames::Frames) port on ffmpeg.
//!
//! # Module map
//! - [`Ffmpeg`]: one ffmpeg process per picture (seek, decode, rotate, scale to RGB) and per JPEG;
//! - [`reader`]: the loopback server ffmpeg reads the video from, turning its reads into
//!   bounded, counted ranged GETs of S3;
//! - [`FfmpegConfig`]: where ffmpeg is and the bounds of one run, parsed once at Init.

mod config;
mod ffmpeg;
pub mod reader;

pub use config::{FfmpegConfig, LAYER_FFMPEG, VARIABLES};
pub use ffmpeg::Ffmpeg;
