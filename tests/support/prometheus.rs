//! A real Prometheus server for metric gate tests, backfilled with known samples by
//! `promtool` and killed when the guard drops.
//!
//! The binaries come from Debian's `prometheus` package (`.ci/test` installs it). When they
//! are missing the tests fail with the command that installs them: a metric gate untested
//! against a real server is not something to skip silently.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The route prefix the server is started with, to exercise URLs with a path.
pub const PREFIX: &str = "/prom";

/// A running Prometheus; dropping it kills the process.
pub struct Prometheus {
    child: Child,
    /// `http://127.0.0.1:PORT/prom` (no trailing slash).
    pub url: String,
    /// `http://127.0.0.1:PORT`, without the route prefix.
    pub root: String,
    log: PathBuf,
    // Holds the data directory until the server is gone.
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name` on PATH or in /usr/bin, or a failure saying how to install it.
fn binary(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    on_path
        .or_else(|| Some(Path::new("/usr/bin").join(name)).filter(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed; the metric gate tests need a real Prometheus server.\n\
                 Install it with `apt-get install -y prometheus` (Debian/Ubuntu; provides \
                 `prometheus` and `promtool`), or run the tests through `.ci/test`, which does."
            )
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A blocking `GET path` on 127.0.0.1:port; the status code, if any answer came.
fn get_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split(' ').nth(1)?.parse().ok()
}

impl Prometheus {
    /// Backfills `openmetrics` (OpenMetrics text ending in `# EOF`) into a fresh TSDB and
    /// serves it, waiting until `/-/ready` answers 200.
    pub fn start(openmetrics: &str) -> Prometheus {
        let prometheus = binary("prometheus");
        let promtool = binary("promtool");
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let input = dir.path().join("samples.om");
        std::fs::write(&input, openmetrics).unwrap();
        let backfill = Command::new(&promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&input)
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            backfill.status.success(),
            "promtool backfill failed:\n{}{}",
            String::from_utf8_lossy(&backfill.stdout),
            String::from_utf8_lossy(&backfill.stderr)
        );
        let config = dir.path().join("prometheus.yml");
        // No scrape targets: the server only serves the backfilled blocks.
        std::fs::write(&config, "global:\n  scrape_interval: 1h\n").unwrap();
        let log = dir.path().join("prometheus.log");
        let port = free_port();
        let child = Command::new(&prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            // Retention counts back from the newest block; the samples are years old.
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!(
                "--web.external-url=http://127.0.0.1:{port}{PREFIX}/"
            ))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut server = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}{PREFIX}"),
            root: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if get_status(port, &format!("{PREFIX}/-/ready")) == Some(200) {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "prometheus exited with {status} before it was ready:\n{}",
                    server.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "prometheus was not ready within 60s:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
