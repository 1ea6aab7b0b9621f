//! The committed OpenAPI document (`openapi/openapi.json`) and the tool that regenerates it.
//! The end-to-end suite fails when the served document and the committed one differ, so every
//! contract change shows up in review.

/// Where the committed document lives.
pub const COMMITTED_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

/// The document as the server generates it, pretty-printed.
pub fn generate() -> String {
    sdelka_api::server::openapi_json_pretty()
}

#[cfg(test)]
mod tests {
    #[test]
    fn committed_document_is_current() {
        let committed = std::fs::read_to_string(super::COMMITTED_PATH).unwrap_or_default();
        assert!(
            committed == super::generate(),
            "openapi/openapi.json is out of date: run `cargo run -p sdelka-openapi`"
        );
    }
}
