//! `vidgate`: upload, list, inspect, abort, play and download videos.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use vidgate_cli::api::Api;
use vidgate_cli::capacity::Shape;
use vidgate_cli::download::{DownloadOptions, download};
use vidgate_cli::state::StateDir;
use vidgate_cli::upload::{UploadOptions, upload};
use vidgate_cli::{CliError, Result, human_bytes, parse_size};

#[derive(Parser)]
#[command(name = "vidgate", version, about = "Put videos into vidgate and get them back out")]
struct Cli {
    /// The API's base URL.
    #[arg(long, env = "VIDGATE_API_URL", default_value = "http://127.0.0.1:3000", global = true)]
    api_url: String,
    /// A bearer token (the JWT your identity provider issued).
    #[arg(long, env = "VIDGATE_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// Local stack only: sign in as this user with a dev token (what `infra/local/token USER` prints).
    #[arg(long, env = "VIDGATE_DEV_USER", global = true, conflicts_with = "token")]
    dev_user: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Upload a video: parallel parts straight to S3; rerun the same command to resume.
    Upload {
        file: PathBuf,
        /// Parts in flight at once.
        #[arg(long, short = 'c', default_value_t = 8)]
        concurrency: usize,
        /// Part size (e.g. 8M, 64MiB); the server picks one when omitted.
        #[arg(long, value_parser = parse_size)]
        part_size: Option<u64>,
        /// Print the final video (and what the run did) as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Send no checksums (by default each part's CRC-64/NVME is signed into its URL, so S3
        /// refuses bytes that differ, and the whole file's is checked at completion).
        #[arg(long)]
        no_checksum: bool,
    },
    /// List my videos, newest first.
    Ls {
        /// Only videos in this status (uploading, uploaded, aborted, expired, rejected).
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Show one video as JSON (its `media`: duration, picture, codecs, faststart, browsers).
    Info { id: String },
    /// Abort an unfinished upload.
    Abort { id: String },
    /// Delete videos for good, in any state: their bytes, any upload still open, their metadata.
    Rm {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Print a playback URL (for a `<video>` tag or a player) once the video is uploaded.
    Play { id: String },
    /// What a shape of traffic costs a month and which limit it reaches first, playback through
    /// the stream route and through a CDN (us-east-1 list prices; no API call is made).
    Capacity {
        /// Videos uploaded a day.
        #[arg(long)]
        uploads_per_day: f64,
        /// Their mean size (e.g. 500M, 2GiB).
        #[arg(long, value_parser = parse_size)]
        mean_size: u64,
        /// Hours watched a day, all viewers together.
        #[arg(long)]
        watch_hours_per_day: f64,
        /// Playback bitrate in Mbit/s.
        #[arg(long, default_value_t = 5.0)]
        bitrate_mbps: f64,
        /// Viewers at the busiest moment (default: the day's average audience × 3).
        #[arg(long)]
        peak_viewers: Option<f64>,
        /// Days a video is kept.
        #[arg(long, default_value_t = 365.0)]
        retention_days: f64,
        /// Share of CDN requests served from the edge (0–1).
        #[arg(long, default_value_t = 0.9)]
        cache_hit: f64,
    },
    /// Check that a local file is a video's bytes: its CRC-64/NVME against the recorded one.
    Verify { id: String, file: PathBuf },
    /// Download a video through the stream route, in parallel ranges; verified against its
    /// recorded checksum.
    Download {
        id: String,
        #[arg(long, short = 'o')]
        output: PathBuf,
        #[arg(long, short = 'c', default_value_t = 8)]
        concurrency: usize,
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(error) = run(cli).await {
        eprintln!("vidgate: {error}");
        std::process::exit(error.exit_code());
    }
}

async fn token(cli: &Cli) -> Result<String> {
    if let Some(token) = cli.token.as_deref().filter(|t| !t.trim().is_empty()) {
        return Ok(token.trim().to_owned());
    }
    if let Some(user) = &cli.dev_user {
        return Api::dev_token(&cli.api_url, user).await;
    }
    Err(CliError::Refused(
        "no token: set VIDGATE_TOKEN or pass --token; against the local stack, --dev-user NAME".into(),
    ))
}

fn print_json(value: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(value).expect("JSON values serialize"));
}

async fn run(cli: Cli) -> Result<()> {
    if let Command::Capacity {
        uploads_per_day,
        mean_size,
        watch_hours_per_day,
        bitrate_mbps,
        peak_viewers,
        retention_days,
        cache_hit,
    } = cli.command
    {
        let shape = Shape {
            uploads_per_day,
            mean_size: mean_size as f64,
            watch_hours_per_day,
            bitrate: bitrate_mbps * 1e6,
            peak_viewers,
            retention_days,
            cache_hit,
            ..Shape::default()
        };
        shape.check().map_err(CliError::Refused)?;
        print!("{}", vidgate_cli::capacity::render(&shape));
        return Ok(());
    }
    let api = Api::new(&cli.api_url, &token(&cli).await?);
    match cli.command {
        Command::Upload { file, concurrency, part_size, json, no_checksum } => {
            let options =
                UploadOptions { concurrency, part_size, checksums: !no_checksum, ..UploadOptions::default() };
            let report = upload(&api, &StateDir::from_env(), &file, &options, false).await?;
            if json {
                print_json(&report);
            } else {
                let size = report.video["size"].as_u64().unwrap_or(0);
                println!(
                    "{} {} {} ({}; {} parts sent, {} already there, {:.1} s)",
                    report.video["id"].as_str().unwrap_or("?"),
                    report.video["status"].as_str().unwrap_or("?"),
                    report.video["filename"].as_str().unwrap_or("?"),
                    human_bytes(size),
                    report.parts_sent,
                    report.parts_skipped,
                    report.seconds
                );
                if let Some(media) = vidgate_cli::media_summary(&report.video) {
                    println!("{media}");
                }
            }
        }
        Command::Ls { status, limit, json } => {
            let videos = api.videos(status.as_deref(), limit).await?;
            if json {
                print_json(&videos.iter().map(|v| &v.raw).collect::<Vec<_>>());
            } else {
                for v in &videos {
                    let size = v.size.map_or_else(|| "-".into(), human_bytes);
                    let media =
                        vidgate_cli::media_summary(&v.raw).map(|m| format!("  {m}")).unwrap_or_default();
                    println!(
                        "{}  {:<9}  {:>10}  {}  {}{media}",
                        v.id, v.status, size, v.created_at, v.filename
                    );
                }
            }
        }
        Command::Info { id } => print_json(&api.video(&id).await?.raw),
        Command::Abort { id } => {
            api.abort(&id).await?;
            StateDir::from_env().forget_video(&id);
            println!("aborted {id}");
        }
        Command::Rm { ids } => {
            // Every id is tried; the first failure decides the exit code.
            let mut failed = None;
            for id in &ids {
                match api.delete(id).await {
                    Ok(()) => {
                        StateDir::from_env().forget_video(id);
                        println!("deleted {id}");
                    }
                    Err(e) => {
                        eprintln!("vidgate: {id}: {e}");
                        failed.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = failed {
                return Err(e);
            }
        }
        Command::Play { id } => {
            let video = api.video(&id).await?;
            if video.status != "uploaded" {
                return Err(CliError::Refused(format!(
                    "video {id} is {}: it can be played once it is uploaded",
                    video.status
                )));
            }
            println!("{}", api.playback(&id).await?);
        }
        // Answered above, before a token is needed.
        Command::Capacity { .. } => {}
        Command::Verify { id, file } => {
            let checksum = vidgate_cli::download::verify(&api, &id, &file).await?;
            println!("{} is video {id} (CRC-64/NVME {checksum})", file.display());
        }
        Command::Download { id, output, concurrency, json } => {
            let options = DownloadOptions { concurrency, ..DownloadOptions::default() };
            let report = download(&api, &id, &output, &options, false).await?;
            if json {
                print_json(&report);
            } else {
                println!(
                    "{} → {} ({}, {:.1} s)",
                    id,
                    output.display(),
                    human_bytes(report.bytes),
                    report.seconds
                );
            }
        }
    }
    Ok(())
}
