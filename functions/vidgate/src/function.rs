//! Every deployable function, listed once: the table below gives each its name (its binary's, and
//! in CamelCase its SAM resource's), its kind (behind a route, or invoked by an event) and whether
//! it unwinds on panic. The router, the template tests, the binaries in `src/bin/` and
//! `infra/build-functions` all read it.

use vidgate_uploads::Config;
use vidgate_uploads::config::ConfigError;

/// The one list. `unwind` marks the functions that can reach the media probe
/// (`vidgate_uploads::probe`), which catches a container parser's panic on a malformed upload and
/// rejects the video; `infra/build-functions` builds exactly these with `panic = "unwind"` (and
/// `opt-level = "z"`, to stay under 8 MB) and the rest with `abort`, which is smaller.
macro_rules! functions {
    (
        http { $($h:ident = $hname:literal, $hpanic:ident;)* }
        event { $($e:ident = $ename:literal, $epanic:ident;)* }
    ) => {
        /// A function API Gateway invokes; [`EventFunction`] is a different type, so HTTP
        /// dispatch never meets one.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum HttpFunction { $($h,)* }

        /// A function that is not behind a route.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum EventFunction { $($e,)* }

        impl HttpFunction {
            pub const ALL: [HttpFunction; [$($hname),*].len()] = [$(HttpFunction::$h,)*];

            /// The kebab-case name: `create-upload`.
            pub fn name(self) -> &'static str {
                match self { $(HttpFunction::$h => $hname,)* }
            }

            fn unwinds(self) -> bool {
                match self { $(HttpFunction::$h => functions!(@unwinds $hpanic),)* }
            }
        }

        impl EventFunction {
            pub const ALL: [EventFunction; [$($ename),*].len()] = [$(EventFunction::$e,)*];

            pub fn name(self) -> &'static str {
                match self { $(EventFunction::$e => $ename,)* }
            }

            fn unwinds(self) -> bool {
                match self { $(EventFunction::$e => functions!(@unwinds $epanic),)* }
            }
        }

        impl Function {
            pub const ALL: [Function; [$($hname,)* $($ename),*].len()] =
                [$(Function::Http(HttpFunction::$h),)* $(Function::Event(EventFunction::$e),)*];
        }
    };
    (@unwinds unwind) => { true };
    (@unwinds abort) => { false };
}

functions! {
    http {
        CreateUpload = "create-upload", abort;
        SignParts = "sign-parts", unwind;
        ListParts = "list-parts", unwind;
        CompleteUpload = "complete-upload", unwind;
        AbortUpload = "abort-upload", unwind;
        ListVideos = "list-videos", abort;
        GetVideo = "get-video", abort;
        DeleteVideo = "delete-video", abort;
        StreamVideo = "stream-video", abort;
        CreatePlayback = "create-playback", abort;
        SetPoster = "set-poster", abort;
        IssueCredentials = "issue-credentials", abort;
        SignRequest = "sign-request", abort;
        CreateUploadLink = "create-upload-link", abort;
    }
    event {
        OnObjectCreated = "on-object-created", unwind;
        ExpireUploads = "expire-uploads", unwind;
        PublishEvents = "publish-events", abort;
        EraseOwner = "erase-owner", abort;
        MakeImages = "make-images", abort;
        DeliverWebhooks = "deliver-webhooks", abort;
    }
}

/// One Lambda function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    Http(HttpFunction),
    Event(EventFunction),
}

impl Function {
    /// The kebab-case name: `create-upload`.
    pub fn name(self) -> &'static str {
        match self {
            Function::Http(f) => f.name(),
            Function::Event(f) => f.name(),
        }
    }

    /// Whether it must be built with `panic = "unwind"` (it can reach the media probe).
    pub fn unwinds(self) -> bool {
        match self {
            Function::Http(f) => f.unwinds(),
            Function::Event(f) => f.unwinds(),
        }
    }
}

impl From<HttpFunction> for Function {
    fn from(f: HttpFunction) -> Self {
        Function::Http(f)
    }
}

impl From<EventFunction> for Function {
    fn from(f: EventFunction) -> Self {
        Function::Event(f)
    }
}

/// The configuration `function` needs, from the environment, failing at Init on what that
/// function would miss.
pub fn config_from_env(function: impl Into<Function>) -> Result<Config, ConfigError> {
    check(Config::from_env()?, function)
}

/// `config`, if it has what `function` needs; and a probing function built to abort on panic
/// refuses to start, since a malformed upload would take it down on every retry.
pub fn check(config: Config, function: impl Into<Function>) -> Result<Config, ConfigError> {
    let function = function.into();
    if function.unwinds() && cfg!(panic = "abort") {
        return Err(ConfigError::Invalid {
            name: "panic strategy",
            reason: format!("{} reads uploads and must be built with panic = \"unwind\"", function.name()),
        });
    }
    // create-playback signs video URLs with the CDN's key when there is one, but images tokens
    // (the storyboard) always with the secret.
    let needs_secret = matches!(
        function,
        Function::Http(HttpFunction::StreamVideo) | Function::Http(HttpFunction::CreatePlayback)
    );
    if needs_secret && config.playback_secret.is_none() && config.playback_secret_name.is_none() {
        return Err(ConfigError::Missing("VIDGATE_PLAYBACK_SECRET"));
    }
    if function == Function::Http(HttpFunction::IssueCredentials) && config.uploader_role_arn.is_none() {
        return Err(ConfigError::Missing("VIDGATE_UPLOADER_ROLE_ARN"));
    }
    if function == Function::Event(EventFunction::PublishEvents) && config.event_bus.is_none() {
        return Err(ConfigError::Missing("VIDGATE_EVENT_BUS"));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use vidgate_uploads::config::{CdnSettings, PrivateKeySource};

    use super::*;

    #[test]
    fn all_lists_every_function_once() {
        let names: BTreeSet<&str> = Function::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(names.len(), HttpFunction::ALL.len() + EventFunction::ALL.len());
    }

    #[test]
    fn every_function_has_a_binary_of_its_name_and_no_binary_is_extra() {
        let bins = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/bin")).unwrap();
        let bins: BTreeSet<String> = bins
            .map(|e| e.unwrap().file_name().to_string_lossy().trim_end_matches(".rs").to_owned())
            .collect();
        let names: BTreeSet<String> = Function::ALL.iter().map(|f| f.name().to_owned()).collect();
        assert_eq!(bins, names);
    }

    #[test]
    fn the_build_script_unwinds_exactly_the_probing_functions() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/build-functions");
        let out = std::process::Command::new(script).arg("--unwinding").output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let listed: BTreeSet<String> =
            String::from_utf8(out.stdout).unwrap().split_whitespace().map(str::to_owned).collect();
        let unwinding: BTreeSet<String> =
            Function::ALL.iter().filter(|f| f.unwinds()).map(|f| f.name().to_owned()).collect();
        assert_eq!(listed, unwinding);
        assert!(unwinding.contains("on-object-created") && !unwinding.contains("get-video"));
    }

    #[test]
    fn the_test_settings_start_every_function() {
        for f in Function::ALL {
            assert!(check(Config::for_tests(), f).is_ok(), "{}", f.name());
        }
    }

    #[test]
    fn the_playback_functions_need_the_secret_and_issue_credentials_the_role() {
        let bare = Config { playback_secret: None, playback_secret_name: None, ..Config::for_tests() };
        assert!(check(bare.clone(), HttpFunction::CreateUpload).is_ok());
        let err = check(bare.clone(), HttpFunction::StreamVideo).unwrap_err();
        assert!(err.to_string().contains("VIDGATE_PLAYBACK_SECRET"), "{err}");
        assert!(check(bare.clone(), HttpFunction::CreatePlayback).is_err());
        // Through the CDN too: create-playback signs images tokens, the stream route checks tokens.
        let cdn = CdnSettings {
            url: "https://d111111abcdef8.cloudfront.net".into(),
            key_pair_id: "K2JCJMDEHXQW5F".into(),
            private_key: PrivateKeySource::Secret("vidgate/cdn-key".into()),
        };
        let through_cdn = Config { cdn: Some(cdn), ..bare };
        // It signs the storyboard's images tokens with the secret, CDN or not.
        assert!(check(through_cdn.clone(), HttpFunction::CreatePlayback).is_err());
        assert!(check(through_cdn, HttpFunction::StreamVideo).is_err());
        let no_role = Config { uploader_role_arn: None, ..Config::for_tests() };
        let err = check(no_role, HttpFunction::IssueCredentials).unwrap_err();
        assert!(err.to_string().contains("VIDGATE_UPLOADER_ROLE_ARN"), "{err}");
    }
}
