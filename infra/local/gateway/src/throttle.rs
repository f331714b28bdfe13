//! API Gateway's route throttling, as the stage's route settings apply it: a token bucket per
//! route, shared by every caller, refilled at the route's rate and holding at most its burst. A
//! request that finds the bucket empty is answered 429 before the authorizer or the function
//! runs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use vidgate::http::Route;
use vidgate::http::routes::{RateLimit, Throttle};

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct Throttles {
    limits: HashMap<Throttle, RateLimit>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Default for Throttles {
    /// The template's defaults.
    fn default() -> Self {
        Self::new(Throttle::default_limit)
    }
}

impl Throttles {
    pub fn new(limit: impl Fn(Throttle) -> RateLimit) -> Self {
        Self { limits: Throttle::ALL.into_iter().map(|t| (t, limit(t))).collect(), buckets: Mutex::default() }
    }

    /// The defaults, each replaced by `VIDGATE_<CLASS>_RATE_LIMIT` / `_BURST_LIMIT` when set (the
    /// template's `StartRateLimit`… parameters, by the same names).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut limits = HashMap::new();
        for class in Throttle::ALL {
            let default = class.default_limit();
            let read = |what: &str, default: u32| -> Result<u32, String> {
                let name = format!("VIDGATE_{}_{what}_LIMIT", class.name().to_uppercase());
                match get(&name) {
                    None => Ok(default),
                    Some(raw) => raw
                        .trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("{name}={raw:?} is not a positive whole number")),
                }
            };
            limits.insert(
                class,
                RateLimit { rate: read("RATE", default.rate)?, burst: read("BURST", default.burst)? },
            );
        }
        Ok(Self::new(|class| limits[&class]))
    }

    /// Takes a token from `route`'s bucket; `false` when there is none (429).
    pub fn admit(&self, route: &Route) -> bool {
        let limit = self.limits[&route.throttle()];
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(route.key()).or_insert(Bucket { tokens: f64::from(limit.burst), at: now });
        let refill = now.duration_since(bucket.at).as_secs_f64() * f64::from(limit.rate);
        bucket.tokens = (bucket.tokens + refill).min(f64::from(limit.burst));
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vidgate::http::{Operation, ROUTES};

    fn route(operation: Operation) -> &'static Route {
        ROUTES.iter().find(|r| r.operation == operation).unwrap()
    }

    #[test]
    fn a_burst_is_admitted_then_the_rate_refills_it_and_routes_have_their_own_buckets() {
        let throttles = Throttles::new(|_| RateLimit { rate: 20, burst: 3 });
        let create = route(Operation::CreateUpload);
        assert_eq!(
            (0..5).map(|_| throttles.admit(create)).collect::<Vec<_>>(),
            [true, true, true, false, false]
        );
        assert!(throttles.admit(route(Operation::ListVideos)));
        std::thread::sleep(std::time::Duration::from_millis(120));
        assert!(throttles.admit(create));
    }

    #[test]
    fn limits_come_from_the_environment_by_the_templates_names() {
        let t = Throttles::from_env(|name| (name == "VIDGATE_START_BURST_LIMIT").then(|| "1".to_owned()))
            .unwrap();
        let create = route(Operation::CreateUpload);
        assert!(t.admit(create) && !t.admit(create));
        assert!(
            Throttles::from_env(|name| (name == "VIDGATE_READ_RATE_LIMIT").then(|| "x".to_owned())).is_err()
        );
    }
}
