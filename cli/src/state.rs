//! What a resumable upload remembers between runs.
//!
//! One small JSON file per (API, file path), holding the file's size and modified time when the
//! upload began and the upload's id. A rerun after a crash or `kill -9` finds it and continues; a
//! file whose size or modified time differs is refused, since its parts in S3 are of other bytes.
//! Files are written to a temporary name and renamed, so a kill never leaves half a state file.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{CliError, Result};

/// The file as it is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileIdentity {
    /// Absolute, symlinks resolved: the same file from two working directories is one upload.
    pub path: PathBuf,
    pub size: u64,
    /// Modified time, nanoseconds since the epoch.
    pub mtime_ns: u128,
}

impl FileIdentity {
    /// A file that isn't there or can't be read is the user's to fix (exit 2).
    pub fn of(path: &Path) -> Result<Self> {
        let io = |source: std::io::Error| CliError::Refused(format!("{}: {source}", path.display()));
        let path = std::fs::canonicalize(path).map_err(io)?;
        let meta = std::fs::metadata(&path).map_err(io)?;
        if !meta.is_file() {
            return Err(CliError::Refused(format!("{} is not a file", path.display())));
        }
        let mtime_ns = meta.modified().map_err(io)?.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Ok(Self { path, size: meta.len(), mtime_ns })
    }

    /// Names the path without revealing it (it goes into the upload's metadata).
    pub fn path_hash(&self) -> String {
        hex32(self.path.to_string_lossy().as_bytes())
    }

    /// Names this version of the file: path, size and modified time.
    pub fn fingerprint(&self) -> String {
        hex32(format!("{}\n{}\n{}", self.path.display(), self.size, self.mtime_ns).as_bytes())
    }
}

fn hex32(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UploadState {
    pub api: String,
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: u128,
    pub video_id: String,
    pub part_size: u64,
    pub part_count: u32,
}

impl UploadState {
    /// Whether `file` is still the file this upload began with.
    pub fn matches(&self, file: &FileIdentity) -> bool {
        self.size == file.size && self.mtime_ns == file.mtime_ns
    }
}

/// The directory of state files: `VIDGATE_STATE_DIR`, else `$XDG_STATE_HOME/vidgate`, else
/// `~/.local/state/vidgate`.
pub struct StateDir(PathBuf);

impl StateDir {
    pub fn new(dir: PathBuf) -> Self {
        Self(dir)
    }

    pub fn from_env() -> Self {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let dir = var("VIDGATE_STATE_DIR")
            .or_else(|| var("XDG_STATE_HOME").map(|d| d.join("vidgate")))
            .or_else(|| var("HOME").map(|h| h.join(".local/state/vidgate")))
            .unwrap_or_else(|| PathBuf::from(".vidgate-state"));
        Self(dir)
    }

    fn file(&self, api: &str, path: &Path) -> PathBuf {
        self.0.join(format!("{}.json", hex32(format!("{api}\n{}", path.display()).as_bytes())))
    }

    /// The state of an upload of `path` to `api`, if one is unfinished.
    pub fn load(&self, api: &str, path: &Path) -> Result<Option<UploadState>> {
        let file = self.file(api, path);
        match std::fs::read(&file) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(CliError::Io { path: file, source }),
        }
    }

    pub fn save(&self, state: &UploadState) -> Result<()> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| CliError::Io { path, source }
        };
        std::fs::create_dir_all(&self.0).map_err(io(&self.0))?;
        let file = self.file(&state.api, &state.path);
        let tmp = file.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec_pretty(state).expect("state serializes"))
            .map_err(io(&tmp))?;
        std::fs::rename(&tmp, &file).map_err(io(&file))
    }

    pub fn remove(&self, api: &str, path: &Path) -> Result<()> {
        let file = self.file(api, path);
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(CliError::Io { path: file, source: e }),
            _ => Ok(()),
        }
    }

    /// Forgets every state of video `id` (after `vidgate abort`).
    pub fn forget_video(&self, id: &str) {
        let Ok(entries) = std::fs::read_dir(&self.0) else { return };
        for entry in entries.flatten() {
            let Ok(bytes) = std::fs::read(entry.path()) else { continue };
            if serde_json::from_slice::<UploadState>(&bytes).is_ok_and(|s| s.video_id == id) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vidgate-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn state_round_trips_is_per_api_and_path_and_knows_a_changed_file() {
        let dir = temp_dir("state");
        let video = dir.join("a.mp4");
        std::fs::write(&video, b"0123456789").unwrap();
        let file = FileIdentity::of(&video).unwrap();
        assert_eq!(file.size, 10);
        let states = StateDir::new(dir.join("state"));
        let state = UploadState {
            api: "http://a".into(),
            path: file.path.clone(),
            size: file.size,
            mtime_ns: file.mtime_ns,
            video_id: "v1".into(),
            part_size: 5,
            part_count: 2,
        };
        assert_eq!(states.load("http://a", &file.path).unwrap(), None);
        states.save(&state).unwrap();
        assert_eq!(states.load("http://a", &file.path).unwrap(), Some(state.clone()));
        assert_eq!(states.load("http://b", &file.path).unwrap(), None);
        assert!(state.matches(&file));

        std::fs::write(&video, b"0123456789-and-more").unwrap();
        let changed = FileIdentity::of(&video).unwrap();
        assert!(!state.matches(&changed));
        assert_ne!(changed.fingerprint(), file.fingerprint());
        assert_eq!(changed.path_hash(), file.path_hash());

        states.forget_video("v1");
        assert_eq!(states.load("http://a", &file.path).unwrap(), None);
        assert!(matches!(FileIdentity::of(&dir), Err(CliError::Refused(_))));
        assert!(matches!(FileIdentity::of(&dir.join("missing")), Err(CliError::Refused(_))));
    }
}
