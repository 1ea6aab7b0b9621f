//! `cargo run -p sdelka-openapi`: writes the current OpenAPI document to openapi/openapi.json.

fn main() -> std::process::ExitCode {
    match std::fs::write(sdelka_openapi::COMMITTED_PATH, sdelka_openapi::generate()) {
        Ok(()) => {
            println!("wrote {}", sdelka_openapi::COMMITTED_PATH);
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write {}: {e}", sdelka_openapi::COMMITTED_PATH);
            std::process::ExitCode::FAILURE
        }
    }
}
