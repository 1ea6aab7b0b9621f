//! The `sdelka` binary as a child process, for tests that kill it (SIGKILL) and start it again
//! on the same database.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::{ADMIN_EMAIL, ADMIN_PASSWORD, JWT_SECRET};

/// The `sdelka` binary of the api crate, next to this test's executable
/// (`target/<profile>/deps/api-…` → `target/<profile>/sdelka`), or `SDELKA_BIN`.
pub fn server_binary() -> PathBuf {
    if let Ok(p) = std::env::var("SDELKA_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let bin = profile_dir.join(format!("sdelka{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "the server binary {} does not exist. `cargo test --workspace` builds it (the api \
         crate's own tests need it); when running only this crate, build it first with \
         `cargo build -p sdelka-api --bin sdelka`, or point SDELKA_BIN at it",
        bin.display()
    );
    bin
}

/// A port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server running as a child process on `database_url`.
pub struct ChildServer {
    pub child: tokio::process::Child,
    pub base: String,
}

impl ChildServer {
    pub async fn start(database_url: &str, data_dir: &Path) -> ChildServer {
        Self::start_with(database_url, data_dir, &[]).await
    }

    /// Started with the test settings plus `env` (`SDELKA_…` variables).
    pub async fn start_with(
        database_url: &str,
        data_dir: &Path,
        env: &[(&str, String)],
    ) -> ChildServer {
        let port = free_port();
        let mut cmd = tokio::process::Command::new(server_binary());
        cmd.arg("serve")
            .env_remove("SDELKA_CONFIG")
            .env("SDELKA_DATABASE_URL", database_url)
            .env("SDELKA_DATA_DIR", data_dir)
            .env("SDELKA_BIND", format!("127.0.0.1:{port}"))
            .env("SDELKA_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("SDELKA_JWT_SECRET", JWT_SECRET)
            .env("SDELKA_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("SDELKA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("SDELKA_RATE_LIMIT_PER_SECOND", "100000")
            .env("SDELKA_RATE_LIMIT_BURST", "100000")
            .env("SDELKA_DATABASE_MAX_CONNECTIONS", "8")
            .env("SDELKA_LOG", "error");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server_binary().display()));
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..600 {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the server exited before it was ready: {status}");
            }
            let ready = client
                .get(format!("{base}/health/ready"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return ChildServer { child, base };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server did not become ready");
    }

    /// SIGKILL: no graceful anything.
    pub async fn kill(&mut self) {
        self.child.kill().await.unwrap();
    }
}
