//! What vidgate costs a month and which limit breaks first, for a shape of traffic: uploads a
//! day and their size, hours watched a day at a bitrate, the peak audience. Playback is modelled
//! two ways: through the stream route (every byte S3 → Lambda → API Gateway, in replies of at most
//! 4 MiB) and through a CDN (CloudFront in front of the bucket, what issue 22 deploys).
//!
//! Prices are AWS's published on-demand list prices for us-east-1 (`PRICES_AS_OF`), without free
//! tiers, savings plans or negotiated discounts; quotas are the default ones, most of them raised
//! on request. Every figure is in [`Report`], so a test can work one shape out by hand.

use std::fmt::Write as _;

/// The date the prices and quotas below were taken as AWS published them (they were not fetched
/// at run time: check them before relying on a figure).
pub const PRICES_AS_OF: &str = "2025-06 (us-east-1)";

const MIB: f64 = 1024.0 * 1024.0;
const GB: f64 = 1e9;
const DAY: f64 = 86_400.0;
const DAYS_PER_MONTH: f64 = 30.0;
/// The busiest hour of the day over the day's average.
const PEAK_FACTOR: f64 = 3.0;

// What one request costs vidgate's functions: assumed, not measured (cold starts and S3's latency
// vary); Lambda is a small share of every shape's bill, but its concurrency is a limit.
/// The stream route's reply cap (`RangeCapBytes`).
const RANGE_CAP: f64 = 4.0 * MIB;
const API_CALL_SECONDS: f64 = 0.05;
const API_CALL_GB: f64 = 0.25;
const STREAM_SECONDS: f64 = 0.15;
const STREAM_GB: f64 = 0.5;
/// Part URLs signed per call by the CLI (and what Uppy asks for per batch, at most).
const URLS_PER_SIGN_CALL: f64 = 64.0;

// Prices (USD).
/// HTTP API, per million requests: the first 300 million a month, then the rest.
const API_PER_MILLION: [(f64, f64); 2] = [(300.0, 1.00), (f64::INFINITY, 0.90)];
/// HTTP API requests are metered in 512 KB increments of their payload.
const API_METER_BYTES: f64 = 512.0 * 1024.0;
const LAMBDA_PER_MILLION: f64 = 0.20;
/// arm64.
const LAMBDA_PER_GB_SECOND: f64 = 0.000_013_333_4;
const S3_PER_GB_MONTH: [(f64, f64); 3] = [(50_000.0, 0.023), (450_000.0, 0.022), (f64::INFINITY, 0.021)];
const S3_WRITE_PER_THOUSAND: f64 = 0.005;
const S3_READ_PER_THOUSAND: f64 = 0.0004;
/// Data out to the internet from S3, Lambda and API Gateway (per GB, by the month's volume).
const EGRESS_PER_GB: [(f64, f64); 4] =
    [(10_000.0, 0.09), (40_000.0, 0.085), (100_000.0, 0.07), (f64::INFINITY, 0.05)];
/// CloudFront, North America and Europe.
const CDN_PER_GB: [(f64, f64); 7] = [
    (10_000.0, 0.085),
    (40_000.0, 0.080),
    (100_000.0, 0.060),
    (350_000.0, 0.040),
    (524_000.0, 0.030),
    (4_000_000.0, 0.025),
    (f64::INFINITY, 0.020),
];
const CDN_PER_10K_HTTPS: f64 = 0.0100;
const DYNAMODB_PER_MILLION_WRITES: f64 = 0.625;
const DYNAMODB_PER_MILLION_READS: f64 = 0.125;
const EVENTBRIDGE_PER_MILLION: f64 = 1.00;
const SQS_PER_MILLION: f64 = 0.40;
// make-images per video, from infra/bench/images (docs/performance.md): a poster, then one tile
// per second of video up to 200; 1,024 MB; bytes stored; GETs of 64 KiB blocks and runs.
const IMAGES_POSTER_SECONDS: f64 = 0.3;
const IMAGES_TILE_SECONDS: f64 = 0.15;
const IMAGES_GB: f64 = 1.0;
const IMAGES_POSTER_BYTES: f64 = 100_000.0;
const IMAGES_TILE_BYTES: f64 = 2_500.0;
const IMAGES_GETS_PER_TILE: f64 = 2.5;

// Default quotas.
const API_ACCOUNT_RPS: f64 = 10_000.0;
/// vidgate's own per-route throttles (template defaults): reads, writes, starts.
const READ_ROUTES_RPS: f64 = 1_000.0;
const WRITE_ROUTES_RPS: f64 = 500.0;
const START_ROUTES_RPS: f64 = 50.0;
const LAMBDA_CONCURRENCY: f64 = 1_000.0;
const S3_GETS_PER_PREFIX: f64 = 5_500.0;
const DYNAMODB_TABLE_UNITS: f64 = 40_000.0;
const DYNAMODB_ITEM_READS: f64 = 3_000.0;
const CDN_RPS: f64 = 250_000.0;
const CDN_GBPS: f64 = 150.0;

/// A shape of traffic.
#[derive(Debug, Clone)]
pub struct Shape {
    pub uploads_per_day: f64,
    /// Bytes.
    pub mean_size: f64,
    pub watch_hours_per_day: f64,
    /// Bits a second.
    pub bitrate: f64,
    /// Viewers at the busiest moment; `None`: the day's average audience × 3.
    pub peak_viewers: Option<f64>,
    /// How long a video is kept (storage reaches uploads × size × this).
    pub retention_days: f64,
    /// One playback URL per viewing session of this length.
    pub session_minutes: f64,
    /// The share of CDN requests served from the edge (the rest go to S3).
    pub cache_hit: f64,
    /// Bytes.
    pub part_size: f64,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            uploads_per_day: 0.0,
            mean_size: 0.0,
            watch_hours_per_day: 0.0,
            bitrate: 5e6,
            peak_viewers: None,
            retention_days: 365.0,
            session_minutes: 10.0,
            cache_hit: 0.9,
            part_size: 8.0 * MIB,
        }
    }
}

impl Shape {
    /// Why this shape can't be modelled, if it can't.
    pub fn check(&self) -> Result<(), String> {
        let fields = [
            ("uploads per day", self.uploads_per_day, 0.0, 1e9),
            ("mean size", self.mean_size, 1.0, 5e13),
            ("watch hours per day", self.watch_hours_per_day, 0.0, 1e10),
            ("bitrate", self.bitrate, 1.0, 1e10),
            ("peak viewers", self.peak_viewers.unwrap_or(0.0), 0.0, 1e10),
            ("retention days", self.retention_days, 0.0, 1e5),
            ("session minutes", self.session_minutes, 0.1, 1e4),
            ("cache hit", self.cache_hit, 0.0, 1.0),
            ("part size", self.part_size, 5.0 * MIB, 5.0 * 1024.0 * MIB),
        ];
        for (name, value, min, max) in fields {
            if !(min..=max).contains(&value) {
                return Err(format!("{name} must be within {min}..={max}, not {value}"));
            }
        }
        Ok(())
    }
}

/// One service's month.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    pub service: &'static str,
    /// What is counted, e.g. "requests (billed)", "GB out", "GB-seconds".
    pub unit: &'static str,
    pub per_month: f64,
    pub cost: f64,
}

/// A quota against the peak's use of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limit {
    pub name: &'static str,
    pub quota: f64,
    pub peak: f64,
}

impl Limit {
    pub fn used(&self) -> f64 {
        self.peak / self.quota
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub cdn: bool,
    pub lines: Vec<Line>,
    pub limits: Vec<Limit>,
    pub peak_viewers: f64,
}

impl Report {
    pub fn total(&self) -> f64 {
        self.lines.iter().map(|l| l.cost).sum()
    }

    /// The limit the peak comes closest to (or passes).
    pub fn first_limit(&self) -> &Limit {
        self.limits.iter().max_by(|a, b| a.used().total_cmp(&b.used())).expect("limits are listed")
    }

    fn line(&self, service: &str, unit: &str) -> Option<&Line> {
        self.lines.iter().find(|l| l.service == service && l.unit == unit)
    }

    /// The month's volume of `service` counted in `unit` (0 when it has none).
    pub fn volume(&self, service: &str, unit: &str) -> f64 {
        self.line(service, unit).map_or(0.0, |l| l.per_month)
    }
}

/// Price of `amount` under tiers of (size of the tier, price per unit).
fn tiered(amount: f64, tiers: &[(f64, f64)]) -> f64 {
    let mut left = amount;
    let mut cost = 0.0;
    for &(size, price) in tiers {
        let here = left.min(size);
        cost += here * price;
        left -= here;
        if left <= 0.0 {
            break;
        }
    }
    cost
}

/// The model: a month of `shape` with playback through the stream route (`cdn` false) or a CDN.
pub fn model(shape: &Shape, cdn: bool) -> Report {
    let month = |per_day: f64| per_day * DAYS_PER_MONTH;
    let peak = |per_day: f64| per_day / DAY * PEAK_FACTOR;

    // Uploads: create, sign (one call per 64 parts), complete and one read of the record.
    let parts = (shape.mean_size / shape.part_size).ceil().max(1.0);
    let upload_calls = 3.0 + (parts / URLS_PER_SIGN_CALL).ceil();
    // Then S3's event (through SQS) and the lifecycle events (started, uploaded).
    let upload_invocations = upload_calls + 1.0;

    // Playback: bytes watched, playback URLs (one per session), stream replies.
    let bytes_per_day = shape.watch_hours_per_day * 3600.0 * shape.bitrate / 8.0;
    let sessions_per_day = shape.watch_hours_per_day * 60.0 / shape.session_minutes;
    let replies_per_day = bytes_per_day / RANGE_CAP;
    let peak_viewers = shape.peak_viewers.unwrap_or(shape.watch_hours_per_day / 24.0 * PEAK_FACTOR);
    let peak_bytes = peak_viewers * shape.bitrate / 8.0;
    let peak_replies = peak_bytes / RANGE_CAP;
    let peak_sessions = peak_viewers / (shape.session_minutes * 60.0);

    // Pictures: one make-images run per upload (Video Uploaded → SQS); its tiles, one a second.
    let duration_seconds = shape.mean_size * 8.0 / shape.bitrate;
    let tiles = duration_seconds.ceil().clamp(1.0, 200.0);
    let image_seconds = IMAGES_POSTER_SECONDS + IMAGES_TILE_SECONDS * tiles;

    let mut lines = Vec::new();
    let mut add =
        |service, unit, per_month: f64, cost: f64| lines.push(Line { service, unit, per_month, cost });

    // API Gateway: upload calls and playback URLs; without a CDN, every stream reply, metered in
    // 512 KB increments (a 4 MiB reply is 8 billed requests).
    let stream_billed = if cdn { 0.0 } else { replies_per_day * (RANGE_CAP / API_METER_BYTES).ceil() };
    let api_requests = month(shape.uploads_per_day * upload_calls + sessions_per_day + stream_billed);
    add("API Gateway", "requests (billed)", api_requests, tiered(api_requests / 1e6, &API_PER_MILLION));

    // Lambda: every call above runs a function; stream replies run a bigger, longer one.
    let small = month(shape.uploads_per_day * upload_invocations + sessions_per_day);
    let stream = if cdn { 0.0 } else { month(replies_per_day) };
    let gb_seconds = small * API_CALL_SECONDS * API_CALL_GB + stream * STREAM_SECONDS * STREAM_GB;
    add("Lambda", "invocations", small + stream, (small + stream) / 1e6 * LAMBDA_PER_MILLION);
    add("Lambda", "GB-seconds", gb_seconds, gb_seconds * LAMBDA_PER_GB_SECOND);
    let image_runs = month(shape.uploads_per_day);
    let image_gb_seconds = image_runs * image_seconds * IMAGES_GB;
    add(
        "Lambda",
        "make-images GB-seconds",
        image_gb_seconds,
        image_gb_seconds * LAMBDA_PER_GB_SECOND + image_runs / 1e6 * LAMBDA_PER_MILLION,
    );

    // S3: the stored videos; part PUTs (+ create and complete); reads: HEAD + 3 GETs to sniff and
    // probe each arrival, and each stream reply (or each CDN miss).
    let stored_gb = shape.uploads_per_day * shape.mean_size * shape.retention_days / GB;
    add("S3", "GB stored (steady state)", stored_gb, tiered(stored_gb, &S3_PER_GB_MONTH));
    let images_gb =
        shape.uploads_per_day * shape.retention_days * (IMAGES_POSTER_BYTES + IMAGES_TILE_BYTES * tiles) / GB;
    let images_cost = tiered(stored_gb + images_gb, &S3_PER_GB_MONTH) - tiered(stored_gb, &S3_PER_GB_MONTH);
    add("S3", "images GB stored (steady state)", images_gb, images_cost);
    // Part PUTs, create and complete; a poster and its sprites.
    let writes = month(shape.uploads_per_day * (parts + 2.0 + 1.0 + (tiles / 100.0).ceil()));
    add("S3", "write requests", writes, writes / 1000.0 * S3_WRITE_PER_THOUSAND);
    let byte_reads = if cdn { replies_per_day * (1.0 - shape.cache_hit) } else { replies_per_day };
    let reads = month(shape.uploads_per_day * (4.0 + IMAGES_GETS_PER_TILE * (tiles + 1.0)) + byte_reads);
    add("S3", "read requests", reads, reads / 1000.0 * S3_READ_PER_THOUSAND);

    // The bytes watched leave AWS: from API Gateway at internet egress prices, or from the edge
    // (S3 → CloudFront is free).
    let out_gb = month(bytes_per_day) / GB;
    if cdn {
        add("CloudFront", "GB out", out_gb, tiered(out_gb, &CDN_PER_GB));
        let requests = month(replies_per_day);
        add("CloudFront", "HTTPS requests", requests, requests / 10_000.0 * CDN_PER_10K_HTTPS);
    } else {
        add("Data transfer", "GB out", out_gb, tiered(out_gb, &EGRESS_PER_GB));
    }

    // DynamoDB on demand: an upload's start and end are transactions with the quota counter (2
    // items × 2 units each); reads of the record by the routes; one read per playback URL.
    let writes = month(shape.uploads_per_day * 8.0);
    let reads = month(shape.uploads_per_day * upload_calls + sessions_per_day);
    add("DynamoDB", "write units", writes, writes / 1e6 * DYNAMODB_PER_MILLION_WRITES);
    add("DynamoDB", "read units", reads, reads / 1e6 * DYNAMODB_PER_MILLION_READS);
    // Lifecycle events (started, uploaded, images ready); S3 events and images requests through
    // SQS (send, receive, delete each).
    let events = month(shape.uploads_per_day * 3.0);
    add("EventBridge", "events", events, events / 1e6 * EVENTBRIDGE_PER_MILLION);
    let messages = month(shape.uploads_per_day * 6.0);
    add("SQS", "requests", messages, messages / 1e6 * SQS_PER_MILLION);

    // The peak against each quota.
    let upload_rps = peak(shape.uploads_per_day * upload_calls);
    let starts_rps = peak(shape.uploads_per_day);
    let stream_rps = if cdn { 0.0 } else { peak_replies };
    let api_rps = upload_rps + peak_sessions + stream_rps;
    let concurrency = (peak(shape.uploads_per_day * upload_invocations) + peak_sessions) * API_CALL_SECONDS
        + stream_rps * STREAM_SECONDS
        + peak(shape.uploads_per_day) * image_seconds;
    let one_video_gets = if cdn { peak_replies * (1.0 - shape.cache_hit) } else { peak_replies };
    let mut limits = vec![
        Limit { name: "API Gateway requests/s (account, region)", quota: API_ACCOUNT_RPS, peak: api_rps },
        Limit { name: "vidgate start routes/s (template)", quota: START_ROUTES_RPS, peak: starts_rps },
        Limit { name: "vidgate write routes/s (template)", quota: WRITE_ROUTES_RPS, peak: peak_sessions },
        Limit { name: "vidgate read routes/s (template)", quota: READ_ROUTES_RPS, peak: stream_rps },
        Limit { name: "Lambda concurrent executions", quota: LAMBDA_CONCURRENCY, peak: concurrency },
        Limit { name: "S3 GETs/s on one video's prefix", quota: S3_GETS_PER_PREFIX, peak: one_video_gets },
        Limit {
            name: "DynamoDB reads/s on one video's item",
            quota: DYNAMODB_ITEM_READS,
            peak: peak_sessions,
        },
        Limit {
            name: "DynamoDB table write units/s",
            quota: DYNAMODB_TABLE_UNITS,
            peak: peak(shape.uploads_per_day * 8.0),
        },
    ];
    if cdn {
        limits.push(Limit {
            name: "CloudFront requests/s (distribution)",
            quota: CDN_RPS,
            peak: peak_replies,
        });
        limits.push(Limit {
            name: "CloudFront Gbit/s (distribution)",
            quota: CDN_GBPS,
            peak: peak_bytes * 8.0 / 1e9,
        });
    }
    Report { cdn, lines, limits, peak_viewers }
}

fn amount(value: f64) -> String {
    match value {
        v if v >= 1e9 => format!("{:.2} G", v / 1e9),
        v if v >= 1e6 => format!("{:.2} M", v / 1e6),
        v if v >= 1e3 => format!("{:.1} k", v / 1e3),
        v if v >= 10.0 => format!("{v:.0}"),
        v => format!("{v:.2}"),
    }
}

fn dollars(value: f64) -> String {
    match value {
        v if v >= 100.0 => format!("${v:.0}"),
        v if v >= 0.005 => format!("${v:.2}"),
        _ => "< $0.01".into(),
    }
}

/// The two reports side by side, as `vidgate capacity` prints them (and the README shows them).
pub fn render(shape: &Shape) -> String {
    let (off, on) = (model(shape, false), model(shape, true));
    let mut out = String::new();
    let plural = |n: f64, one: &str, many: &str| format!("{n} {}", if n == 1.0 { one } else { many });
    let _ = writeln!(
        out,
        "{} of {:.0} MiB kept {}, {} watch-hours/day at {} Mbit/s, peak {} viewers",
        plural(shape.uploads_per_day, "upload/day", "uploads/day"),
        shape.mean_size / MIB,
        plural(shape.retention_days, "day", "days"),
        shape.watch_hours_per_day,
        shape.bitrate / 1e6,
        amount(off.peak_viewers),
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "| service | per month | CDN off | CDN on |");
    let _ = writeln!(out, "|---|---|---|---|");
    let mut keys: Vec<(&str, &str)> = off.lines.iter().map(|l| (l.service, l.unit)).collect();
    for l in &on.lines {
        if !keys.contains(&(l.service, l.unit)) {
            keys.push((l.service, l.unit));
        }
    }
    for (service, unit) in keys {
        let cell = |r: &Report| match r.line(service, unit) {
            Some(l) if l.per_month > 0.0 => format!("{} · {}", amount(l.per_month), dollars(l.cost)),
            _ => "–".into(),
        };
        let _ = writeln!(out, "| {service} | {unit} | {} | {} |", cell(&off), cell(&on));
    }
    let _ = writeln!(
        out,
        "| **total** | USD a month | **{}** | **{}** |",
        dollars(off.total()),
        dollars(on.total())
    );
    let _ = writeln!(out);
    let usage = |l: &Limit| {
        let share = match l.used() * 100.0 {
            p if p >= 10.0 => format!("{p:.0} %"),
            p => format!("{p:.2} %"),
        };
        format!("{} — peak {} of {} ({share})", l.name, amount(l.peak), amount(l.quota))
    };
    for r in [&off, &on] {
        let first = r.first_limit();
        let _ = writeln!(out, "- CDN {}: first limit: {}", if r.cdn { "on" } else { "off" }, usage(first));
        for other in r.limits.iter().filter(|l| l.used() >= 1.0 && l.name != first.name) {
            let _ = writeln!(out, "  - also past its quota: {}", usage(other));
        }
    }
    out
}

/// Both models as JSON, for `vidgate capacity --json`: the shape, every line and limit, totals.
pub fn json(shape: &Shape) -> serde_json::Value {
    let report = |r: Report| {
        let (total, first) = (r.total(), r.first_limit().name);
        let mut value = serde_json::to_value(&r).expect("reports serialize");
        value["totalUsd"] = total.into();
        value["firstLimit"] = first.into();
        value
    };
    serde_json::json!({
        "pricesAsOf": PRICES_AS_OF,
        "shape": {
            "uploadsPerDay": shape.uploads_per_day,
            "meanSizeBytes": shape.mean_size as u64,
            "watchHoursPerDay": shape.watch_hours_per_day,
            "bitrateBitsPerSecond": shape.bitrate,
            "peakViewers": shape.peak_viewers,
            "retentionDays": shape.retention_days,
            "cacheHit": shape.cache_hit,
        },
        "cdnOff": report(model(shape, false)),
        "cdnOn": report(model(shape, true)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small shape worked out by hand: 10 uploads a day of 80 MiB (10 parts of 8 MiB), 10
    /// hours watched a day at 8 Mbit/s (1 MB/s), kept 30 days, 10-minute sessions.
    fn hobby() -> Shape {
        Shape {
            uploads_per_day: 10.0,
            mean_size: 80.0 * MIB,
            watch_hours_per_day: 10.0,
            bitrate: 8e6,
            retention_days: 30.0,
            ..Shape::default()
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn a_small_shape_by_hand_without_a_cdn() {
        let r = model(&hobby(), false);
        // Per day: 36,000 s × 1 MB/s = 36 GB watched; 36e9 / 4 MiB = 8,583.06 replies, each 8
        // billed API requests; 60 sessions; 10 uploads × 4 calls (create, 1 sign, complete, get).
        let replies = 36e9 / (4.0 * 1024.0 * 1024.0);
        let api = 30.0 * (10.0 * 4.0 + 60.0 + replies * 8.0);
        assert!(api < 300e6, "all in the first tier of $1.00 a million");
        assert!(close(r.volume("API Gateway", "requests (billed)"), api));
        assert!(close(r.volume("Data transfer", "GB out"), 30.0 * 36.0), "1,080 GB a month");
        // 1,080 GB: all in the first tier at $0.09.
        assert!(close(r.line("Data transfer", "GB out").unwrap().cost, 97.2));
        // Lambda: 10 × 5 + 60 small calls a day at 0.05 s × 0.25 GB; replies at 0.15 s × 0.5 GB.
        let gbs = 30.0 * ((10.0 * 5.0 + 60.0) * 0.05 * 0.25 + replies * 0.15 * 0.5);
        assert!(close(r.volume("Lambda", "GB-seconds"), gbs));
        // Storage: 10 × 80 MiB × 30 days = 25.17 GB at $0.023.
        let stored = 10.0 * 80.0 * 1024.0 * 1024.0 * 30.0 / 1e9;
        assert!(close(r.line("S3", "GB stored (steady state)").unwrap().cost, stored * 0.023));
        // Pictures: 80 MiB at 8 Mbit/s is 83.9 s, so 84 tiles (one sprite): 0.3 + 0.15 × 84 s
        // of a 1 GB make-images a video; a 100 KB poster and 84 × 2.5 KB kept.
        let image_gbs = 30.0 * 10.0 * (0.3 + 0.15 * 84.0);
        assert!(close(r.volume("Lambda", "make-images GB-seconds"), image_gbs));
        let images = 10.0 * 30.0 * (100_000.0 + 2_500.0 * 84.0) / 1e9;
        assert!(close(r.volume("S3", "images GB stored (steady state)"), images));
        let writes = 30.0 * 10.0 * 14.0;
        assert!(
            close(r.volume("S3", "write requests"), writes),
            "10 parts + create + complete + poster + sprite"
        );
        let reads = 30.0 * (10.0 * (4.0 + 2.5 * 85.0) + replies);
        assert!(close(r.volume("S3", "read requests"), reads));
        assert!(r.line("CloudFront", "GB out").is_none());
        // The total is the sum of what the lines cost: $100.36 a month, $97.20 of it egress
        // ($2.06 API Gateway, $0.58 storage, $0.31 Lambda, $0.05 make-images, the rest S3
        // requests and < $0.01 items).
        let total = api / 1e6 * 1.00
            + 30.0 * (110.0 + replies) / 1e6 * 0.20
            + gbs * 0.000_013_333_4
            + image_gbs * 0.000_013_333_4
            + 300.0 / 1e6 * 0.20
            + (stored + images) * 0.023
            + writes / 1000.0 * 0.005
            + reads / 1000.0 * 0.0004
            + 97.2
            + 30.0 * 80.0 / 1e6 * 0.625
            + 30.0 * (40.0 + 60.0) / 1e6 * 0.125
            + 30.0 * 30.0 / 1e6 * 1.00
            + 30.0 * 60.0 / 1e6 * 0.40;
        assert!(close(r.total(), total), "{} vs {total}", r.total());
        assert!((r.total() - 100.36).abs() < 0.005, "{}", r.total());
        // Peak: 10 h / 24 × 3 = 1.25 viewers; the busiest use is the read routes' throttle.
        assert!(close(r.peak_viewers, 1.25));
        assert_eq!(r.first_limit().name, "vidgate read routes/s (template)");
    }

    #[test]
    fn a_cdn_moves_the_bytes_off_lambda_and_api_gateway() {
        let (off, on) = (model(&hobby(), false), model(&hobby(), true));
        assert!(close(on.volume("CloudFront", "GB out"), 1080.0));
        assert!(close(on.line("CloudFront", "GB out").unwrap().cost, 1080.0 * 0.085));
        assert_eq!(on.volume("Data transfer", "GB out"), 0.0);
        // Only upload calls and playback URLs reach API Gateway and Lambda.
        assert!(close(on.volume("API Gateway", "requests (billed)"), 30.0 * (40.0 + 60.0)));
        assert!(on.total() < off.total());
    }

    #[test]
    fn a_viral_video_passes_cloudfronts_bandwidth_before_anything_else() {
        let viral = Shape {
            uploads_per_day: 1.0,
            mean_size: 500.0 * MIB,
            watch_hours_per_day: 600_000.0,
            peak_viewers: Some(100_000.0),
            cache_hit: 0.99,
            ..Shape::default()
        };
        let on = model(&viral, true);
        // 100,000 × 5 Mbit/s = 500 Gbit/s against 150.
        let first = on.first_limit();
        assert_eq!(first.name, "CloudFront Gbit/s (distribution)");
        assert!(close(first.peak, 500.0));
        let off = model(&viral, false);
        // Without a CDN: 100,000 × 0.625 MB/s / 4 MiB = 14,901 replies a second.
        assert!(off.first_limit().used() > 10.0, "{:?}", off.first_limit());
    }

    #[test]
    fn every_upload_pays_for_its_pictures() {
        let r = model(&hobby(), true);
        let shape = hobby();
        let tiles = (shape.mean_size * 8.0 / shape.bitrate).ceil().clamp(1.0, 200.0);
        let runs = shape.uploads_per_day * 30.0;
        let seconds = runs * (IMAGES_POSTER_SECONDS + IMAGES_TILE_SECONDS * tiles);
        assert!(close(r.volume("Lambda", "make-images GB-seconds"), seconds * IMAGES_GB));
        let stored =
            shape.uploads_per_day * shape.retention_days * (IMAGES_POSTER_BYTES + IMAGES_TILE_BYTES * tiles)
                / 1e9;
        assert!(close(r.volume("S3", "images GB stored (steady state)"), stored));
        assert!(r.lines.iter().any(|l| l.unit == "make-images GB-seconds" && l.cost > 0.0));
    }

    #[test]
    fn tiers_are_charged_in_order() {
        assert!(close(tiered(15_000.0, &EGRESS_PER_GB), 10_000.0 * 0.09 + 5_000.0 * 0.085));
        assert!(close(tiered(400.0, &API_PER_MILLION), 300.0 + 100.0 * 0.90));
        assert!(close(tiered(0.0, &CDN_PER_GB), 0.0));
    }
}
