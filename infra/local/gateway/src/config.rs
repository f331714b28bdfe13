//! The local stack's settings: one list of defaults, what `vidgate-local up` runs with when a
//! variable is unset and what the integration tests build their configuration from, so the stack
//! a newcomer starts and the stack the tests start serve the same routes.

use vidgate::Config;
use vidgate::config::ConfigError;

/// The uploader role of local stacks and tests (moto's STS assumes any role).
pub const LOCAL_UPLOADER_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/vidgate-uploader";

/// The playback secret of local stacks and tests; never for a deployment.
pub const LOCAL_PLAYBACK_SECRET: &str = "vidgate-local-playback-secret-not-for-aws";

/// The bucket and table `vidgate-local up` creates when none is named.
pub const LOCAL_BUCKET: &str = "vidgate-local";
pub const LOCAL_TABLE: &str = "vidgate-local-videos";
/// The EventBridge bus (moto's) the local stack publishes lifecycle events to.
pub const LOCAL_EVENT_BUS: &str = "vidgate-local-events";

/// The one list of local defaults: what `vidgate-local up` runs with when a variable is unset,
/// and what tests build their configuration from, so the stack a newcomer starts and the stack
/// the tests start serve the same routes (credentials mode included).
pub fn local_default(name: &str) -> Option<&'static str> {
    Some(match name {
        "VIDGATE_BUCKET" => LOCAL_BUCKET,
        "VIDGATE_TABLE" => LOCAL_TABLE,
        // moto serves no per-bucket host names.
        "VIDGATE_S3_PATH_STYLE" => "true",
        "VIDGATE_PLAYBACK_SECRET" => LOCAL_PLAYBACK_SECRET,
        "VIDGATE_UPLOADER_ROLE_ARN" => LOCAL_UPLOADER_ROLE_ARN,
        "VIDGATE_EVENT_BUS" => LOCAL_EVENT_BUS,
        // Short, so app developers and tests see uploads complete without their client.
        "VIDGATE_AUTOCOMPLETE_IDLE_SECS" => "5",
        _ => return None,
    })
}

/// The local stack's configuration: each setting from `get` (the environment), else its
/// [`local_default`].
pub fn local(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    Config::from_lookup(|name| get(name).or_else(|| local_default(name).map(str::to_owned)))
}

/// The local defaults with another bucket and table, for tests and local tools.
pub fn for_local(bucket: &str, table: &str) -> Config {
    local(|name| match name {
        "VIDGATE_BUCKET" => Some(bucket.to_owned()),
        "VIDGATE_TABLE" => Some(table.to_owned()),
        _ => None,
    })
    .expect("local defaults are valid")
}

#[cfg(test)]
mod tests {
    use vidgate::function::{self, Function};

    use super::*;

    #[test]
    fn local_defaults_enable_every_function_and_yield_to_the_environment() {
        let config = local(|_| None).unwrap();
        assert_eq!((config.bucket.as_str(), config.table.as_str()), (LOCAL_BUCKET, LOCAL_TABLE));
        for f in Function::ALL {
            assert!(function::check(config.clone(), f).is_ok(), "{}", f.name());
        }
        assert_eq!(config.uploader_role_arn.as_deref(), Some(LOCAL_UPLOADER_ROLE_ARN));
        let tests = for_local("b", "t");
        assert_eq!(tests.uploader_role_arn, config.uploader_role_arn);
        assert_eq!(tests.playback_secret, config.playback_secret);
        let set =
            local(|name| (name == "VIDGATE_UPLOADER_ROLE_ARN").then(|| "arn:aws:iam::1:role/x".to_owned()))
                .unwrap();
        assert_eq!(set.uploader_role_arn.as_deref(), Some("arn:aws:iam::1:role/x"));
    }
}
