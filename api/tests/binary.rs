//! The `sdelka` binary itself. Having an integration test here also makes `cargo test
//! --workspace` build the binary, which the end-to-end crash tests (`tests/api/security.rs`)
//! run as a child process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn the_binary_prints_the_openapi_document() {
    let out = Command::new(env!("CARGO_BIN_EXE_sdelka"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["paths"]["/api/v1/users"].is_object());
}
