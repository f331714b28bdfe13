//! Progress on stderr: indicatif's bar (bytes, rate, ETA) on a terminal; plain lines every few
//! seconds otherwise, so logs of scripted runs stay readable.
//!
//! Rate and ETA count this run's bytes over this run's time, from its first byte: after a resume
//! the bar measures only what is left (the bytes already in S3 are named in its message), and a
//! line shows a rate only once a second of sending has passed.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::human_bytes;

pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    total: u64,
    done: AtomicU64,
    skipped: AtomicU64,
    /// When this run sent its first byte.
    started: Mutex<Option<Instant>>,
    last_line: Mutex<Option<Instant>>,
    quiet: bool,
}

const LINE_EVERY: Duration = Duration::from_secs(2);

impl Progress {
    /// A bar when stderr is a terminal, lines otherwise; nothing at all when `quiet`.
    pub fn new(label: &str, total: u64, quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
                )
                .expect("the template is valid")
                .progress_chars("=> "),
            );
            bar.set_message(label.to_owned());
            bar
        });
        Self {
            bar,
            label: label.to_owned(),
            total,
            done: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            started: Mutex::new(None),
            last_line: Mutex::new(None),
            quiet,
        }
    }

    /// Bytes already there before this run (resumed parts).
    pub fn skip(&self, bytes: u64) {
        self.done.fetch_add(bytes, Ordering::Relaxed);
        let skipped = self.skipped.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if let Some(bar) = &self.bar {
            bar.set_length(self.total.saturating_sub(skipped));
            bar.set_message(format!("{} ({} already in S3)", self.label, human_bytes(skipped)));
        }
    }

    pub fn add(&self, bytes: u64) {
        self.started.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(Instant::now);
        let done = self.done.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        } else {
            self.line(done, false);
        }
    }

    /// Takes back bytes of an attempt that failed (they will be sent again).
    pub fn sub(&self, bytes: u64) {
        let done = self.done.fetch_sub(bytes, Ordering::Relaxed).saturating_sub(bytes);
        if let Some(bar) = &self.bar {
            bar.set_position(done.saturating_sub(self.skipped.load(Ordering::Relaxed)));
        }
    }

    pub fn note(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(message),
            None if !self.quiet => eprintln!("{message}"),
            None => {}
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        } else {
            self.line(self.done.load(Ordering::Relaxed), true);
        }
    }

    fn line(&self, done: u64, last: bool) {
        if self.quiet {
            return;
        }
        let mut printed = self.last_line.lock().unwrap_or_else(|p| p.into_inner());
        if !last && printed.is_some_and(|at| at.elapsed() < LINE_EVERY) {
            return;
        }
        *printed = Some(Instant::now());
        let percent = if self.total == 0 { 100.0 } else { done as f64 * 100.0 / self.total as f64 };
        let mut line =
            format!("{}: {} of {} ({percent:.0} %)", self.label, human_bytes(done), human_bytes(self.total));
        let started = *self.started.lock().unwrap_or_else(|p| p.into_inner());
        let secs = started.map_or(0.0, |at| at.elapsed().as_secs_f64());
        // This run's bytes over this run's time; resumed bytes were not sent now.
        let sent = done.saturating_sub(self.skipped.load(Ordering::Relaxed));
        if secs >= 1.0 && sent > 0 {
            let rate = sent as f64 / secs;
            let eta = self.total.saturating_sub(done) as f64 / rate;
            line.push_str(&format!(" at {}/s, ETA {eta:.0} s", human_bytes(rate as u64)));
        }
        eprintln!("{line}");
    }
}
