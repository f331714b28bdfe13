//! What a function holds from Init on: its configuration and clients for exactly the ports its
//! use cases reach, each built once and shared by reference.
//!
//! [`App`] carries the object store and the credential issuer as type parameters. A function that
//! doesn't use one holds [`NotWired`] there, which implements no port, so code that would reach
//! S3 from get-video doesn't compile — and the S3 SDK isn't linked into its binary. Use cases ask
//! for capabilities ([`Records`], [`Objects`], [`Credentials`]), as the aws-lambda-rust-runtime
//! examples' handlers are generic over exactly the clients they use.

use std::sync::Arc;

use crate::Config;
use crate::cdn::UrlSigner;
use crate::credentials::{self, CredentialIssuer};
use crate::frames::Frames;
use crate::objects::ObjectStore;
use crate::store::VideoStore;
use crate::store::uploaded::UploadedMemo;

/// A port this function does not use.
#[derive(Clone, Copy, Debug, Default)]
pub struct NotWired;

/// Configuration and ports. `App` alone (the defaults) has every port: the local gateway, tests,
/// and the functions that need all three.
#[derive(Clone)]
pub struct App<O = Arc<dyn ObjectStore>, C = Arc<dyn CredentialIssuer>> {
    pub config: Arc<Config>,
    pub videos: Arc<dyn VideoStore>,
    pub objects: O,
    pub credentials: C,
    /// Uploaded records the stream route has read, kept for the function's lifetime.
    pub uploaded: Arc<UploadedMemo>,
    /// Signs CloudFront playback URLs when playback goes through the CDN.
    pub cdn: Option<Arc<UrlSigner>>,
}

/// Upload records (DynamoDB) and the settings.
pub trait Records: Send + Sync {
    fn config(&self) -> &Config;
    fn videos(&self) -> &dyn VideoStore;
    /// The CDN's URL signer, when playback goes through CloudFront ([`Config::cdn`]).
    fn cdn(&self) -> Option<&UrlSigner>;
}

/// Records and the objects themselves (S3).
pub trait Objects: Records {
    fn objects(&self) -> &dyn ObjectStore;
    fn uploaded(&self) -> &UploadedMemo;
}

/// Records, objects and a decoder for their pictures (ffmpeg): the images function.
pub trait Imaging: Objects {
    fn frames(&self) -> &dyn Frames;
}

/// An app that can also decode frames ([`Imaging`]).
#[derive(Clone)]
pub struct WithFrames<A> {
    pub app: A,
    pub frames: Arc<dyn Frames>,
}

impl<A: Records> Records for WithFrames<A> {
    fn config(&self) -> &Config {
        self.app.config()
    }

    fn videos(&self) -> &dyn VideoStore {
        self.app.videos()
    }

    fn cdn(&self) -> Option<&UrlSigner> {
        self.app.cdn()
    }
}

impl<A: Objects> Objects for WithFrames<A> {
    fn objects(&self) -> &dyn ObjectStore {
        self.app.objects()
    }

    fn uploaded(&self) -> &UploadedMemo {
        self.app.uploaded()
    }
}

impl<A: Objects> Imaging for WithFrames<A> {
    fn frames(&self) -> &dyn Frames {
        self.frames.as_ref()
    }
}

/// Records and temporary credentials (STS).
pub trait Credentials: Records {
    fn credentials(&self) -> &dyn CredentialIssuer;
}

impl<O: Send + Sync, C: Send + Sync> Records for App<O, C> {
    fn config(&self) -> &Config {
        &self.config
    }

    fn videos(&self) -> &dyn VideoStore {
        self.videos.as_ref()
    }

    fn cdn(&self) -> Option<&UrlSigner> {
        self.cdn.as_deref()
    }
}

impl<C: Send + Sync> Objects for App<Arc<dyn ObjectStore>, C> {
    fn objects(&self) -> &dyn ObjectStore {
        self.objects.as_ref()
    }

    fn uploaded(&self) -> &UploadedMemo {
        &self.uploaded
    }
}

impl<O: Send + Sync> Credentials for App<O, Arc<dyn CredentialIssuer>> {
    fn credentials(&self) -> &dyn CredentialIssuer {
        self.credentials.as_ref()
    }
}

impl App<NotWired, NotWired> {
    /// Records only: get-video, list-videos, create-playback.
    pub fn records(config: Config, videos: Arc<dyn VideoStore>) -> Self {
        Self {
            config: Arc::new(config),
            videos,
            objects: NotWired,
            credentials: NotWired,
            uploaded: Arc::default(),
            cdn: None,
        }
    }
}

impl<O, C> App<O, C> {
    /// This app with a frame decoder: what the images function holds.
    pub fn with_frames(self, frames: Arc<dyn Frames>) -> WithFrames<Self> {
        WithFrames { app: self, frames }
    }

    /// Playback URLs signed for the CDN by `signer` (from `vidgate_aws::cdn::load_signer`).
    pub fn with_cdn(mut self, signer: Option<UrlSigner>) -> Self {
        self.cdn = signer.map(Arc::new);
        self
    }

    pub fn with_objects(self, objects: Arc<dyn ObjectStore>) -> App<Arc<dyn ObjectStore>, C> {
        App {
            config: self.config,
            videos: self.videos,
            objects,
            credentials: self.credentials,
            uploaded: self.uploaded,
            cdn: self.cdn,
        }
    }

    pub fn with_credentials(self, issuer: Arc<dyn CredentialIssuer>) -> App<O, Arc<dyn CredentialIssuer>> {
        App {
            config: self.config,
            videos: self.videos,
            objects: self.objects,
            credentials: issuer,
            uploaded: self.uploaded,
            cdn: self.cdn,
        }
    }
}

impl App {
    /// Every port, credentials disabled until [`App::with_credentials`].
    pub fn new(config: Config, videos: Arc<dyn VideoStore>, objects: Arc<dyn ObjectStore>) -> Self {
        App::records(config, videos)
            .with_objects(objects)
            .with_credentials(Arc::new(credentials::fixed::Disabled))
    }
}
