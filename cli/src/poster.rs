//! `vidgate poster`: a video's poster as a JPEG file — the one vidgate made, or (with `--at`)
//! the frame at a moment the owner picks, once make-images has made it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::api::{Api, Video};
use crate::{CliError, Result};

/// How long `poster` waits for make-images.
pub const WAIT: Duration = Duration::from_secs(120);

/// A moment as people write it: `12.5s`, `12.5`, `1500ms`, `1:02.5` → milliseconds.
pub fn parse_moment(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let bad = || format!("{text:?} is no moment: write 12.5s, 1500ms or 1:02.5");
    let seconds = |s: &str| -> std::result::Result<f64, String> {
        s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).ok_or_else(bad)
    };
    let ms = if let Some(ms) = t.strip_suffix("ms") {
        seconds(ms)?
    } else if t.contains(':') {
        let parts: Vec<&str> = t.split(':').collect();
        let [rest @ .., last] = parts.as_slice() else { return Err(bad()) };
        let mut total = seconds(last)?;
        for (i, part) in rest.iter().rev().enumerate() {
            let whole = part.parse::<u64>().map_err(|_| bad())?;
            total += whole as f64 * 60f64.powi(i as i32 + 1);
        }
        if rest.len() > 2 {
            return Err(bad());
        }
        total * 1000.0
    } else {
        seconds(t.strip_suffix('s').unwrap_or(t))? * 1000.0
    };
    Ok(ms.round() as u64)
}

/// Where the poster goes by default: `<the video's file name without extension>.jpg`.
pub fn default_output(video: &Video) -> PathBuf {
    let stem = Path::new(&video.filename)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty() && s != "..")
        .unwrap_or_else(|| video.id.clone());
    PathBuf::from(format!("{stem}.jpg"))
}

/// The video once its images are no longer `pending` (make-images ran), or why not.
pub async fn made(api: &Api, id: &str) -> Result<Video> {
    let deadline = Instant::now() + WAIT;
    loop {
        let video = api.video(id).await?;
        match video.raw["images"]["status"].as_str() {
            Some("ready") => return Ok(video),
            Some("failed") => {
                let why = video.raw["images"]["reason"].as_str().unwrap_or("no reason given");
                return Err(CliError::Refused(format!("vidgate couldn't make this video's pictures: {why}")));
            }
            Some("pending") if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(500)).await
            }
            Some("pending") => {
                return Err(CliError::Refused(format!(
                    "the poster is still being made after {} s; run this again in a moment",
                    WAIT.as_secs()
                )));
            }
            _ => {
                return Err(CliError::Refused(format!(
                    "video {id} has no pictures (it is {}, or was uploaded before vidgate made them: \
                     `vidgate poster {id} --at 0` makes them)",
                    video.status
                )));
            }
        }
    }
}

/// Downloads the video's current poster to `output`; returns its size in bytes and the moment it shows.
pub async fn download(api: &Api, id: &str, output: &Path) -> Result<(usize, u64)> {
    let video = made(api, id).await?;
    let time_ms = video.raw["images"]["poster"]["timeMs"].as_u64().unwrap_or(0);
    let reply = api.playback_urls(id).await?;
    let url = reply["posterUrl"].as_str().ok_or_else(|| CliError::Api {
        status: 200,
        code: "unexpected_reply".into(),
        message: "the playback reply has no posterUrl".into(),
    })?;
    // A CDN or image-route URL: the URL is the grant, so no Authorization header goes with it.
    let response = api
        .http()
        .get(url)
        .send()
        .await
        .map_err(|e| CliError::Exhausted { attempts: 1, last: e.to_string() })?;
    if !response.status().is_success() {
        return Err(CliError::Api {
            status: response.status().as_u16(),
            code: "poster_unavailable".into(),
            message: format!("the poster URL answered {}", response.status()),
        });
    }
    let bytes =
        response.bytes().await.map_err(|e| CliError::Exhausted { attempts: 1, last: e.to_string() })?;
    std::fs::write(output, &bytes).map_err(|source| CliError::Io { path: output.to_owned(), source })?;
    Ok((bytes.len(), time_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_read_as_people_write_them() {
        for (text, ms) in [
            ("12.5s", 12_500),
            ("12.5", 12_500),
            ("1500ms", 1500),
            ("1:02.5", 62_500),
            ("1:00:00", 3_600_000),
            ("0", 0),
        ] {
            assert_eq!(parse_moment(text), Ok(ms), "{text}");
        }
        for bad in ["", "-1s", "abc", "1:2:3:4", "nans", "1:x"] {
            assert!(parse_moment(bad).is_err(), "{bad}");
        }
    }
}
