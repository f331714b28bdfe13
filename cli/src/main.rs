//! `vidgate`: upload, list, inspect, abort, play and download videos.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use vidgate_cli::api::{Api, Video};
use vidgate_cli::capacity::Shape;
use vidgate_cli::download::{DownloadOptions, download};
use vidgate_cli::state::{FileIdentity, StateDir};
use vidgate_cli::upload::{MAX_CONCURRENCY, UploadOptions, upload};
use vidgate_cli::{CliError, Result, exit, human_bytes, parse_size};

#[derive(Parser)]
#[command(name = "vidgate", version, about = "Put videos into vidgate and get them back out")]
#[command(after_help = "Exit codes: 0 done; 1 failed on the way (network, API, S3: a rerun may succeed); \
    2 something to change (arguments, file, token, the video's state); 130 interrupted (rerun to resume).")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the API is and who is calling: every command but `capacity`.
#[derive(Args)]
struct Connection {
    // These are read from the environment here, not by clap: clap prints a flag it took from the
    // environment in its usage lines, as if it were required.
    /// The API's base URL [env: VIDGATE_API_URL; default: http://127.0.0.1:3000].
    #[arg(long)]
    api_url: Option<String>,
    /// A bearer token (the JWT your identity provider issued) [env: VIDGATE_TOKEN].
    #[arg(long)]
    token: Option<String>,
    /// Local stack only: sign in as this user with a dev token (what `infra/local/token USER`
    /// prints) [env: VIDGATE_DEV_USER].
    #[arg(long)]
    dev_user: Option<String>,
}

/// Parts in flight at once (1–64).
fn concurrency(text: &str) -> std::result::Result<usize, String> {
    let n: usize = text.parse().map_err(|_| format!("{text:?} is not a number"))?;
    if (1..=MAX_CONCURRENCY).contains(&n) {
        Ok(n)
    } else {
        Err(format!("must be within 1..={MAX_CONCURRENCY}"))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Upload a video: parallel parts straight to S3. The same command resumes an interrupted
    /// upload, and finds one already done (it sends nothing then; --again uploads a copy).
    Upload {
        file: PathBuf,
        /// Parts in flight at once (1–64).
        #[arg(long, short = 'c', default_value_t = 8, value_parser = concurrency)]
        concurrency: usize,
        /// Part size, 5M to 5G (e.g. 8M, 64MiB); the server picks one when omitted. Memory held is
        /// about 2 × concurrency × part size.
        #[arg(long, value_parser = parse_size)]
        part_size: Option<u64>,
        /// Upload a copy even if this file's bytes were uploaded before.
        #[arg(long)]
        again: bool,
        /// Print the final video (and what the run did) as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Send no checksums (by default each part's CRC-64/NVME is signed into its URL, so S3
        /// refuses bytes that differ, and the whole file's is checked at completion).
        #[arg(long)]
        no_checksum: bool,
        /// Upload with an upload link an app gave you (its uploadUrl, …/v1/links/<token>): no
        /// token or account needed; the link's limits apply.
        #[arg(long, value_name = "URL")]
        link: Option<String>,
        #[command(flatten)]
        connection: Connection,
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
        #[command(flatten)]
        connection: Connection,
    },
    /// Show one video as JSON (its `media`: duration, picture, codecs, faststart, browsers; its
    /// `images`: the poster's moment and size, the storyboard's tiles).
    /// IDs may be shortened to a prefix that only one of your videos starts with.
    Info {
        id: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Abort an unfinished upload.
    Abort {
        id: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Delete videos for good, in any state: their bytes, any upload still open, their metadata.
    Rm {
        #[arg(required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        connection: Connection,
    },
    /// Save the video's poster as a JPEG. With --at, first ask for the frame at that moment
    /// (it replaces the poster) and wait for it.
    Poster {
        id: String,
        /// Where to write it (default: the video's file name with .jpg).
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        /// The moment to show: 12.5s, 1500ms, 1:02.5.
        #[arg(long, value_parser = vidgate_cli::poster::parse_moment)]
        at: Option<u64>,
        #[command(flatten)]
        connection: Connection,
    },
    /// Print a playback URL (for a `<video>` tag or a player) once the video is uploaded.
    Play {
        id: String,
        #[command(flatten)]
        connection: Connection,
    },
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
        /// Days a video is kept: storage is the steady state of that many days of uploads.
        #[arg(long, default_value_t = 365.0)]
        retention_days: f64,
        /// Share of CDN requests served from the edge (0–1).
        #[arg(long, default_value_t = 0.9)]
        cache_hit: f64,
        /// Print both models (every line and limit) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check that a local file is a video's bytes: its CRC-64/NVME against the recorded one.
    Verify {
        id: String,
        file: PathBuf,
        #[command(flatten)]
        connection: Connection,
    },
    /// Download a video through its playback URL (the CDN when deployed with one, else the stream
    /// route), in parallel ranges; verified against its recorded checksum.
    Download {
        id: String,
        /// Where to write it (default: its filename, in the current directory).
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        #[arg(long, short = 'c', default_value_t = 8, value_parser = concurrency)]
        concurrency: usize,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        connection: Connection,
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

async fn api(connection: &Connection) -> Result<Api> {
    let env = |name| std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let given =
        |flag: &Option<String>| flag.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    // A flag wins over the environment; a token over a dev user.
    let (token, dev_user) = match (given(&connection.token), given(&connection.dev_user)) {
        (None, None) => (env("VIDGATE_TOKEN"), env("VIDGATE_DEV_USER")),
        flags => flags,
    };
    let api_url = given(&connection.api_url)
        .or_else(|| env("VIDGATE_API_URL"))
        .unwrap_or_else(|| "http://127.0.0.1:3000".into());
    let token = match (token, dev_user) {
        (Some(token), _) => token,
        (None, Some(user)) => Api::dev_token(&api_url, &user).await?,
        _ => {
            return Err(CliError::Refused(
                "no token: set VIDGATE_TOKEN or pass --token (a JWT your identity provider issued); \
                 against the local stack, `export VIDGATE_TOKEN=$(infra/local/token NAME)` or --dev-user NAME"
                    .into(),
            ));
        }
    };
    Ok(Api::new(&api_url, &token))
}

fn print_json(value: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(value).expect("JSON values serialize"));
}

/// The full ID of the caller's one video whose ID starts with `prefix`.
async fn resolve(api: &Api, prefix: &str) -> Result<String> {
    let prefix = prefix.trim().to_ascii_lowercase();
    if prefix.len() == 36 {
        return Ok(prefix);
    }
    if prefix.is_empty() {
        return Err(CliError::Refused("an empty video ID".into()));
    }
    let matches: Vec<Video> =
        api.videos(None, usize::MAX).await?.into_iter().filter(|v| v.id.starts_with(&prefix)).collect();
    match matches.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(CliError::Refused(format!(
            "none of your videos has an ID starting with {prefix} (`vidgate ls` lists them)"
        ))),
        many => Err(CliError::Refused(format!(
            "{} of your videos have IDs starting with {prefix}: {}; give more of the ID",
            many.len(),
            many.iter().take(5).map(|v| format!("{} ({})", v.id, v.filename)).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Why `video` can't be played (or downloaded) now, and whether it ever will be.
fn not_playable(video: &Video) -> Option<CliError> {
    let id = &video.id;
    let why = match video.status.as_str() {
        "uploaded" => return None,
        "uploading" => format!(
            "video {id} is still uploading: it plays once its upload completes (rerun the `vidgate upload` \
             that started it to finish it)"
        ),
        "rejected" => format!(
            "video {id} was rejected and will never play: {}. Upload a different file.",
            video.raw["rejectReason"].as_str().unwrap_or("no reason recorded")
        ),
        other => format!("video {id} is {other}: its upload never completed, so it will never play"),
    };
    Some(CliError::Refused(why))
}

/// `vidgate upload`, with Ctrl-C turned into the command that resumes it.
async fn upload_command(api: &Api, file: &Path, options: &UploadOptions, json: bool) -> Result<()> {
    let states = StateDir::from_env();
    let report = tokio::select! {
        report = upload(api, &states, file, options, false) => report?,
        _ = tokio::signal::ctrl_c() => {
            let id = FileIdentity::of(file)
                .ok()
                .and_then(|f| states.load(api.base(), &f.path).ok().flatten())
                .map(|state| format!(" (upload {})", state.video_id))
                .unwrap_or_default();
            let link = api.link_url().map(|url| format!("--link {} ", shell_word(url))).unwrap_or_default();
            eprintln!(
                "\nvidgate: interrupted{id}; the parts already in S3 are kept. To resume, run:\n  vidgate upload {link}{}",
                shell_word(&file.display().to_string())
            );
            std::process::exit(exit::INTERRUPTED);
        }
    };
    if json {
        print_json(&report);
        return Ok(());
    }
    let video = &report.video;
    let (id, filename) = (video["id"].as_str().unwrap_or("?"), video["filename"].as_str().unwrap_or("?"));
    let size = human_bytes(video["size"].as_u64().unwrap_or(0));
    if report.already_uploaded {
        println!("{id} uploaded {filename} ({size}; already uploaded on {}, nothing sent)", created(video));
        eprintln!("vidgate: {} is video {id}; `--again` uploads a copy", file.display());
    } else {
        println!(
            "{id} {} {filename} ({size}; {} parts sent, {} already there, {:.1} s)",
            video["status"].as_str().unwrap_or("?"),
            report.parts_sent,
            report.parts_skipped,
            report.seconds
        );
    }
    if let Some(media) = vidgate_cli::media_summary(video) {
        println!("{media}");
    }
    Ok(())
}

fn created(video: &serde_json::Value) -> &str {
    video["createdAt"].as_str().map_or("?", |at| at.get(..10).unwrap_or(at))
}

/// `text` as one shell word, quoted only when it needs to be.
fn shell_word(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c)) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The file a download writes by default: the video's filename, in the current directory.
fn default_output(video: &Video) -> Result<PathBuf> {
    let name = Path::new(&video.filename)
        .file_name()
        .map(PathBuf::from)
        .filter(|n| !n.as_os_str().is_empty() && n.as_os_str() != "..")
        .unwrap_or_else(|| PathBuf::from(format!("{}.mp4", video.id)));
    if name.exists() {
        return Err(CliError::Refused(format!(
            "{} exists; pass -o PATH to write the download elsewhere",
            name.display()
        )));
    }
    Ok(name)
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Capacity {
            uploads_per_day,
            mean_size,
            watch_hours_per_day,
            bitrate_mbps,
            peak_viewers,
            retention_days,
            cache_hit,
            json,
        } => {
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
            if json {
                print_json(&vidgate_cli::capacity::json(&shape));
            } else {
                print!("{}", vidgate_cli::capacity::render(&shape));
            }
        }
        Command::Upload { file, concurrency, part_size, again, json, no_checksum, link, connection } => {
            let options = UploadOptions {
                concurrency,
                part_size,
                checksums: !no_checksum,
                again,
                ..UploadOptions::default()
            };
            // Checked before a token is asked for: nothing is called with options that can't work.
            if let Some(note) = options.check()? {
                eprintln!("vidgate: {note}");
            }
            let api = match link {
                Some(url) => Api::for_link(&url)?,
                None => api(&connection).await?,
            };
            upload_command(&api, &file, &options, json).await?;
        }
        Command::Ls { status, limit, json, connection } => {
            let videos = api(&connection).await?.videos(status.as_deref(), limit).await?;
            if json {
                print_json(&videos.iter().map(|v| &v.raw).collect::<Vec<_>>());
            } else if videos.is_empty() {
                match status {
                    Some(status) => eprintln!("vidgate: no {status} videos"),
                    None => eprintln!("vidgate: no videos yet; `vidgate upload FILE` uploads one"),
                }
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
        Command::Info { id, connection } => {
            let api = api(&connection).await?;
            let id = resolve(&api, &id).await?;
            print_json(&api.video(&id).await?.raw);
        }
        Command::Abort { id, connection } => {
            let api = api(&connection).await?;
            let id = resolve(&api, &id).await?;
            api.abort(&id).await?;
            StateDir::from_env().forget_video(&id);
            println!("aborted {id}");
        }
        Command::Rm { ids, connection } => {
            let api = api(&connection).await?;
            // Every id is tried; the first failure decides the exit code.
            let mut failed = None;
            for given in &ids {
                let deleted = match resolve(&api, given).await {
                    Ok(id) => api.delete(&id).await.map(|()| id),
                    Err(e) => Err(e),
                };
                match deleted {
                    Ok(id) => {
                        StateDir::from_env().forget_video(&id);
                        println!("deleted {id}");
                    }
                    Err(e) => {
                        eprintln!("vidgate: {given}: {e}");
                        failed.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = failed {
                return Err(e);
            }
        }
        Command::Play { id, connection } => {
            let api = api(&connection).await?;
            let id = resolve(&api, &id).await?;
            let video = api.video(&id).await?;
            if let Some(why) = not_playable(&video) {
                return Err(why);
            }
            println!("{}", api.playback(&id).await?);
        }
        Command::Poster { id, output, at, connection } => {
            let api = api(&connection).await?;
            let id = resolve(&api, &id).await?;
            let video = match at {
                Some(time_ms) => api.set_poster(&id, time_ms).await?,
                None => api.video(&id).await?,
            };
            let output = output.unwrap_or_else(|| vidgate_cli::poster::default_output(&video));
            let (bytes, time_ms) = vidgate_cli::poster::download(&api, &id, &output).await?;
            println!(
                "{id} → {} (the frame at {:.3} s, {})",
                output.display(),
                time_ms as f64 / 1000.0,
                human_bytes(bytes as u64)
            );
        }
        Command::Verify { id, file, connection } => {
            let api = api(&connection).await?;
            let id = resolve(&api, &id).await?;
            let checksum = vidgate_cli::download::verify(&api, &id, &file).await?;
            println!("{} is video {id} (CRC-64/NVME {checksum})", file.display());
        }
        Command::Download { id, output, concurrency, json, connection } => {
            let api = api(&connection).await?;
            let id = resolve(&api, &id).await?;
            let video = api.video(&id).await?;
            if let Some(why) = not_playable(&video) {
                return Err(why);
            }
            let output = match output {
                Some(output) => output,
                None => default_output(&video)?,
            };
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
