//! The README's shell blocks run as written, in order, against a fresh server.
//!
//! The test starts the real `sdelka` binary on a new SQLite database (as `cargo run --release`
//! does, with the first admin's password printed once), exports the printed password as
//! `ADMIN_PASSWORD` (the README tells its reader to do the same) and runs every ```sh block of
//! the README in one `bash` with `set -euo pipefail`, so a variable never set, a failing command
//! or an answer without the id a block reads stops it. Every HTTP request the blocks make is
//! recorded: it must answer 2xx, unless its block names the status in a comment (`# 409: …`).
//! The one difference from a reader's terminal is the port: the server listens on a free one,
//! and `127.0.0.1:8080` in the blocks is replaced by it.
//!
//! Blocks that build or run the project itself (`cargo …`, `bash bench/run.sh`) are checked for
//! syntax only: running them here would run this very suite, or a benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// One fenced ```sh block: where it starts and its text, de-indented.
struct Block {
    line: usize,
    text: String,
}

fn shell_blocks(readme: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, usize, String)> = None; // (line, indent, text)
    for (n, raw) in readme.lines().enumerate() {
        let trimmed = raw.trim_start();
        let indent = raw.len() - trimmed.len();
        match current.take() {
            None => {
                if trimmed == "```sh" || trimmed == "```bash" {
                    current = Some((n + 1, indent, String::new()));
                }
            }
            Some((line, ind, mut text)) => {
                if trimmed.starts_with("```") {
                    blocks.push(Block { line, text });
                } else {
                    let cut = raw.len().min(ind);
                    let body = if raw[..cut].trim().is_empty() {
                        &raw[cut..]
                    } else {
                        trimmed
                    };
                    text.push_str(body);
                    text.push('\n');
                    current = Some((line, ind, text));
                }
            }
        }
    }
    assert!(current.is_none(), "README has an unclosed ```sh block");
    blocks
}

/// A block that builds, tests or benchmarks the source tree rather than talking to the server.
fn is_project_command(block: &Block) -> bool {
    block.text.lines().all(|line| {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return true;
        }
        let command = line
            .split_whitespace()
            .find(|word| !word.contains('='))
            .unwrap_or("");
        command == "cargo" || line.starts_with("bash bench/")
    })
}

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `sdelka` in `work` with its data in `data`; answers the server, its address and the
/// first admin's printed password.
fn start_server(bin: &Path, work: &Path, data: &Path) -> (Server, String, String) {
    let mut cmd = Command::new(bin);
    for (key, _) in std::env::vars() {
        if key.starts_with("SDELKA_") {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd
        .current_dir(work)
        .env("SDELKA_DATA_DIR", data)
        .env("SDELKA_BIND", "127.0.0.1:0")
        .env("SDELKA_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let stdout = child.stdout.take().unwrap();
    let server = Server { child };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut password = None;
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the server printed neither its first admin nor its address");
        if let Some(rest) = line.strip_prefix("First admin created: email admin@sdelka.local, ") {
            password = rest.strip_prefix("password ").map(str::to_owned);
        }
        if let Some(rest) = line.strip_prefix("Sdelka listens on http://") {
            let addr = rest.split_whitespace().next().unwrap().to_owned();
            let password = password.expect("the first admin's password was not printed");
            return (server, addr, password);
        }
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sdelka-readme-{}-{}-{name}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_shell_block_of_the_readme_runs_as_written() {
    for tool in ["bash", "curl", "jq", "python3"] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(found, "the README's blocks need `{tool}` on PATH");
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let blocks = shell_blocks(&readme);
    assert!(blocks.len() > 5, "README has too few shell blocks");

    // The two commands the README opens with are the ones CI and a reader run.
    let first = &blocks[0].text;
    assert!(first.contains("cargo run --release") && first.contains("cargo test --workspace"));

    let (project, api): (Vec<&Block>, Vec<&Block>) =
        blocks.iter().partition(|b| is_project_command(b));
    for block in &project {
        let status = Command::new("bash")
            .arg("-n")
            .arg("-c")
            .arg(&block.text)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "README line {}: not valid shell",
            block.line
        );
    }

    let work = temp_dir("work");
    let data = work.join("data");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_sdelka"));
    let (_server, addr, password) = start_server(&bin, &work, &data);

    // One script: the blocks share their variables, as in a reader's terminal.
    let statuses = work.join("http");
    std::fs::create_dir_all(&statuses).unwrap();
    let mut script = String::from(
        "set -euo pipefail\n\
         curl() { command curl -w '%{stderr}README-HTTP %{http_code} %{method} %{url_effective}\\n' \"$@\"; }\n",
    );
    for (i, block) in api.iter().enumerate() {
        script.push_str(&format!(
            "exec 2>>{dir}/{i}; echo '=== README line {line}' >&2\n{text}\n",
            dir = statuses.display(),
            line = block.line,
            text = block.text.replace("127.0.0.1:8080", &addr),
        ));
    }
    let bin_dir = bin.parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    for (key, _) in std::env::vars() {
        if key.starts_with("SDELKA_") {
            cmd.env_remove(key);
        }
    }
    let output = cmd
        .arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env("PATH", path)
        .env("ADMIN_PASSWORD", &password)
        .env("SDELKA_DATA_DIR", &data)
        .env("SDELKA_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);

    let mut failures = Vec::new();
    let mut requests = 0;
    for (i, block) in api.iter().enumerate() {
        let log = std::fs::read_to_string(statuses.join(i.to_string())).unwrap_or_default();
        for line in log.lines() {
            let Some(rest) = line.strip_prefix("README-HTTP ") else {
                continue;
            };
            requests += 1;
            let code = rest.split_whitespace().next().unwrap_or("");
            let announced = block
                .text
                .lines()
                .filter_map(|l| l.split_once('#').map(|(_, comment)| comment))
                .any(|comment| comment.contains(code));
            if !code.starts_with('2') && !announced {
                failures.push(format!("README block at line {}: {rest}", block.line));
            }
        }
        if !output.status.success() && i + 1 == api.len() {
            break;
        }
    }
    if !output.status.success() {
        let last_log = (0..api.len())
            .rev()
            .find_map(|i| std::fs::read_to_string(statuses.join(i.to_string())).ok())
            .unwrap_or_default();
        panic!(
            "the README's blocks stopped ({}):\n--- stdout (tail)\n{}\n--- stderr of the last block run\n{last_log}",
            output.status,
            tail(&stdout, 3000)
        );
    }
    assert!(
        failures.is_empty(),
        "requests of the README answered an error it does not announce:\n{}\n--- stdout (tail)\n{}",
        failures.join("\n"),
        tail(&stdout, 3000)
    );
    assert!(requests > 50, "only {requests} requests were made");
    let _ = std::fs::remove_dir_all(&work);
}

/// The last `chars` characters of `text` (answers are JSON without line breaks).
fn tail(text: &str, chars: usize) -> String {
    let count = text.chars().count();
    text.chars().skip(count.saturating_sub(chars)).collect()
}
