//! A per-process memo of `uploaded` records for the stream route.
//!
//! A player sends many range requests for one video, and each would read the same record from
//! DynamoDB. `uploaded` is final and nothing of an uploaded record that the stream route reads
//! (key, size, ETag, type, dates) ever changes, so a warm function can keep it. Bounded: when full
//! it starts over.

use std::collections::HashMap;
use std::sync::Mutex;

use vidgate_domain::{Status, Video, VideoId};

pub struct UploadedMemo {
    capacity: usize,
    videos: Mutex<HashMap<VideoId, Video>>,
}

impl UploadedMemo {
    pub fn new(capacity: usize) -> Self {
        Self { capacity, videos: Mutex::new(HashMap::new()) }
    }

    pub fn get(&self, id: &VideoId) -> Option<Video> {
        self.videos.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    /// Forgets `id` (deleted: a warm stream function must not serve it from here).
    pub fn forget(&self, id: &VideoId) {
        self.videos.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }

    /// Remembers `video` if it is `uploaded` (nothing else is final and unchanging).
    pub fn remember(&self, video: &Video) {
        if video.status != Status::Uploaded {
            return;
        }
        let mut videos = self.videos.lock().unwrap_or_else(|p| p.into_inner());
        if videos.len() >= self.capacity {
            videos.clear();
        }
        videos.insert(video.id, video.clone());
    }
}

impl Default for UploadedMemo {
    fn default() -> Self {
        Self::new(4096)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vidgate_domain::fixtures::video as sample;

    #[test]
    fn only_uploaded_records_are_remembered_and_the_memo_stays_bounded() {
        let memo = UploadedMemo::new(2);
        let uploading = sample("alice");
        memo.remember(&uploading);
        assert_eq!(memo.get(&uploading.id), None);
        let mut videos = Vec::new();
        for _ in 0..3 {
            let mut v = sample("alice");
            v.status = Status::Uploaded;
            memo.remember(&v);
            assert_eq!(memo.get(&v.id).as_ref(), Some(&v));
            videos.push(v);
        }
        assert_eq!(memo.get(&videos[0].id), None, "cleared when full");
    }
}
