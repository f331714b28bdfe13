//! The route table: the single list of routes and the function serving each.
//!
//! The local gateway serves exactly this table; tests check `template.yaml` and `openapi.yaml`
//! against it, so there is no second hand-kept list to drift.

pub use crate::function::HttpFunction;

impl HttpFunction {
    /// The operation it serves when the route key names none of its routes (a test event, or a
    /// gateway route wired to the wrong function): its first route in the table.
    pub fn primary(self) -> Operation {
        ROUTES.iter().find(|r| r.function() == self).map(|r| r.operation).expect("every function has a route")
    }
}

/// How a route authenticates its callers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// API Gateway's JWT authorizer; the handler reads the `sub` claim it vouched for.
    Jwt,
    /// No authorizer: the URL carries a playback token the handler checks (a `<video>` tag can't
    /// send an `Authorization` header).
    PlaybackToken,
    /// The JWT authorizer, and the token must carry the upload-link scope
    /// (`Config::upload_link_scope`): an app's backend, never an end user.
    BackendJwt,
    /// No authorizer: the path carries an upload link's token, which the handler checks.
    LinkToken,
}

/// Which protocol a route speaks: the same functions serve all three.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// vidgate's own `/v1` API.
    V1,
    /// Uppy Companion's S3 protocol (`/s3/...`), for `@uppy/aws-s3` 5.x and other Companion
    /// clients.
    Companion,
    /// What `@uppy/aws-s3` 6.x asks of a backend (`/uppy/...`): its `signRequest` and
    /// `getCredentials` callbacks, each one `fetch` with the caller's JWT.
    Uppy,
}

/// What one route does: one variant per route (the two stream methods and Companion's two
/// part-signing shapes share one), so dispatch is one exhaustive `match` with no arm for a
/// combination that can't occur.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    CreateUpload,
    SignParts,
    ListParts,
    CompleteUpload,
    AbortUpload,
    ListVideos,
    GetVideo,
    DeleteVideo,
    StreamVideo,
    CreatePlayback,
    /// `GET /v1/videos/{videoId}/storyboard.vtt`: the WebVTT of seek previews (images token).
    GetStoryboard,
    /// `GET /v1/videos/{videoId}/images/{name}`: the poster or a sprite (images token).
    GetImage,
    /// `POST /v1/videos/{videoId}/poster`: another moment for the poster.
    SetPoster,
    IssueCredentials,
    /// `GET /s3/params`: one presigned `PUT`.
    CompanionParams,
    /// `POST /s3/multipart`.
    CompanionCreateMultipart,
    /// `GET /s3/multipart/{uploadId}/{partNumber}` and `.../batch`.
    CompanionSignParts,
    CompanionListParts,
    CompanionComplete,
    CompanionAbort,
    /// `GET /s3/sts`.
    CompanionSts,
    /// `POST /uppy/sign`.
    UppySign,
    /// `POST /v1/upload-links`: an app's backend asks for a link.
    CreateUploadLink,
    /// `GET /v1/links/{token}`: the link and the upload it started.
    GetLink,
    /// `POST /v1/links/{token}/upload`: the link's one upload starts.
    StartLinkUpload,
    /// `POST /v1/links/{token}/part-urls`.
    SignLinkParts,
    /// `POST /v1/links/{token}/complete`.
    CompleteLinkUpload,
    /// `GET /uppy/credentials`.
    UppyCredentials,
}

impl Operation {
    /// The function that serves it.
    pub fn function(self) -> HttpFunction {
        use Operation as O;
        match self {
            O::CreateUpload | O::CompanionParams | O::CompanionCreateMultipart | O::StartLinkUpload => {
                HttpFunction::CreateUpload
            }
            O::SignParts | O::CompanionSignParts | O::SignLinkParts => HttpFunction::SignParts,
            O::ListParts | O::CompanionListParts => HttpFunction::ListParts,
            O::CompleteUpload | O::CompanionComplete | O::CompleteLinkUpload => HttpFunction::CompleteUpload,
            O::AbortUpload | O::CompanionAbort => HttpFunction::AbortUpload,
            O::ListVideos => HttpFunction::ListVideos,
            O::GetVideo | O::GetLink => HttpFunction::GetVideo,
            O::CreateUploadLink => HttpFunction::CreateUploadLink,
            O::DeleteVideo => HttpFunction::DeleteVideo,
            O::StreamVideo | O::GetImage => HttpFunction::StreamVideo,
            O::CreatePlayback | O::GetStoryboard => HttpFunction::CreatePlayback,
            O::SetPoster => HttpFunction::SetPoster,
            O::IssueCredentials | O::CompanionSts | O::UppyCredentials => HttpFunction::IssueCredentials,
            O::UppySign => HttpFunction::SignRequest,
        }
    }

    pub fn api(self) -> Api {
        use Operation as O;
        match self {
            O::CompanionParams
            | O::CompanionCreateMultipart
            | O::CompanionSignParts
            | O::CompanionListParts
            | O::CompanionComplete
            | O::CompanionAbort
            | O::CompanionSts => Api::Companion,
            O::UppySign | O::UppyCredentials => Api::Uppy,
            _ => Api::V1,
        }
    }

    pub fn auth(self) -> Auth {
        use Operation as O;
        match self {
            O::StreamVideo | O::GetStoryboard | O::GetImage => Auth::PlaybackToken,
            O::CreateUploadLink => Auth::BackendJwt,
            O::GetLink | O::StartLinkUpload | O::SignLinkParts | O::CompleteLinkUpload => Auth::LinkToken,
            _ => Auth::Jwt,
        }
    }

    /// Its throttling class: what starts an upload or mints credentials is the dearest to abuse.
    /// Uppy's `/uppy/sign` starts uploads too, but signs every part as well: a write.
    pub fn throttle(self) -> Throttle {
        use Operation as O;
        match self {
            O::CreateUpload
            | O::CompanionParams
            | O::CompanionCreateMultipart
            | O::IssueCredentials
            | O::CompanionSts
            | O::UppyCredentials
            | O::CreateUploadLink
            | O::StartLinkUpload => Throttle::Start,
            O::SignParts
            | O::CompanionSignParts
            | O::CompleteUpload
            | O::CompanionComplete
            | O::AbortUpload
            | O::CompanionAbort
            | O::DeleteVideo
            | O::CreatePlayback
            | O::SetPoster
            | O::UppySign
            | O::SignLinkParts
            | O::CompleteLinkUpload => Throttle::Write,
            O::ListParts
            | O::CompanionListParts
            | O::ListVideos
            | O::GetVideo
            | O::StreamVideo
            | O::GetStoryboard
            | O::GetImage
            | O::GetLink => Throttle::Read,
        }
    }
}

/// How API Gateway throttles a route: a token bucket per route, shared by every caller (the
/// stage's route settings). It protects the functions and the bill from floods; what one owner
/// may hold is bounded by the quotas (`Config::quota`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Throttle {
    /// Reads: listings, records, part lists, and the stream route (a player sends a range
    /// request every few seconds).
    Read,
    /// Signing parts, completing, aborting, playback URLs.
    Write,
    /// Starting uploads and minting credentials.
    Start,
}

/// Requests per second, and the bucket size a burst may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub rate: u32,
    pub burst: u32,
}

impl Throttle {
    pub const ALL: [Throttle; 3] = [Throttle::Read, Throttle::Write, Throttle::Start];

    /// The template's parameter names (`StartRateLimit`, `StartBurstLimit`) less their suffix.
    pub fn name(self) -> &'static str {
        match self {
            Throttle::Read => "Read",
            Throttle::Write => "Write",
            Throttle::Start => "Start",
        }
    }

    /// The template's defaults, which the local gateway applies too.
    pub fn default_limit(self) -> RateLimit {
        match self {
            Throttle::Read => RateLimit { rate: 1000, burst: 2000 },
            Throttle::Write => RateLimit { rate: 500, burst: 1000 },
            Throttle::Start => RateLimit { rate: 50, burst: 100 },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    /// API Gateway path syntax (`{videoId}`), which axum 0.8 shares.
    pub path: &'static str,
    pub operation: Operation,
}

impl Route {
    /// API Gateway's route key: `POST /v1/uploads`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    pub fn function(&self) -> HttpFunction {
        self.operation.function()
    }

    pub fn auth(&self) -> Auth {
        self.operation.auth()
    }

    pub fn api(&self) -> Api {
        self.operation.api()
    }

    pub fn throttle(&self) -> Throttle {
        self.operation.throttle()
    }
}

const fn route(method: &'static str, path: &'static str, operation: Operation) -> Route {
    Route { method, path, operation }
}

pub const ROUTES: &[Route] = &[
    route("POST", "/v1/uploads", Operation::CreateUpload),
    route("POST", "/v1/uploads/{videoId}/part-urls", Operation::SignParts),
    route("GET", "/v1/uploads/{videoId}/parts", Operation::ListParts),
    route("POST", "/v1/uploads/{videoId}/complete", Operation::CompleteUpload),
    route("DELETE", "/v1/uploads/{videoId}", Operation::AbortUpload),
    route("GET", "/v1/videos", Operation::ListVideos),
    route("GET", "/v1/videos/{videoId}", Operation::GetVideo),
    route("DELETE", "/v1/videos/{videoId}", Operation::DeleteVideo),
    route("POST", "/v1/uploads/{videoId}/credentials", Operation::IssueCredentials),
    route("POST", "/v1/videos/{videoId}/playback", Operation::CreatePlayback),
    route("GET", "/v1/videos/{videoId}/stream", Operation::StreamVideo),
    route("HEAD", "/v1/videos/{videoId}/stream", Operation::StreamVideo),
    route("GET", "/v1/videos/{videoId}/storyboard.vtt", Operation::GetStoryboard),
    route("GET", "/v1/videos/{videoId}/images/{name}", Operation::GetImage),
    route("POST", "/v1/videos/{videoId}/poster", Operation::SetPoster),
    route("POST", "/s3/multipart", Operation::CompanionCreateMultipart),
    route("GET", "/s3/params", Operation::CompanionParams),
    route("GET", "/s3/multipart/{uploadId}/{partNumber}", Operation::CompanionSignParts),
    route("GET", "/s3/multipart/{uploadId}/batch", Operation::CompanionSignParts),
    route("GET", "/s3/multipart/{uploadId}", Operation::CompanionListParts),
    route("POST", "/s3/multipart/{uploadId}/complete", Operation::CompanionComplete),
    route("DELETE", "/s3/multipart/{uploadId}", Operation::CompanionAbort),
    route("GET", "/s3/sts", Operation::CompanionSts),
    route("POST", "/uppy/sign", Operation::UppySign),
    route("GET", "/uppy/credentials", Operation::UppyCredentials),
    route("POST", "/v1/upload-links", Operation::CreateUploadLink),
    route("GET", "/v1/links/{token}", Operation::GetLink),
    route("POST", "/v1/links/{token}/upload", Operation::StartLinkUpload),
    route("POST", "/v1/links/{token}/part-urls", Operation::SignLinkParts),
    route("POST", "/v1/links/{token}/complete", Operation::CompleteLinkUpload),
];

/// The route API Gateway matched, from its route key (`GET /s3/sts`).
pub fn route_for_key(key: &str) -> Option<&'static Route> {
    let (method, path) = key.split_once(' ')?;
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

/// The operation `function` runs for a request with route key `key`.
pub fn operation_for(function: HttpFunction, key: &str) -> Operation {
    match route_for_key(key) {
        Some(route) if route.function() == function => route.operation,
        _ => function.primary(),
    }
}

/// Why no route matched a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoRoute {
    NotFound,
    /// The path exists with these methods only (the `Allow` header of a 405).
    MethodNotAllowed(Vec<&'static str>),
}

/// The route table compiled for lookups, as API Gateway matches it (same `{param}` syntax).
pub struct Router {
    by_method: Vec<(&'static str, matchit::Router<Route>)>,
}

impl Default for Router {
    fn default() -> Self {
        Self::new(ROUTES)
    }
}

impl Router {
    pub fn new(routes: &[Route]) -> Self {
        let mut by_method: Vec<(&'static str, matchit::Router<Route>)> = Vec::new();
        for route in routes {
            let index = match by_method.iter().position(|(m, _)| *m == route.method) {
                Some(i) => i,
                None => {
                    by_method.push((route.method, matchit::Router::new()));
                    by_method.len() - 1
                }
            };
            by_method[index]
                .1
                .insert(route.path, *route)
                .unwrap_or_else(|e| panic!("route table is invalid at {}: {e}", route.key()));
        }
        Self { by_method }
    }

    /// The route for `method path`, with its path parameters.
    pub fn find(&self, method: &str, path: &str) -> Result<(Route, Vec<(String, String)>), NoRoute> {
        let found =
            self.by_method.iter().find(|(m, _)| *m == method).and_then(|(_, router)| router.at(path).ok());
        match found {
            Some(m) => Ok((*m.value, m.params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())),
            None => {
                // Methods of the most specific template that matches (literal segments win, as in
                // routing): `/s3/multipart/u/complete` allows POST, though GET's
                // `/s3/multipart/{uploadId}/{partNumber}` would also match it.
                let matches: Vec<(&'static str, &'static str)> = self
                    .by_method
                    .iter()
                    .filter_map(|(m, r)| r.at(path).ok().map(|found| (*m, found.value.path)))
                    .collect();
                let literals = |template: &str| template.split('/').filter(|s| !s.starts_with('{')).count();
                match matches.iter().map(|(_, t)| literals(t)).max() {
                    None => Err(NoRoute::NotFound),
                    Some(best) => Err(NoRoute::MethodNotAllowed(
                        matches.iter().filter(|(_, t)| literals(t) == best).map(|(m, _)| *m).collect(),
                    )),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn router_finds_routes_and_their_parameters() {
        let router = Router::default();
        let (route, params) = router.find("POST", "/v1/uploads/abc/part-urls").unwrap();
        assert_eq!(route.function(), HttpFunction::SignParts);
        assert_eq!(params, vec![("videoId".to_string(), "abc".to_string())]);
        assert_eq!(router.find("GET", "/v1/uploads").unwrap_err(), NoRoute::MethodNotAllowed(vec!["POST"]));
        assert_eq!(
            router.find("TRACE", "/v1/videos/x/stream").unwrap_err(),
            NoRoute::MethodNotAllowed(vec!["GET", "HEAD"])
        );
        assert_eq!(
            router.find("OPTIONS", "/s3/multipart/u1/complete").unwrap_err(),
            NoRoute::MethodNotAllowed(vec!["POST"])
        );
        assert_eq!(
            router.find("POST", "/s3/multipart/u1").unwrap_err(),
            NoRoute::MethodNotAllowed(vec!["GET", "DELETE"])
        );
        assert_eq!(router.find("GET", "/v2/nothing").unwrap_err(), NoRoute::NotFound);
        assert_eq!(router.find("GET", "/v1/videos").unwrap().0.function(), HttpFunction::ListVideos);
        // Literal segments win over parameters, as in API Gateway.
        let (batch, params) = router.find("GET", "/s3/multipart/u1/batch").unwrap();
        assert_eq!((batch.path, params.len()), ("/s3/multipart/{uploadId}/batch", 1));
        let (one, params) = router.find("GET", "/s3/multipart/u1/7").unwrap();
        assert_eq!(one.path, "/s3/multipart/{uploadId}/{partNumber}");
        assert_eq!(params[1], ("partNumber".to_string(), "7".to_string()));
        assert_eq!(
            router.find("POST", "/s3/multipart/u1/complete").unwrap().0.function(),
            HttpFunction::CompleteUpload
        );
        for route in ROUTES {
            assert_eq!(route_for_key(&route.key()), Some(route));
        }
        assert_eq!(route_for_key("GET /s3"), None);
    }

    #[test]
    fn every_function_has_a_route_and_route_keys_are_unique() {
        let keys: HashSet<String> = ROUTES.iter().map(Route::key).collect();
        assert_eq!(keys.len(), ROUTES.len());
        for f in HttpFunction::ALL {
            assert!(ROUTES.iter().any(|r| r.function() == f), "{}", f.name());
            assert_eq!(f.primary().function(), f);
        }
        assert_eq!(operation_for(HttpFunction::CreateUpload, "GET /s3/params"), Operation::CompanionParams);
        // A route of another function (or no route key) runs the function's own first route.
        assert_eq!(operation_for(HttpFunction::CreateUpload, "GET /s3/sts"), Operation::CreateUpload);
        assert_eq!(operation_for(HttpFunction::SignRequest, ""), Operation::UppySign);
    }
}
