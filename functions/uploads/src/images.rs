//! Making a video's pictures: its poster and its storyboard's sprites, stored beside it under
//! `images/<owner hash>/<video id>/` (`keys::images_prefix`), and the record's `images` saying
//! what was made. Decoding is the [`Frames`](crate::frames::Frames) port's (ffmpeg).
//!
//! Every run answers one request: the `Video Uploaded` event (images `pending` at `rev` 0), or an
//! owner's `POST …/poster` (`pending` again, `rev` + 1). The result is written only if the
//! record is still at that request, so a redelivered event, a slow run overtaken by a later
//! request or a delete in between can't put back what no longer holds. Object keys are fixed by
//! what they show (the poster's moment, the sprite's number) and written only where none exists,
//! so a redelivered event makes no second set.

use vidgate_domain::images::{self, Images, ImagesStatus, Poster, SPRITE_COLUMNS, SPRITE_ROWS, Storyboard};
use vidgate_domain::keys;
use vidgate_domain::media::Media;
use vidgate_domain::time;
use vidgate_domain::{Status, Video, VideoId};

use crate::UploadError;
use crate::app::{Imaging, Records};
use crate::frames::{Frame, FrameError, FrameRequest, FrameSession, Seek, Source};
use crate::objects::ObjectError;
use crate::store::StoreError;

/// Moments tried for a default poster before settling for a dark one.
pub const POSTER_TRIES: usize = 4;

/// What one run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImagesRun {
    /// The record now says `ready` or `failed` (with why).
    Done(Box<Video>),
    /// Nothing to do, and why.
    Ignored(&'static str),
}

/// Why a run made no images: the record says `failed` with it, or (unavailable) the request
/// comes back later.
enum Stop {
    Failed(String),
    Retry(UploadError),
}

impl From<FrameError> for Stop {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::Unavailable(why) => Stop::Retry(UploadError::Objects(ObjectError::Unavailable(why))),
            other => Stop::Failed(other.to_string()),
        }
    }
}

impl From<ObjectError> for Stop {
    fn from(e: ObjectError) -> Self {
        Stop::Retry(UploadError::Objects(e))
    }
}

/// Makes what video `id`'s pending images request asks for.
pub async fn make_images(app: &impl Imaging, id: &VideoId) -> Result<ImagesRun, UploadError> {
    let Some(video) = app.videos().get(id).await? else { return Ok(ImagesRun::Ignored("no such video")) };
    if video.status != Status::Uploaded {
        return Ok(ImagesRun::Ignored("the video is not uploaded"));
    }
    let asked = match video.images.clone() {
        Some(images) if images.is_pending() => images,
        Some(_) => return Ok(ImagesRun::Ignored("its images were already made")),
        None => return Ok(ImagesRun::Ignored("no images were asked for")),
    };
    let next = match render(app, &video, &asked).await {
        Ok(next) => next,
        Err(Stop::Failed(reason)) => {
            tracing::warn!(video = %video.id, reason, "no images");
            Images { status: ImagesStatus::Failed, reason: Some(reason), poster_at: None, ..asked.clone() }
        }
        Err(Stop::Retry(e)) => return Err(e),
    };
    match app.videos().set_images(&video, Some(asked.rev), &next, time::now()).await {
        Ok(done) => {
            // A chosen poster replaces the one before it.
            if let (Some(old), Some(new)) = (asked.poster, next.poster)
                && old.time_ms != new.time_ms
            {
                app.objects().delete(&keys::poster_key(&video.owner, &video.id, old.time_ms)).await?;
            }
            Ok(ImagesRun::Done(Box::new(done)))
        }
        Err(StoreError::ConditionFailed) => {
            // Deleted meanwhile (its pictures go too), or asked again (that run writes).
            let now = app.videos().get(id).await?;
            if now.is_none_or(|v| v.status != Status::Uploaded) {
                app.objects().clear_prefix(&keys::images_prefix(&video.owner, &video.id)).await?;
            }
            Ok(ImagesRun::Ignored("the video changed while its images were made"))
        }
        Err(e) => Err(e.into()),
    }
}

/// The owner asks for the poster at `time_ms`: the images go `pending` again (what was made is
/// still shown) and make-images hears of it from the `Video Images Requested` event. A video
/// uploaded before images existed gets its storyboard too.
pub async fn choose_poster(app: &impl Records, video: Video, time_ms: u64) -> Result<Video, UploadError> {
    if video.status != Status::Uploaded {
        return Err(crate::not_uploading(video.status));
    }
    let duration = video.media.as_ref().and_then(|m| m.duration_ms);
    if let Some(duration) = duration.filter(|d| time_ms >= *d) {
        return Err(UploadError::invalid(
            "time_out_of_range",
            format!("timeMs must be less than the video's duration, {duration} ms"),
        ));
    }
    let asked = match &video.images {
        Some(images) => images.request_poster(time_ms),
        None => Images { poster_at: Some(time_ms), ..Images::pending() },
    };
    let rev = video.images.as_ref().map(|i| i.rev);
    match app.videos().set_images(&video, rev, &asked, time::now()).await {
        Ok(video) => Ok(video),
        Err(StoreError::ConditionFailed) => Err(UploadError::conflict(
            "images_changed",
            "the video's images changed while this request was made; ask again",
        )),
        Err(e) => Err(e.into()),
    }
}

/// The images `asked` calls for: a poster (unless one exists and no other moment was asked
/// for) and a storyboard (unless one exists, or the duration is unknown).
async fn render(app: &impl Imaging, video: &Video, asked: &Images) -> Result<Images, Stop> {
    let Some(media) = video.media.as_deref() else {
        return Err(Stop::Failed(
            "vidgate reads no header of this container, so it makes no pictures of it".into(),
        ));
    };
    let source =
        Source { key: video.key.clone(), version: video.version_id.clone(), size: video.size.unwrap_or(0) };
    let session = app.frames().open(source).await?;
    let mut made = Images { status: ImagesStatus::Ready, reason: None, poster_at: None, ..asked.clone() };
    if asked.poster.is_none() || asked.poster_at.is_some() {
        let frame = poster_frame(session.as_ref(), media, asked.poster_at).await?;
        let jpeg = app.frames().jpeg(frame.width, frame.height, &frame.rgb).await?;
        put_once(app, &keys::poster_key(&video.owner, &video.id, frame.time_ms), jpeg).await?;
        made.poster = Some(Poster { time_ms: frame.time_ms, width: frame.width, height: frame.height });
    }
    if let (None, Some(duration)) = (asked.storyboard, media.duration_ms.filter(|d| *d > 0)) {
        let storyboard = images::storyboard(duration, images::tile_size(media));
        for (n, sprite) in sprites(session.as_ref(), &storyboard).await?.into_iter().enumerate() {
            let (width, height) = sprite_size(&storyboard, n as u32);
            let jpeg = app.frames().jpeg(width, height, &sprite).await?;
            put_once(app, &keys::sprite_key(&video.owner, &video.id, n as u32), jpeg).await?;
        }
        made.storyboard = Some(storyboard);
    }
    tracing::info!(video = %video.id, bytes_read = session.bytes_read(), "images made");
    Ok(made)
}

/// Writes a picture where none is; one already there (a redelivered request's) is the same one.
async fn put_once(app: &impl Imaging, key: &str, jpeg: Vec<u8>) -> Result<(), Stop> {
    match app.objects().put_new(key, "image/jpeg", jpeg).await {
        Ok(()) | Err(ObjectError::AlreadyExists) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The frame at the chosen moment; by default the first keyframe at or after 10 % of the video
/// that is not nearly black (or, if every one tried is, the first).
async fn poster_frame(session: &dyn FrameSession, media: &Media, chosen: Option<u64>) -> Result<Frame, Stop> {
    let (width, height) = images::poster_size(media);
    if let Some(at_ms) = chosen {
        return Ok(session.frame(FrameRequest { at_ms, seek: Seek::Exact, width, height }).await?);
    }
    let mut first = None;
    let start = images::poster_time(media.duration_ms);
    for at_ms in images::poster_candidates(start, media.duration_ms, POSTER_TRIES) {
        let frame =
            match session.frame(FrameRequest { at_ms, seek: Seek::KeyframeAfter, width, height }).await {
                Ok(frame) => frame,
                // No keyframe after this moment: what was found before, or the very first frame.
                Err(FrameError::NoFrame(_)) => break,
                Err(e) => return Err(e.into()),
            };
        if !images::nearly_black(&frame.rgb) {
            return Ok(frame);
        }
        first.get_or_insert(frame);
    }
    match first {
        Some(frame) => Ok(frame),
        None => {
            Ok(session.frame(FrameRequest { at_ms: 0, seek: Seek::KeyframeAfter, width, height }).await?)
        }
    }
}

/// Sprite `n`'s size: full rows of [`SPRITE_COLUMNS`] tiles (one row if fewer), as many rows as
/// its tiles fill.
fn sprite_size(storyboard: &Storyboard, n: u32) -> (u32, u32) {
    let per_sprite = SPRITE_COLUMNS * SPRITE_ROWS;
    let tiles = storyboard.count.saturating_sub(n * per_sprite).min(per_sprite);
    let columns = tiles.min(SPRITE_COLUMNS);
    (columns * storyboard.tile_width, tiles.div_ceil(SPRITE_COLUMNS) * storyboard.tile_height)
}

/// Every tile, placed in its sprite: the frame at each cue's start (the last one found stands
/// in for a moment past the last frame).
async fn sprites(session: &dyn FrameSession, storyboard: &Storyboard) -> Result<Vec<Vec<u8>>, Stop> {
    let (tw, th) = (storyboard.tile_width, storyboard.tile_height);
    let mut sprites: Vec<Vec<u8>> = (0..storyboard.sprites())
        .map(|n| {
            let (w, h) = sprite_size(storyboard, n);
            vec![0; (w * h * 3) as usize]
        })
        .collect();
    let mut last: Option<Frame> = None;
    for i in 0..storyboard.count {
        let request = FrameRequest { at_ms: storyboard.time_ms(i), seek: Seek::Exact, width: tw, height: th };
        let tile = match session.frame(request).await {
            Ok(frame) => frame,
            Err(FrameError::NoFrame(at)) => {
                last.clone().ok_or(Stop::Failed(format!("no frame at or after {at} ms")))?
            }
            Err(e) => return Err(e.into()),
        };
        let (n, x, y) = storyboard.place(i);
        let (width, _) = sprite_size(storyboard, n);
        let sprite = &mut sprites[n as usize];
        for row in 0..th {
            let from = (row * tw * 3) as usize;
            let to = (((y + row) * width + x) * 3) as usize;
            sprite[to..to + (tw * 3) as usize].copy_from_slice(&tile.rgb[from..from + (tw * 3) as usize]);
        }
        last = Some(tile);
    }
    Ok(sprites)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::app::Records;
    use crate::frames::memory::{PaintedFrames, Painting};
    use crate::objects::memory::MemoryObjectStore;
    use crate::store::memory::MemoryVideoStore;
    use crate::{App, Config};
    use vidgate_domain::Status;

    /// A portrait phone video: 1080p turned 90°.
    fn media(duration_ms: u64) -> Media {
        Media { rotation: 90, ..vidgate_domain::fixtures::media(duration_ms) }
    }

    struct Given {
        app: crate::app::WithFrames<App>,
        objects: Arc<MemoryObjectStore>,
        frames: Arc<PaintedFrames>,
        video: Video,
    }

    async fn uploaded(painting: Painting) -> Given {
        let objects = Arc::new(MemoryObjectStore::new());
        let frames = Arc::new(PaintedFrames::new(painting));
        let app = App::new(Config::for_tests(), Arc::new(MemoryVideoStore::new()), objects.clone())
            .with_frames(frames.clone());
        let mut video = vidgate_domain::fixtures::video("alice");
        video.status = Status::Uploaded;
        video.size = Some(1000);
        video.media = Some(Box::new(media(painting.duration_ms)));
        video.images = Some(Images::pending());
        app.videos().insert(&video).await.unwrap();
        Given { app, objects, frames, video }
    }

    fn keys_under(objects: &MemoryObjectStore, video: &Video) -> Vec<String> {
        let prefix = keys::images_prefix(&video.owner, &video.id);
        objects.keys().into_iter().filter(|k| k.starts_with(&prefix)).collect()
    }

    #[tokio::test]
    async fn an_uploaded_video_gets_a_portrait_poster_past_a_black_opening_and_a_storyboard_once() {
        // 200 s, keyframes every 2 s, black for the first 25 s (the 10 % mark is 20 s).
        let given =
            uploaded(Painting { duration_ms: 200_000, keyframe_ms: 2000, dark_until_ms: 25_000 }).await;
        let ImagesRun::Done(done) = make_images(&given.app, &given.video.id).await.unwrap() else { panic!() };
        let images = done.images.clone().unwrap();
        assert_eq!(images.status, ImagesStatus::Ready);
        // 20 s was black; the next candidate, a tenth later (40 s), is not. Portrait: rotated.
        let poster = images.poster.unwrap();
        assert_eq!((poster.time_ms, poster.width, poster.height), (40_000, 720, 1280));
        let storyboard = images.storyboard.unwrap();
        assert_eq!((storyboard.interval_ms, storyboard.count), (1000, 200));
        assert_eq!((storyboard.tile_width, storyboard.tile_height), (90, 160));
        let mut keys = keys_under(&given.objects, &given.video);
        keys.sort();
        let prefix = keys::images_prefix(&given.video.owner, &given.video.id);
        assert_eq!(
            keys,
            [
                format!("{prefix}poster-40000.jpg"),
                format!("{prefix}storyboard-0.jpg"),
                format!("{prefix}storyboard-1.jpg")
            ]
        );
        // Sprite 1 holds tiles 100..200 (10 rows of 10 tiles 90 wide), and starts with the one
        // at 100 s.
        let sprite = given.objects.bytes(&format!("{prefix}storyboard-1.jpg")).unwrap();
        assert_eq!(&sprite[2..10], [900u32.to_be_bytes(), 1600u32.to_be_bytes()].concat());
        assert_eq!(sprite[10], PaintedFrames::level(100_000));
        let stored = given.app.videos().get(&given.video.id).await.unwrap().unwrap();
        assert_eq!(stored.images, done.images);

        // Redelivered: nothing more is decoded or written.
        let asked = given.frames.requests().len();
        assert_eq!(
            make_images(&given.app, &given.video.id).await.unwrap(),
            ImagesRun::Ignored("its images were already made")
        );
        assert_eq!(given.frames.requests().len(), asked);
        assert_eq!(keys_under(&given.objects, &given.video).len(), 3);
    }

    #[tokio::test]
    async fn a_chosen_moment_replaces_the_poster_and_keeps_the_storyboard() {
        let given = uploaded(Painting { duration_ms: 60_000, keyframe_ms: 1000, dark_until_ms: 0 }).await;
        make_images(&given.app, &given.video.id).await.unwrap();
        let before = given.app.videos().get(&given.video.id).await.unwrap().unwrap();
        let old = before.images.clone().unwrap();
        let err = choose_poster(&given.app, before.clone(), 60_000).await.unwrap_err();
        assert!(matches!(&err, UploadError::Invalid(i) if i.code == "time_out_of_range"), "{err}");
        let asked = choose_poster(&given.app, before.clone(), 12_500).await.unwrap().images.unwrap();
        assert_eq!(
            (asked.status, asked.poster_at, asked.rev),
            (ImagesStatus::Pending, Some(12_500), old.rev + 1)
        );
        assert_eq!(asked.poster, old.poster, "the old poster is shown until the new one is made");
        // Asked with a stale record: refused, nothing changed.
        let err = choose_poster(&given.app, before.clone(), 1_000).await.unwrap_err();
        assert!(matches!(err, UploadError::Conflict { code: "images_changed", .. }), "{err}");
        let ImagesRun::Done(done) = make_images(&given.app, &given.video.id).await.unwrap() else { panic!() };
        let images = done.images.unwrap();
        assert_eq!(images.status, ImagesStatus::Ready);
        assert_eq!(images.poster.unwrap().time_ms, 12_500, "exactly the moment asked for");
        assert_eq!(images.storyboard, old.storyboard);
        assert_eq!(images.poster_at, None);
        let prefix = keys::images_prefix(&given.video.owner, &given.video.id);
        let keys = keys_under(&given.objects, &given.video);
        assert!(keys.contains(&format!("{prefix}poster-12500.jpg")), "{keys:?}");
        assert!(!keys.contains(&format!("{prefix}poster-{}.jpg", old.poster.unwrap().time_ms)), "{keys:?}");
        let poster = given.objects.bytes(&format!("{prefix}poster-12500.jpg")).unwrap();
        assert_eq!(poster[10], PaintedFrames::level(12_500));
    }

    #[tokio::test]
    async fn an_undecodable_video_keeps_uploaded_and_its_images_say_why() {
        let given = uploaded(Painting { duration_ms: 10_000, keyframe_ms: 1000, dark_until_ms: 0 }).await;
        given.frames.undecodable(&given.video.key);
        let ImagesRun::Done(done) = make_images(&given.app, &given.video.id).await.unwrap() else { panic!() };
        assert_eq!(done.status, Status::Uploaded);
        let images = done.images.unwrap();
        assert_eq!(images.status, ImagesStatus::Failed);
        assert!(images.reason.unwrap().contains("Invalid data"));
        assert!(keys_under(&given.objects, &given.video).is_empty());
    }

    #[tokio::test]
    async fn a_deleted_video_gets_no_images_and_a_stale_answer_loses() {
        let given = uploaded(Painting { duration_ms: 10_000, keyframe_ms: 1000, dark_until_ms: 0 }).await;
        let video = given.video.clone();
        given.app.videos().bury(&video, time::now()).await.unwrap();
        assert_eq!(
            make_images(&given.app, &video.id).await.unwrap(),
            ImagesRun::Ignored("the video is not uploaded")
        );
        assert!(given.frames.requests().is_empty());
        // A run answering request 0 after request 1 was made writes nothing.
        let given = uploaded(Painting { duration_ms: 10_000, keyframe_ms: 1000, dark_until_ms: 0 }).await;
        let images = given.video.images.clone().unwrap();
        let later = images.request_poster(1000);
        given.app.videos().set_images(&given.video, Some(0), &later, time::now()).await.unwrap();
        // A stale run answering rev 0 loses.
        let stale = Images { status: ImagesStatus::Ready, ..images };
        assert!(matches!(
            given.app.videos().set_images(&given.video, Some(0), &stale, time::now()).await,
            Err(StoreError::ConditionFailed)
        ));
    }

    #[tokio::test]
    async fn a_delete_takes_the_pictures_with_it_and_an_erasure_takes_stray_ones() {
        let given = uploaded(Painting { duration_ms: 10_000, keyframe_ms: 1000, dark_until_ms: 0 }).await;
        make_images(&given.app, &given.video.id).await.unwrap();
        assert_eq!(keys_under(&given.objects, &given.video).len(), 2);
        let stored = given.app.videos().get(&given.video.id).await.unwrap().unwrap();
        let buried = crate::delete(&given.app, stored).await.unwrap();
        assert_eq!(buried.images, None);
        assert!(keys_under(&given.objects, &given.video).is_empty());
        // A picture no record shows (a delete that died half-way) goes with its owner.
        let stray = keys::poster_key(&given.video.owner, &VideoId::new(), 0);
        given.objects.put_object(&stray, vec![0xFF, 0xD8]);
        crate::erase_owner(&given.app, &given.video.owner, 10).await.unwrap();
        assert!(given.objects.bytes(&stray).is_none());
    }

    #[tokio::test]
    async fn a_video_uploaded_before_images_gets_both_when_a_poster_is_chosen() {
        let given = uploaded(Painting { duration_ms: 10_000, keyframe_ms: 1000, dark_until_ms: 0 }).await;
        let mut old = given.video.clone();
        old.id = VideoId::new();
        old.images = None;
        given.app.videos().insert(&old).await.unwrap();
        assert_eq!(
            make_images(&given.app, &old.id).await.unwrap(),
            ImagesRun::Ignored("no images were asked for")
        );
        choose_poster(&given.app, old.clone(), 3_000).await.unwrap();
        let ImagesRun::Done(done) = make_images(&given.app, &old.id).await.unwrap() else { panic!() };
        let images = done.images.unwrap();
        assert_eq!(images.poster.unwrap().time_ms, 3_000);
        assert_eq!(images.storyboard.unwrap().count, 10);
        let rejected = Video { status: Status::Rejected, ..old };
        assert!(matches!(choose_poster(&given.app, rejected, 0).await, Err(UploadError::Conflict { .. })));
    }

    #[tokio::test]
    async fn a_video_without_media_facts_fails_with_the_reason() {
        let given = uploaded(Painting { duration_ms: 10_000, keyframe_ms: 1000, dark_until_ms: 0 }).await;
        let mut video = given.video.clone();
        video.id = VideoId::new();
        video.media = None;
        given.app.videos().insert(&video).await.unwrap();
        let ImagesRun::Done(done) = make_images(&given.app, &video.id).await.unwrap() else { panic!() };
        assert!(done.images.unwrap().reason.unwrap().contains("no header"));
    }

    #[test]
    fn sprites_are_as_wide_as_their_tiles_need() {
        let sb = Storyboard { interval_ms: 1000, tile_width: 160, tile_height: 90, count: 105 };
        assert_eq!(sprite_size(&sb, 0), (1600, 900));
        assert_eq!(sprite_size(&sb, 1), (800, 90));
        let few = Storyboard { count: 3, ..sb };
        assert_eq!(sprite_size(&few, 0), (480, 90));
    }
}
