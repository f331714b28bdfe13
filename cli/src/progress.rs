//! Progress on stderr: indicatif's bar (bytes, rate, ETA) on a terminal; plain lines every few
//! seconds otherwise, so logs of scripted runs stay readable.

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
    started: Instant,
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
            started: Instant::now(),
            last_line: Mutex::new(None),
            quiet,
        }
    }

    /// Bytes already there before this run (resumed parts).
    pub fn skip(&self, bytes: u64) {
        self.done.fetch_add(bytes, Ordering::Relaxed);
        self.skipped.fetch_add(bytes, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
            bar.reset_eta();
        }
    }

    pub fn add(&self, bytes: u64) {
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
            bar.set_position(done);
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
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        // This run's rate: resumed bytes were not sent now.
        let rate = done.saturating_sub(self.skipped.load(Ordering::Relaxed)) as f64 / secs;
        let eta = if rate > 0.0 { (self.total.saturating_sub(done)) as f64 / rate } else { 0.0 };
        let percent = if self.total == 0 { 100.0 } else { done as f64 * 100.0 / self.total as f64 };
        eprintln!(
            "{}: {} of {} ({percent:.0} %) at {}/s, ETA {eta:.0} s",
            self.label,
            human_bytes(done),
            human_bytes(self.total),
            human_bytes(rate as u64)
        );
    }
}
