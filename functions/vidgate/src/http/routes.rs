//! The route table: the single list of routes and the function serving each.
//!
//! The local gateway serves exactly this table; tests check `template.yaml` and `openapi.yaml`
//! against it, so there is no second hand-kept list to drift.

/// One Lambda function. Its name is its binary's, crate's and (in CamelCase) its SAM resource's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    CreateUpload,
    SignParts,
    ListParts,
    CompleteUpload,
    AbortUpload,
    ListVideos,
    GetVideo,
    StreamVideo,
    CreatePlayback,
    IssueCredentials,
    /// Presigns one S3 request of an upload the client runs itself (Uppy 6's `signRequest`).
    SignRequest,
    /// S3 `ObjectCreated` notifications (no route).
    OnObjectCreated,
    /// The scheduled sweeper of abandoned uploads (no route).
    ExpireUploads,
}

impl Function {
    pub const ALL: [Function; 13] = [
        Function::CreateUpload,
        Function::SignParts,
        Function::ListParts,
        Function::CompleteUpload,
        Function::AbortUpload,
        Function::ListVideos,
        Function::GetVideo,
        Function::StreamVideo,
        Function::CreatePlayback,
        Function::IssueCredentials,
        Function::SignRequest,
        Function::OnObjectCreated,
        Function::ExpireUploads,
    ];

    /// The kebab-case name: `create-upload`.
    pub fn name(self) -> &'static str {
        match self {
            Function::CreateUpload => "create-upload",
            Function::SignParts => "sign-parts",
            Function::ListParts => "list-parts",
            Function::CompleteUpload => "complete-upload",
            Function::AbortUpload => "abort-upload",
            Function::ListVideos => "list-videos",
            Function::GetVideo => "get-video",
            Function::StreamVideo => "stream-video",
            Function::CreatePlayback => "create-playback",
            Function::IssueCredentials => "issue-credentials",
            Function::SignRequest => "sign-request",
            Function::OnObjectCreated => "on-object-created",
            Function::ExpireUploads => "expire-uploads",
        }
    }

    /// Whether API Gateway invokes it (the others take S3 or schedule events).
    pub fn is_http(self) -> bool {
        !matches!(self, Function::OnObjectCreated | Function::ExpireUploads)
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
}

/// Which protocol a route speaks: the same functions serve both.
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    /// API Gateway path syntax (`{videoId}`), which axum 0.8 shares.
    pub path: &'static str,
    pub function: Function,
    pub auth: Auth,
    pub api: Api,
}

impl Route {
    /// API Gateway's route key: `POST /v1/uploads`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

const fn jwt(method: &'static str, path: &'static str, function: Function) -> Route {
    Route { method, path, function, auth: Auth::Jwt, api: Api::V1 }
}

const fn playback(method: &'static str, path: &'static str, function: Function) -> Route {
    Route { method, path, function, auth: Auth::PlaybackToken, api: Api::V1 }
}

const fn companion(method: &'static str, path: &'static str, function: Function) -> Route {
    Route { method, path, function, auth: Auth::Jwt, api: Api::Companion }
}

const fn uppy(method: &'static str, path: &'static str, function: Function) -> Route {
    Route { method, path, function, auth: Auth::Jwt, api: Api::Uppy }
}

pub const ROUTES: &[Route] = &[
    jwt("POST", "/v1/uploads", Function::CreateUpload),
    jwt("POST", "/v1/uploads/{videoId}/part-urls", Function::SignParts),
    jwt("GET", "/v1/uploads/{videoId}/parts", Function::ListParts),
    jwt("POST", "/v1/uploads/{videoId}/complete", Function::CompleteUpload),
    jwt("DELETE", "/v1/uploads/{videoId}", Function::AbortUpload),
    jwt("GET", "/v1/videos", Function::ListVideos),
    jwt("GET", "/v1/videos/{videoId}", Function::GetVideo),
    jwt("POST", "/v1/uploads/{videoId}/credentials", Function::IssueCredentials),
    jwt("POST", "/v1/videos/{videoId}/playback", Function::CreatePlayback),
    playback("GET", "/v1/videos/{videoId}/stream", Function::StreamVideo),
    playback("HEAD", "/v1/videos/{videoId}/stream", Function::StreamVideo),
    companion("POST", "/s3/multipart", Function::CreateUpload),
    companion("GET", "/s3/params", Function::CreateUpload),
    companion("GET", "/s3/multipart/{uploadId}/{partNumber}", Function::SignParts),
    companion("GET", "/s3/multipart/{uploadId}/batch", Function::SignParts),
    companion("GET", "/s3/multipart/{uploadId}", Function::ListParts),
    companion("POST", "/s3/multipart/{uploadId}/complete", Function::CompleteUpload),
    companion("DELETE", "/s3/multipart/{uploadId}", Function::AbortUpload),
    companion("GET", "/s3/sts", Function::IssueCredentials),
    uppy("POST", "/uppy/sign", Function::SignRequest),
    uppy("GET", "/uppy/credentials", Function::IssueCredentials),
];

/// The route API Gateway matched, from its route key (`GET /s3/sts`).
pub fn route_for_key(key: &str) -> Option<&'static Route> {
    let (method, path) = key.split_once(' ')?;
    ROUTES.iter().find(|r| r.method == method && r.path == path)
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
        assert_eq!(route.function, Function::SignParts);
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
        assert_eq!(router.find("GET", "/v1/videos").unwrap().0.function, Function::ListVideos);
        // Literal segments win over parameters, as in API Gateway.
        let (batch, params) = router.find("GET", "/s3/multipart/u1/batch").unwrap();
        assert_eq!((batch.path, params.len()), ("/s3/multipart/{uploadId}/batch", 1));
        let (one, params) = router.find("GET", "/s3/multipart/u1/7").unwrap();
        assert_eq!(one.path, "/s3/multipart/{uploadId}/{partNumber}");
        assert_eq!(params[1], ("partNumber".to_string(), "7".to_string()));
        assert_eq!(
            router.find("POST", "/s3/multipart/u1/complete").unwrap().0.function,
            Function::CompleteUpload
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
        for f in Function::ALL {
            let routed = ROUTES.iter().any(|r| r.function == f);
            assert_eq!(routed, f.is_http(), "{}", f.name());
        }
    }

    #[test]
    fn every_function_has_a_crate_of_its_name() {
        let functions = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        for f in Function::ALL {
            let manifest = format!("{functions}/{}/Cargo.toml", f.name());
            let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| panic!("{manifest}: {e}"));
            assert!(text.contains(&format!("name = \"{}\"", f.name())), "{manifest}");
        }
    }
}
