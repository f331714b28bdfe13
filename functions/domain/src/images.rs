//! A video's pictures: its poster and the storyboard a player shows while seeking.
//!
//! The rules, with no decoder in them: which moment the poster shows, how large each picture is
//! (the displayed shape — display aspect ratio, then the container's rotation — fitted into a
//! long side, never upscaled), how often a storyboard tile is taken, where each tile sits in its
//! sprite, and the WebVTT that points into the sprites (`sprite.jpg#xywh=x,y,w,h`, the format
//! Video.js, JW Player, Plyr and Mux read).

use serde::{Deserialize, Serialize};

use crate::media::Media;

/// The poster's long side at most, in pixels.
pub const POSTER_LONG_SIDE: u32 = 1280;
/// A storyboard tile's long side at most, in pixels.
pub const TILE_LONG_SIDE: u32 = 160;
/// About how many tiles a storyboard holds at most: a two-hour video gets one every 36 s.
pub const MAX_TILES: u64 = 200;
/// The poster shows the first keyframe at or after this share of the duration (per mille).
pub const POSTER_AT_PER_MILLE: u64 = 100;
/// Tiles per sprite row and column: a sprite holds up to 100 tiles (at most 1600×1600 px).
pub const SPRITE_COLUMNS: u32 = 10;
pub const SPRITE_ROWS: u32 = 10;

/// What `Video.images` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Images {
    pub status: ImagesStatus,
    /// Why they failed (`failed` only).
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub poster: Option<Poster>,
    #[serde(default)]
    pub storyboard: Option<Storyboard>,
    /// The moment the owner asked the next poster to show (`pending` after
    /// `POST /v1/videos/{id}/poster`); none: the default moment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poster_at: Option<u64>,
    /// Counts the requests made of the images function: each write of its result is conditioned on
    /// the count it read, so a slow run can't overwrite what a later request made.
    #[serde(default)]
    pub rev: u32,
}

impl Images {
    /// What an uploaded video holds until the images function has run.
    pub fn pending() -> Self {
        Self {
            status: ImagesStatus::Pending,
            reason: None,
            poster: None,
            storyboard: None,
            poster_at: None,
            rev: 0,
        }
    }

    /// A request for a poster at `time_ms`: pending again, what was made before still shown.
    pub fn request_poster(&self, time_ms: u64) -> Self {
        Self {
            status: ImagesStatus::Pending,
            reason: None,
            poster_at: Some(time_ms),
            rev: self.rev.wrapping_add(1),
            ..self.clone()
        }
    }

    /// Whether the images function still has work to do.
    pub fn is_pending(&self) -> bool {
        self.status == ImagesStatus::Pending
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImagesStatus {
    Pending,
    Ready,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Poster {
    pub time_ms: u64,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Storyboard {
    pub interval_ms: u64,
    pub tile_width: u32,
    pub tile_height: u32,
    pub count: u32,
}

/// The picture as a player shows it: the coded height, the width the display aspect ratio gives
/// it, then turned by the rotation (a portrait phone video is taller than wide).
pub fn displayed(media: &Media) -> (u32, u32) {
    let (w, h) = (media.width.max(1), media.height.max(1));
    let width = media
        .display_aspect_ratio
        .split_once(':')
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
        .filter(|&(a, b)| a > 0 && b > 0)
        .map_or(w, |(a, b)| ((u64::from(h) * a + b / 2) / b).clamp(1, u64::from(u32::MAX)) as u32);
    if media.rotation % 180 == 90 { (h, width) } else { (width, h) }
}

/// `(width, height)` scaled to fit `long_side` on its longer side, never upscaled, keeping the
/// shape; both even (4:2:0 JPEG encoders want even sizes) and at least 2.
pub fn fit((width, height): (u32, u32), long_side: u32) -> (u32, u32) {
    let long = width.max(height).max(1);
    let scale = |side: u32| {
        let scaled = if long <= long_side {
            u64::from(side)
        } else {
            (u64::from(side) * u64::from(long_side) + u64::from(long) / 2) / u64::from(long)
        };
        (scaled as u32 & !1).max(2)
    };
    (scale(width), scale(height))
}

/// The poster's size for `media`.
pub fn poster_size(media: &Media) -> (u32, u32) {
    fit(displayed(media), POSTER_LONG_SIDE)
}

/// A storyboard tile's size for `media`.
pub fn tile_size(media: &Media) -> (u32, u32) {
    fit(displayed(media), TILE_LONG_SIDE)
}

/// Where the poster is looked for by default: 10 % into the video (its start when the duration is
/// unknown); the decoder takes the first keyframe at or after it that is not nearly black.
pub fn poster_time(duration_ms: Option<u64>) -> u64 {
    duration_ms.map_or(0, |d| d * POSTER_AT_PER_MILLE / 1000)
}

/// A storyboard for a video of `duration_ms`: one tile every whole number of seconds, as few
/// seconds as keep it within [`MAX_TILES`], tiles of `tile` size.
pub fn storyboard(duration_ms: u64, (tile_width, tile_height): (u32, u32)) -> Storyboard {
    let duration_ms = duration_ms.max(1);
    let interval_ms = duration_ms.div_ceil(MAX_TILES).div_ceil(1000).max(1) * 1000;
    let count = duration_ms.div_ceil(interval_ms).max(1) as u32;
    Storyboard { interval_ms, tile_width, tile_height, count }
}

impl Storyboard {
    /// How many sprite images hold the tiles.
    pub fn sprites(&self) -> u32 {
        self.count.div_ceil(SPRITE_COLUMNS * SPRITE_ROWS)
    }

    /// Tile `i`'s sprite and its rectangle there: `(sprite, x, y)`.
    pub fn place(&self, i: u32) -> (u32, u32, u32) {
        let per_sprite = SPRITE_COLUMNS * SPRITE_ROWS;
        let within = i % per_sprite;
        (
            i / per_sprite,
            (within % SPRITE_COLUMNS) * self.tile_width,
            (within / SPRITE_COLUMNS) * self.tile_height,
        )
    }

    /// The moment tile `i` shows (the start of its cue).
    pub fn time_ms(&self, i: u32) -> u64 {
        u64::from(i) * self.interval_ms
    }

    /// The WebVTT: one cue per tile, contiguous from 0 to `duration_ms` (the last cue ends there),
    /// each payload `<sprite URL>#xywh=x,y,w,h`.
    pub fn vtt(&self, duration_ms: u64, sprite_url: impl Fn(u32) -> String) -> String {
        let duration_ms = duration_ms.max(1);
        let mut out = String::from("WEBVTT\n");
        for i in 0..self.count {
            let start = self.time_ms(i).min(duration_ms);
            let end = if i + 1 == self.count { duration_ms } else { self.time_ms(i + 1).min(duration_ms) };
            if end <= start {
                break;
            }
            let (sprite, x, y) = self.place(i);
            out.push_str(&format!(
                "\n{} --> {}\n{}#xywh={x},{y},{},{}\n",
                timestamp(start),
                timestamp(end),
                sprite_url(sprite),
                self.tile_width,
                self.tile_height
            ));
        }
        out
    }
}

/// Whether an RGB picture is nearly uniformly black (a fade, a lens cap, a title card's dark
/// frame): its mean luma under 24 of 255 and 98 % of its pixels within 12 of that mean. Such a
/// frame makes no poster; the next candidate is tried.
pub fn nearly_black(rgb: &[u8]) -> bool {
    let luma: Vec<u32> = rgb
        .chunks_exact(3)
        .map(|p| (u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000)
        .collect();
    if luma.is_empty() {
        return true;
    }
    let mean = luma.iter().sum::<u32>() / luma.len() as u32;
    let near = luma.iter().filter(|&&l| l.abs_diff(mean) <= 12).count();
    mean < 24 && near * 100 >= luma.len() * 98
}

/// The moments tried for a poster, in order: `first`, then on through the video in steps of a
/// tenth of it, so a black opening or fade is skipped; at most `tries`.
pub fn poster_candidates(first: u64, duration_ms: Option<u64>, tries: usize) -> Vec<u64> {
    let mut times = vec![first];
    if let Some(duration) = duration_ms {
        let step = duration / 10;
        times.extend((1..tries as u64).map(|i| first + i * step).take_while(|t| step > 0 && *t < duration));
    }
    times
}

/// `HH:MM:SS.mmm`, as WebVTT writes a cue time.
fn timestamp(ms: u64) -> String {
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    #[test]
    fn a_black_frame_is_skipped_and_a_dark_scene_is_not() {
        assert!(nearly_black(&[0u8; 300]));
        assert!(nearly_black(&[10u8; 300]));
        // A dark frame with something in it: a bright square on 10 % of it.
        let mut scene = vec![8u8; 3000];
        scene[..300].fill(220);
        assert!(!nearly_black(&scene));
        assert!(!nearly_black(&[128u8; 300]));
    }

    #[test]
    fn poster_candidates_walk_on_by_tenths_and_stop_at_the_end() {
        assert_eq!(poster_candidates(1000, Some(10_000), 3), vec![1000, 2000, 3000]);
        assert_eq!(poster_candidates(9500, Some(10_000), 3), vec![9500]);
        assert_eq!(poster_candidates(0, None, 3), vec![0]);
        assert_eq!(poster_candidates(20_000, Some(10_000), 3), vec![20_000]);
    }

    use super::*;
    use crate::media::Browsers;

    fn media(width: u32, height: u32, dar: &str, rotation: u16, duration_ms: Option<u64>) -> Media {
        Media {
            container: "mp4".into(),
            duration_ms,
            width,
            height,
            rotation,
            display_aspect_ratio: dar.into(),
            frame_rate: Some(30.0),
            bitrate: None,
            video_codec: "avc1.64001F".into(),
            audio_codec: None,
            audio_channels: None,
            audio_sample_rate: None,
            faststart: Some(true),
            browser_playable: true,
            browsers: Browsers { chromium: true, firefox: true, safari: true },
        }
    }

    #[test]
    fn a_portrait_phone_video_gets_a_portrait_poster_and_nothing_is_upscaled() {
        // An iPhone's HEVC: coded 1920x1080 with a 90° rotation → 1080 wide, 1920 tall → 720x1280.
        let iphone = media(1920, 1080, "16:9", 90, Some(12_000));
        assert_eq!(displayed(&iphone), (1080, 1920));
        assert_eq!(poster_size(&iphone), (720, 1280));
        assert_eq!(tile_size(&iphone), (90, 160));
        // 4K landscape: 1280 on the long side.
        assert_eq!(poster_size(&media(3840, 2160, "16:9", 0, None)), (1280, 720));
        // Small stays small (even-sized).
        assert_eq!(poster_size(&media(320, 240, "4:3", 0, None)), (320, 240));
        assert_eq!(poster_size(&media(64, 36, "16:9", 0, None)), (64, 36));
        // Anamorphic: 720x576 coded, shown 16:9 → 1024x576.
        assert_eq!(displayed(&media(720, 576, "16:9", 0, None)), (1024, 576));
        assert_eq!(fit((1, 1), 160), (2, 2));
    }

    #[test]
    fn the_poster_is_looked_for_at_a_tenth_of_the_duration() {
        assert_eq!(poster_time(Some(60_000)), 6_000);
        assert_eq!(poster_time(None), 0);
    }

    #[test]
    fn a_two_hour_video_gets_a_tile_every_36_seconds_in_two_sprites() {
        let board = storyboard(2 * 3_600_000, (160, 90));
        assert_eq!((board.interval_ms, board.count, board.sprites()), (36_000, 200, 2));
        assert_eq!(board.place(0), (0, 0, 0));
        assert_eq!(board.place(11), (0, 160, 90));
        assert_eq!(board.place(100), (1, 0, 0));
        let short = storyboard(6_000, (160, 120));
        assert_eq!((short.interval_ms, short.count), (1_000, 6));
        let vtt = short.vtt(6_000, |n| format!("https://cdn.example/v/storyboard-{n}.jpg?sig=x"));
        assert!(vtt.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nhttps://cdn.example/v/storyboard-0.jpg?sig=x#xywh=0,0,160,120\n"));
        assert!(vtt.ends_with(
            "00:00:05.000 --> 00:00:06.000\nhttps://cdn.example/v/storyboard-0.jpg?sig=x#xywh=800,0,160,120\n"
        ));
    }

    /// The cues of a VTT: (start, end, sprite, x, y, w, h), read back as a player reads them.
    fn cues(vtt: &str) -> Vec<(u64, u64, String, u32, u32, u32, u32)> {
        let ms = |t: &str| {
            let (hms, milli) = t.split_once('.').unwrap();
            let p: Vec<u64> = hms.split(':').map(|n| n.parse().unwrap()).collect();
            ((p[0] * 60 + p[1]) * 60 + p[2]) * 1000 + milli.parse::<u64>().unwrap()
        };
        let mut blocks = vtt.split("\n\n");
        assert_eq!(blocks.next(), Some("WEBVTT"));
        blocks
            .map(|block| {
                let (times, payload) = block.trim_end().split_once('\n').unwrap();
                let (start, end) = times.split_once(" --> ").unwrap();
                let (url, xywh) = payload.split_once("#xywh=").unwrap();
                let n: Vec<u32> = xywh.split(',').map(|n| n.parse().unwrap()).collect();
                (ms(start), ms(end), url.to_owned(), n[0], n[1], n[2], n[3])
            })
            .collect()
    }

    proptest! {
        #[test]
        fn cues_cover_the_duration_without_gaps_and_tiles_stay_in_their_sprites(
            duration_ms in 1u64..=10 * 3_600_000,
            width in 2u32..=8192,
            height in 2u32..=8192,
            rotation in prop::sample::select(vec![0u16, 90, 180, 270]),
        ) {
            let m = media(width, height, "1:1", rotation, Some(duration_ms));
            let tile = tile_size(&m);
            prop_assert!(tile.0.max(tile.1) <= TILE_LONG_SIDE);
            let poster = poster_size(&m);
            prop_assert!(poster.0.max(poster.1) <= POSTER_LONG_SIDE);
            prop_assert!(poster.0 <= displayed(&m).0.max(2) && poster.1 <= displayed(&m).1.max(2), "never upscaled");
            let board = storyboard(duration_ms, tile);
            prop_assert!(u64::from(board.count) <= MAX_TILES);
            let cues = cues(&board.vtt(duration_ms, |n| format!("s{n}.jpg")));
            prop_assert_eq!(cues.len() as u32, board.count);
            prop_assert_eq!(cues[0].0, 0);
            prop_assert_eq!(cues.last().unwrap().1, duration_ms);
            for pair in cues.windows(2) {
                prop_assert_eq!(pair[0].1, pair[1].0, "contiguous");
            }
            for (i, (start, end, sprite, x, y, w, h)) in cues.iter().enumerate() {
                prop_assert!(end > start);
                prop_assert_eq!(*start, board.time_ms(i as u32));
                prop_assert_eq!((*w, *h), tile);
                prop_assert!(x + w <= SPRITE_COLUMNS * tile.0 && y + h <= SPRITE_ROWS * tile.1);
                prop_assert_eq!(sprite, &format!("s{}.jpg", i as u32 / (SPRITE_COLUMNS * SPRITE_ROWS)));
            }
        }
    }
}
