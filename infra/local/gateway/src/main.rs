//! `vidgate-local up` runs the local stack; `vidgate-local token SUB [TTL_SECS]` prints a dev token;
//! `vidgate-local redrive` replays the running stack's dead-lettered S3 events.

use std::path::PathBuf;

use tokio::net::TcpListener;
use vidgate::ffmpeg::FfmpegConfig;
use vidgate::telemetry;
use vidgate_local::aws::AwsEndpoint;
use vidgate_local::gateway::{self, Gateway};
use vidgate_local::jwt::{DEFAULT_SECRET, DevJwt};
use vidgate_local::throttle::Throttles;
use vidgate_local::{bootstrap, cdn, schedule};
use vidgate_local::{images, lifecycle, notifications};

const USAGE: &str = "usage: vidgate-local up | vidgate-local token [--scope SCOPE] SUB [TTL_SECS] | vidgate-local redrive

Environment (all optional):
  VIDGATE_PORT            API port (3000)
  VIDGATE_AWS_PORT        the AWS endpoint's port: the strict local S3, and moto's DynamoDB, STS and SQS (4566)
  VIDGATE_MOTO_SERVER     path of moto_server (.venv/bin/moto_server)
  VIDGATE_MOTO_LOG        1 to show moto's request log
  VIDGATE_DEV_JWT_SECRET  HS256 secret of dev tokens (vidgate-local-dev-secret)
  VIDGATE_WEB_DIR         static pages served beside the API (web)
  VIDGATE_SWEEP_SECS      run expire-uploads every N seconds, 0 = never (300)
  VIDGATE_LOCAL_SIGNING_SECS
                          sign upload URLs with credentials that expire N seconds after they are
                          handed out, as a role session's do (unset: the local keys, which don't)
  VIDGATE_AUTOCOMPLETE_IDLE_SECS
                          complete uploads whose parts are all in S3 once quiet this long,
                          checking that often (5 here; 300 in the template)
  VIDGATE_LOCAL_CDN       0 = no local CloudFront: playback URLs are the stream route's (on)
  VIDGATE_CDN_KEY_PAIR_ID, VIDGATE_CDN_PRIVATE_KEY
                          the local CloudFront's key pair id and RSA private key (PEM); unset, the
                          stack makes a development pair
  VIDGATE_EVENTS_WEBHOOK  POST every lifecycle event (EventBridge's envelope) to this URL, signed
                          as Standard Webhooks says (webhook-id, -timestamp, -signature)
  VIDGATE_EVENTS_WEBHOOK_SECRET
                          the signing secret, whsec_<base64>; two, space-separated, during a
                          rotation (default: docs/local-stack.md's local secret)
  VIDGATE_EVENTS_WEBHOOK_ATTEMPTS
                          deliveries of an event before its dead-letter queue (185)
  VIDGATE_EVENT_MAX_RECEIVES, VIDGATE_EVENT_VISIBILITY_SECS
                          deliveries of an S3 event before the dead-letter queue (5), and seconds
                          before a failed one comes back (90): the template's
  VIDGATE_FFMPEG          the ffmpeg make-images runs (ffmpeg on PATH: Debian's, from infra/local/setup)
  VIDGATE_IMAGES_SECONDS, VIDGATE_IMAGES_MAX_READ_BYTES, VIDGATE_IMAGES_MEMORY_MB
                          one video's bounds in make-images (120 s, 512 MiB, 640 MB): the template's
  VIDGATE_BUCKET, VIDGATE_TABLE and every other VIDGATE_* setting of the functions";

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn port(name: &str, default: u16) -> Result<u16, String> {
    env(name).map_or(Ok(default), |v| v.trim().parse().map_err(|_| format!("{name}={v:?} is not a port")))
}

fn dev_jwt() -> DevJwt {
    DevJwt::new(&env("VIDGATE_DEV_JWT_SECRET").unwrap_or_else(|| DEFAULT_SECRET.into()))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["up"] => up().await,
        ["token", sub] => token(sub, "3600", None),
        ["token", sub, ttl] => token(sub, ttl, None),
        ["token", "--scope", scope, sub] => token(sub, "3600", Some(scope)),
        ["token", "--scope", scope, sub, ttl] => token(sub, ttl, Some(scope)),
        ["redrive"] => redrive().await,
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    };
    if let Err(message) = result {
        eprintln!("vidgate-local: {message}");
        std::process::exit(2);
    }
}

/// Replays the dead-lettered S3 events of the stack listening on `VIDGATE_AWS_PORT`.
async fn redrive() -> Result<(), String> {
    let endpoint = format!("http://127.0.0.1:{}", port("VIDGATE_AWS_PORT", 4566)?);
    let sdk = bootstrap::sdk_config(&endpoint).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let url = |name: &'static str| {
        let sqs = sqs.clone();
        let endpoint = endpoint.clone();
        async move {
            sqs.get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "is the stack running on {endpoint}? {}",
                        aws_sdk_sqs::error::DisplayErrorContext(e)
                    )
                })?
                .queue_url
                .ok_or_else(|| format!("no URL for {name}"))
        }
    };
    let queues = notifications::Queues {
        events: url(notifications::QUEUE).await?,
        dead_letters: url(notifications::DEAD_LETTER_QUEUE).await?,
    };
    let moved = notifications::redrive(&sdk, &queues).await?;
    println!("{moved} dead-lettered S3 events sent back to {}", notifications::QUEUE);
    Ok(())
}

fn token(sub: &str, ttl: &str, scope: Option<&str>) -> Result<(), String> {
    let ttl: u64 = ttl.parse().map_err(|_| format!("TTL_SECS {ttl:?} is not a whole number"))?;
    if sub.trim().is_empty() {
        return Err("SUB must not be empty".into());
    }
    println!("{}", dev_jwt().issue_scoped(sub, ttl, scope));
    Ok(())
}

async fn up() -> Result<(), String> {
    telemetry::init_local();
    let api_port = port("VIDGATE_PORT", 3000)?;
    let aws_port = port("VIDGATE_AWS_PORT", 4566)?;
    let moto_program =
        env("VIDGATE_MOTO_SERVER").map_or_else(|| PathBuf::from(".venv/bin/moto_server"), PathBuf::from);
    // The CDN's settings are the local CDN's (below), whatever the environment says.
    let mut config =
        vidgate_local::config::local(|name| if name.starts_with("VIDGATE_CDN_") { None } else { env(name) })
            .map_err(|e| e.to_string())?;
    let throttles = Throttles::from_env(env)?;

    // Bind the API port first: if it is taken, fail before starting anything else.
    let listener = TcpListener::bind(("127.0.0.1", api_port))
        .await
        .map_err(|e| format!("can't listen on 127.0.0.1:{api_port}: {e} (set VIDGATE_PORT)"))?;
    let api = format!("http://127.0.0.1:{}", listener.local_addr().map_err(|e| e.to_string())?.port());
    let cdn_keys = cdn::local_keys(env, &api)?;
    config.cdn = cdn_keys.as_ref().map(|keys| keys.settings.clone());
    let aws = AwsEndpoint::start(&moto_program, aws_port, env("VIDGATE_MOTO_LOG").is_some()).await?;
    let sdk = bootstrap::sdk_config(&aws.endpoint()).await;
    bootstrap::ensure_resources(&sdk, &config.bucket, &config.table).await?;

    let delivery = notifications::Delivery::from_env(env)?;
    let queues = notifications::ensure_notifications(&sdk, &config.bucket, delivery).await?;
    let webhook = lifecycle::Webhook::from_env(env)?;
    let bus = config.event_bus.clone().unwrap_or_else(|| vidgate_local::config::LOCAL_EVENT_BUS.into());
    let webhook_queues = lifecycle::ensure_bus(&sdk, &bus, webhook.as_ref()).await?;
    let (table, bucket) = (config.table.clone(), config.bucket.clone());
    let signer = vidgate::aws::cdn::load_signer(&config, &sdk).await.map_err(|e| e.to_string())?;
    let local_cdn =
        cdn_keys.as_ref().map(|keys| cdn::LocalCdn::new(keys, bootstrap::s3_client(&sdk), &bucket));
    let signing = env("VIDGATE_LOCAL_SIGNING_SECS")
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("VIDGATE_LOCAL_SIGNING_SECS={v:?} is not a whole number"))
        })
        .transpose()?
        .filter(|secs| *secs > 0);
    let mut app = vidgate::aws::app(config, &sdk).with_cdn(signer);
    if let Some(secs) = signing {
        // Upload URLs signed with credentials that expire, as a role session's do in AWS.
        let credentials = aws.expiring_credentials(std::time::Duration::from_secs(secs));
        let c = &app.config;
        let objects =
            vidgate::aws::s3::S3ObjectStore::with_acceleration(&sdk, &c.bucket, c.s3_path_style, false)
                .signing_with(aws_credential_types::provider::SharedCredentialsProvider::new(credentials));
        app = app.with_objects(std::sync::Arc::new(objects));
        println!("vidgate local signing: credentials that expire {secs} s after they are handed out");
    }
    let images_queues = images::ensure_images(&sdk, &bus, delivery).await?;
    let (ffmpeg, ffmpeg_version) = images::ffmpeg(&app, FfmpegConfig::from_env(env)?).await?;
    tokio::spawn(notifications::pump(app.clone(), sdk.clone(), queues));
    // What the images rule, its queue and make-images do in AWS.
    tokio::spawn(images::run(app.clone(), ffmpeg, sdk.clone(), images_queues));
    // What the table's stream, publish-events and the webhook rule do in AWS.
    tokio::spawn(lifecycle::read_stream(
        sdk.clone(),
        aws.endpoint(),
        table,
        bucket.clone(),
        std::sync::Arc::new(vidgate::aws::eventbridge::EventBridgeBus::new(&sdk, &bus)),
        lifecycle::Mapping::default(),
    ));
    if let (Some(webhook), Some(queues)) = (webhook.clone(), webhook_queues) {
        println!("lifecycle events: POSTed to {}, signed (Standard Webhooks)", webhook.url);
        tokio::spawn(lifecycle::deliver(sdk.clone(), queues, webhook));
    }
    // What the schedule does in AWS: complete uploads whose client went away, and sweep
    // abandoned ones now and then.
    tokio::spawn(schedule::auto_complete(app.clone()));
    let sweep_secs: u64 = env("VIDGATE_SWEEP_SECS").and_then(|v| v.parse().ok()).unwrap_or(300);
    if sweep_secs > 0 {
        tokio::spawn(schedule::sweep(app.clone(), std::time::Duration::from_secs(sweep_secs)));
    }
    println!("vidgate local API: {api}");
    println!("vidgate local AWS endpoint: {}", aws.endpoint());
    println!("vidgate local images: {ffmpeg_version}");
    println!(
        "vidgate local auto-complete: uploads whose parts are all in S3, once quiet {} s",
        app.config.autocomplete_idle.as_secs()
    );
    match &cdn_keys {
        Some(keys) => {
            println!("vidgate local CDN: {} (key pair {})", keys.settings.url, keys.settings.key_pair_id)
        }
        None => println!("vidgate local CDN: off (VIDGATE_LOCAL_CDN=0): playback through the stream route"),
    }
    println!("(Ctrl-C stops both; a token: infra/local/token alice)");

    let web = env("VIDGATE_WEB_DIR").map_or_else(|| PathBuf::from("web"), PathBuf::from);
    let web = web.is_dir().then_some(web);
    gateway::serve(listener, Gateway::with_cdn(app, dev_jwt(), web, throttles, local_cdn), shutdown_signal())
        .await
        .map_err(|e| format!("API server failed: {e}"))?;
    drop(aws);
    println!("vidgate local stack stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler can be installed");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
