//! The [`Frames`] port on ffmpeg: one process per picture, each reading the video from the run's
//! [`Reader`], each bounded by what is left of the run's time and by an address-space limit.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::time::Instant;
use vidgate_uploads::frames::{Frame, FrameError, FrameRequest, FrameSession, Frames, Seek, Source};
use vidgate_uploads::objects::ObjectStore;

use crate::config::FfmpegConfig;
use crate::reader::{Reader, Stopped};

/// ffmpeg, reading objects from `objects`.
pub struct Ffmpeg {
    config: FfmpegConfig,
    objects: Arc<dyn ObjectStore>,
}

impl Ffmpeg {
    pub fn new(config: FfmpegConfig, objects: Arc<dyn ObjectStore>) -> Self {
        Self { config, objects }
    }

    /// ffmpeg's first line of `-version`: checked at Init, so a function without its layer fails
    /// to start rather than failing every video.
    pub async fn version(&self) -> Result<String, String> {
        let out = Command::new(&self.config.program)
            .arg("-version")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| format!("{}: {e}", self.config.program.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines().next().filter(|_| out.status.success()).map(str::to_owned).ok_or_else(|| {
            format!(
                "{} -version failed: {}",
                self.config.program.display(),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    fn command(&self, memory_mb: u64) -> Command {
        let mut command = Command::new(&self.config.program);
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let limit = memory_mb << 20;
        // RLIMIT_DATA, not RLIMIT_AS: it counts the memory ffmpeg writes to (heap, private
        // mappings), not the address space glibc reserves per thread (a 4K HEVC decode holds
        // 283 MB but reserves over 640 MB).
        // SAFETY: runs in the forked child before exec and only calls setrlimit, which is
        // async-signal-safe.
        unsafe {
            command.pre_exec(move || {
                let rlimit = libc::rlimit { rlim_cur: limit, rlim_max: limit };
                if libc::setrlimit(libc::RLIMIT_DATA, &rlimit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        command.args(["-nostdin", "-hide_banner", "-nostats", "-threads", "2"]);
        command
    }
}

#[async_trait]
impl Frames for Ffmpeg {
    async fn open(&self, source: Source) -> Result<Box<dyn FrameSession>, FrameError> {
        let reader = Reader::start(self.objects.clone(), source, self.config.max_read_bytes)
            .await
            .map_err(|e| FrameError::Unavailable(format!("starting the frame reader: {e}")))?;
        Ok(Box::new(Session {
            ffmpeg: Ffmpeg { config: self.config.clone(), objects: self.objects.clone() },
            reader,
            deadline: Instant::now() + self.config.time,
        }))
    }

    async fn jpeg(&self, width: u32, height: u32, rgb: &[u8]) -> Result<Vec<u8>, FrameError> {
        if rgb.len() != (width as usize) * (height as usize) * 3 {
            return Err(FrameError::Undecodable(format!(
                "{} bytes are no {width}x{height} picture",
                rgb.len()
            )));
        }
        let mut command = self.command(self.config.memory_mb);
        command.stdin(Stdio::piped()).args(["-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24"]);
        command.args(["-s", &format!("{width}x{height}"), "-i", "pipe:0", "-frames:v", "1"]);
        // Quality 3 of 31 (2 is best), full-range 4:2:0: what browsers and phones decode.
        command.args(["-q:v", "3", "-pix_fmt", "yuvj420p", "-f", "mjpeg", "pipe:1"]);
        let mut child =
            command.spawn().map_err(|e| FrameError::Unavailable(format!("running ffmpeg: {e}")))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let input = rgb.to_vec();
        let feed = tokio::spawn(async move { stdin.write_all(&input).await });
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .map_err(|_| FrameError::OverBound("encoding a JPEG took longer than 60 s".into()))?
            .map_err(|e| FrameError::Unavailable(format!("running ffmpeg: {e}")))?;
        let _ = feed.await;
        if !out.status.success() || out.stdout.is_empty() {
            return Err(FrameError::Undecodable(reason(&out.stderr)));
        }
        Ok(out.stdout)
    }
}

struct Session {
    ffmpeg: Ffmpeg,
    reader: Reader,
    deadline: Instant,
}

#[async_trait]
impl FrameSession for Session {
    async fn frame(&self, request: FrameRequest) -> Result<Frame, FrameError> {
        let FrameRequest { at_ms, seek, width, height } = request;
        let mut command = self.ffmpeg.command(self.ffmpeg.config.memory_mb);
        // showinfo logs each frame's time at `info`.
        command.args(["-loglevel", "info"]);
        if seek == Seek::KeyframeAfter {
            // The decoder drops every frame but keyframes (H.264, HEVC and AV1 decoders honour
            // this; VP9's doesn't, so `select` below keeps only I-frames), and the seek drops
            // those before the moment: the first one left is the first keyframe at or after it.
            command.args(["-skip_frame", "nokey"]);
        }
        command.args(["-ss", &format!("{}.{:03}", at_ms / 1000, at_ms % 1000)]);
        // The receive buffer bounds what a seek leaves unread in the kernel.
        command.args(["-recv_buffer_size", "16384", "-i", &self.reader.url()]);
        command.args(["-map", "0:v:0", "-frames:v", "1", "-an", "-sn", "-dn"]);
        // The rotation is applied before these filters (ffmpeg's autorotate), so the size asked
        // for is the displayed one.
        let select = if seek == Seek::KeyframeAfter { "select='eq(pict_type\\,I)'," } else { "" };
        command.args(["-vf", &format!("{select}showinfo,scale={width}:{height}:flags=bicubic,setsar=1")]);
        command.args(["-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1"]);
        let left = self.deadline.saturating_duration_since(Instant::now());
        let child = command.spawn().map_err(|e| FrameError::Unavailable(format!("running ffmpeg: {e}")))?;
        let out = match tokio::time::timeout(left, child.wait_with_output()).await {
            Ok(out) => out.map_err(|e| FrameError::Unavailable(format!("running ffmpeg: {e}")))?,
            Err(_) => {
                let secs = self.ffmpeg.config.time.as_secs();
                return Err(FrameError::OverBound(format!("decoding took longer than {secs} s")));
            }
        };
        match self.reader.stopped() {
            Some(Stopped::OverBound(n)) => {
                return Err(FrameError::OverBound(format!(
                    "decoding needed more than {n} bytes of the video"
                )));
            }
            Some(Stopped::Unavailable(why)) => return Err(FrameError::Unavailable(why)),
            None => {}
        }
        let expected = (width as usize) * (height as usize) * 3;
        if out.status.success() && out.stdout.is_empty() {
            return Err(FrameError::NoFrame(at_ms));
        }
        if !out.status.success() || out.stdout.len() < expected {
            if String::from_utf8_lossy(&out.stderr).contains("Cannot allocate memory") {
                let mb = self.ffmpeg.config.memory_mb;
                return Err(FrameError::OverBound(format!("decoding needed more than {mb} MB of memory")));
            }
            return Err(FrameError::Undecodable(reason(&out.stderr)));
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let offset_ms = shown_at(&stderr).unwrap_or(0.0);
        let mut rgb = out.stdout;
        rgb.truncate(expected);
        Ok(Frame { time_ms: at_ms + (offset_ms * 1000.0).round() as u64, width, height, rgb })
    }

    fn bytes_read(&self) -> u64 {
        self.reader.bytes_read()
    }
}

/// The first frame's time after the seek point, from showinfo's `pts_time:` (ffmpeg starts the
/// output's clock at the seek point).
fn shown_at(stderr: &str) -> Option<f64> {
    let line = stderr.lines().find(|l| l.contains("Parsed_showinfo") && l.contains("pts_time:"))?;
    let value = line.split("pts_time:").nth(1)?.split_whitespace().next()?;
    value.parse::<f64>().ok().filter(|t| t.is_finite() && *t >= 0.0)
}

/// Why ffmpeg failed, in its own words: the complaint a decoder or demuxer repeated most
/// (`h264: Error splitting the input into NAL units.`), else its last line, with the loopback
/// URL and addresses taken out.
fn reason(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let mut counts: Vec<(String, usize)> = Vec::new();
    for line in text.lines().map(str::trim) {
        // `[h264 @ 0x55…] message` → `h264: message`
        let Some((who, message)) = line.strip_prefix('[').and_then(|l| l.split_once("] ")) else { continue };
        let who = who.split(" @ ").next().unwrap_or(who);
        if who.starts_with("Parsed_") || message.trim().is_empty() {
            continue;
        }
        let said = format!("{who}: {}", message.trim());
        match counts.iter_mut().find(|(s, _)| *s == said) {
            Some((_, n)) => *n += 1,
            None => counts.push((said, 1)),
        }
    }
    let most = counts.iter().max_by_key(|(_, n)| *n).map(|(s, _)| s.as_str());
    // ffmpeg's own closing words say nothing of why.
    let generic = |l: &str| l.is_empty() || l == "Conversion failed!" || l.starts_with("Error while ");
    let last = text.lines().rev().map(str::trim).find(|l| !generic(l));
    let line = most.or(last).unwrap_or("ffmpeg failed without a message");
    let line = match line.find("/video: ") {
        Some(at) => &line[at + "/video: ".len()..],
        None => line,
    };
    let line: String = line.chars().take(300).collect();
    format!("ffmpeg can't decode the video: {line}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_time_and_the_failure_come_out_of_ffmpegs_words() {
        let log = "[Parsed_showinfo_0 @ 0x5] config in time_base: 1/15360\n\
                   [Parsed_showinfo_0 @ 0x5] n:   0 pts:  13824 pts_time:0.9     duration:512\n";
        assert_eq!(shown_at(log), Some(0.9));
        assert_eq!(shown_at("nothing"), None);
        let failed = b"Stream map '0:v:0' matches no streams.\nhttp://127.0.0.1:4000/video: Invalid data found when processing input\n";
        assert_eq!(reason(failed), "ffmpeg can't decode the video: Invalid data found when processing input");
        let noisy = b"[h264 @ 0x1] Error splitting the input into NAL units.\n[h264 @ 0x1] Invalid NAL unit size (9 > 2).\n\
                      [h264 @ 0x1] Error splitting the input into NAL units.\n[Parsed_showinfo_0 @ 0x5] config\nConversion failed!\n";
        assert_eq!(
            reason(noisy),
            "ffmpeg can't decode the video: h264: Error splitting the input into NAL units."
        );
    }
}
