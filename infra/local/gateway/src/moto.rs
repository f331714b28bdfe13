//! moto's server as a child process: local S3, DynamoDB and STS on one port.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long moto may take to start (it imports a lot of Python).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running moto server, stopped when dropped (and, through `PR_SET_PDEATHSIG`, when the thread
/// that started it dies, so a killed gateway or test leaves no moto behind).
pub struct MotoServer {
    child: Child,
    port: u16,
}

impl MotoServer {
    /// Starts `moto_server` on 127.0.0.1:`port` (0 picks a free port) and waits until it listens.
    /// `echo` forwards moto's own log lines to our stderr.
    pub fn start(program: &Path, port: u16, echo: bool) -> Result<Self, String> {
        let mut command = Command::new(program);
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("could not start {}: {e} (run infra/local/setup)", program.display()))?;

        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel::<Result<u16, String>>();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            let mut recent: Vec<String> = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if echo {
                    eprintln!("[moto] {line}");
                }
                if let Some(sender) = &tx {
                    if let Some(port) = listening_port(&line) {
                        let _ = sender.send(Ok(port));
                        tx = None;
                    } else {
                        recent.push(line);
                    }
                }
            }
            if let Some(sender) = tx {
                let _ = sender.send(Err(recent.join("\n")));
            }
        });

        match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(port)) => Ok(Self { child, port }),
            Ok(Err(output)) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("moto_server exited before listening:\n{output}"))
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("moto_server did not listen within {START_TIMEOUT:?}"))
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port in werkzeug's ` * Running on http://127.0.0.1:PORT` line.
fn listening_port(line: &str) -> Option<u16> {
    let rest = line.split("Running on http://127.0.0.1:").nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_port_from_werkzeugs_banner() {
        assert_eq!(listening_port(" * Running on http://127.0.0.1:44073"), Some(44073));
        assert_eq!(listening_port("\u{1b}[33m * Running on http://127.0.0.1:5000\u{1b}[0m"), Some(5000));
        assert_eq!(listening_port("Press CTRL+C to quit"), None);
    }
}
