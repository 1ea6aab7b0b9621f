//! A real S3-compatible server for tests: moto's server mode (`pip install 'moto[server]'`),
//! started on a free port and stopped when dropped. If it cannot start, the test fails loudly.

use std::process::Stdio;
use std::time::Duration;

pub struct S3Server {
    pub endpoint: String,
    child: tokio::process::Child,
    log: std::path::PathBuf,
}

pub const ACCESS_KEY_ID: &str = "sdelka-test";
pub const SECRET_ACCESS_KEY: &str = "sdelka-test-secret";
pub const REGION: &str = "us-east-1";

impl S3Server {
    /// Starts moto (`SDELKA_TEST_PYTHON`, default `python3`, `-m moto.server`) and waits until
    /// it answers.
    pub async fn start() -> S3Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port for the S3 server");
        let python = std::env::var("SDELKA_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let log = crate::temp_dir().join("moto.log");
        let log_file = std::fs::File::create(&log).expect("moto log file");
        let mut child = tokio::process::Command::new(&python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("moto log file"))
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start the S3 test server (`{python} -m moto.server`; pip install 'moto[server]'): {e}")
            });
        let endpoint = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        // Starting a Python server takes a few seconds; this bounds the wait, it asserts
        // nothing about time.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let out = std::fs::read_to_string(&log).unwrap_or_default();
                panic!(
                    "the S3 test server (moto) exited with {status} (pip install 'moto[server]'):\n{out}"
                );
            }
            if client
                .get(format!("{endpoint}/moto-api/"))
                .send()
                .await
                .is_ok()
            {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                let out = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("the S3 test server (moto) did not answer on {endpoint}:\n{out}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        S3Server {
            endpoint,
            child,
            log,
        }
    }

    /// Creates a bucket (moto keeps its buckets in memory).
    pub async fn create_bucket(&self, name: &str) {
        let res = reqwest::Client::new()
            .put(format!("{}/{name}", self.endpoint))
            .send()
            .await
            .expect("create bucket");
        assert!(
            res.status().is_success(),
            "create bucket {name}: {}",
            res.status()
        );
    }

    /// The keys of a bucket's objects under `prefix`, read from the server itself.
    pub async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let body = reqwest::Client::new()
            .get(format!(
                "{}/{bucket}?list-type=2&prefix={prefix}",
                self.endpoint
            ))
            .send()
            .await
            .expect("list bucket")
            .text()
            .await
            .expect("list bucket body");
        body.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_owned)
            .collect()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Points a configuration at `bucket/prefix` on this server.
    pub fn configure(&self, config: &mut sdelka_api::config::Config, bucket: &str, prefix: &str) {
        config.files_url = Some(format!("s3://{bucket}/{prefix}"));
        config.s3_endpoint = Some(self.endpoint.clone());
        config.s3_region = Some(REGION.into());
        config.s3_access_key_id = Some(ACCESS_KEY_ID.into());
        config.s3_secret_access_key = Some(sdelka_api::config::Secret::new(SECRET_ACCESS_KEY));
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
