//! Frames painted, not decoded: each picture is one grey level given by its moment, so tests can
//! tell which moment a poster or tile shows.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{Frame, FrameError, FrameRequest, FrameSession, Frames, Seek, Source};

/// How the painted video looks: `duration_ms` long, keyframes every `keyframe_ms`, black before
/// `dark_until_ms`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Painting {
    pub duration_ms: u64,
    pub keyframe_ms: u64,
    pub dark_until_ms: u64,
}

/// Paints every video by one [`Painting`]; keys marked [`PaintedFrames::undecodable`] fail as a
/// decoder would.
#[derive(Debug, Default)]
pub struct PaintedFrames {
    painting: Painting,
    undecodable: Mutex<Vec<String>>,
    requests: Arc<Mutex<Vec<FrameRequest>>>,
}

impl PaintedFrames {
    pub fn new(painting: Painting) -> Self {
        Self { painting, ..Self::default() }
    }

    /// The grey level painted at `time_ms` (never black: 40..=239).
    pub fn level(time_ms: u64) -> u8 {
        40 + (time_ms / 1000 % 200) as u8
    }

    pub fn undecodable(&self, key: &str) {
        self.undecodable.lock().unwrap_or_else(|p| p.into_inner()).push(key.to_owned());
    }

    /// Every frame asked for, in order.
    pub fn requests(&self) -> Vec<FrameRequest> {
        self.requests.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl Frames for PaintedFrames {
    async fn open(&self, source: Source) -> Result<Box<dyn FrameSession>, FrameError> {
        if self.undecodable.lock().unwrap_or_else(|p| p.into_inner()).contains(&source.key) {
            return Err(FrameError::Undecodable("Invalid data found when processing input".into()));
        }
        Ok(Box::new(Session { painting: self.painting, requests: self.requests.clone() }))
    }

    async fn jpeg(&self, width: u32, height: u32, rgb: &[u8]) -> Result<Vec<u8>, FrameError> {
        if rgb.len() != (width * height * 3) as usize {
            return Err(FrameError::Undecodable(format!(
                "{} bytes are no {width}x{height} picture",
                rgb.len()
            )));
        }
        // Not a JPEG: its marker, the size and the first pixel, which tests read back.
        let mut out = vec![0xFF, 0xD8];
        out.extend_from_slice(&width.to_be_bytes());
        out.extend_from_slice(&height.to_be_bytes());
        out.extend_from_slice(&rgb[..3]);
        Ok(out)
    }
}

struct Session {
    painting: Painting,
    requests: Arc<Mutex<Vec<FrameRequest>>>,
}

#[async_trait]
impl FrameSession for Session {
    async fn frame(&self, request: FrameRequest) -> Result<Frame, FrameError> {
        self.requests.lock().unwrap_or_else(|p| p.into_inner()).push(request);
        let p = self.painting;
        let time_ms = match request.seek {
            Seek::Exact => request.at_ms,
            Seek::KeyframeAfter => request.at_ms.div_ceil(p.keyframe_ms.max(1)) * p.keyframe_ms.max(1),
        };
        if time_ms >= p.duration_ms {
            return Err(FrameError::NoFrame(request.at_ms));
        }
        let level = if time_ms < p.dark_until_ms { 0 } else { PaintedFrames::level(time_ms) };
        Ok(Frame {
            time_ms,
            width: request.width,
            height: request.height,
            rgb: vec![level; (request.width * request.height * 3) as usize],
        })
    }

    fn bytes_read(&self) -> u64 {
        0
    }
}
