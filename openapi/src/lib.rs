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

    /// utoipa names a component after its Rust type and keeps only the last type of a name, so
    /// two `ToSchema` types called alike in different modules would silently describe one
    /// endpoint with the other's fields. Every such type name must be unique.
    #[test]
    fn schema_type_names_are_unique() {
        // The wire types live with the operations (persistence) and a few with the handlers.
        let mut files = vec![
            std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../api/src")),
            std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../persistence/src")),
        ];
        let mut seen: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        while let Some(path) = files.pop() {
            if path.is_dir() {
                for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                    files.push(entry.path());
                }
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let mut deriving = false;
            for line in text.lines().map(str::trim) {
                if line.starts_with("#[derive(") {
                    deriving = line.contains("ToSchema");
                    continue;
                }
                if !deriving || line.starts_with("#[") || line.starts_with("///") {
                    continue;
                }
                deriving = false;
                let rest = line
                    .strip_prefix("pub struct ")
                    .or_else(|| line.strip_prefix("pub enum "))
                    .or_else(|| line.strip_prefix("struct "))
                    .or_else(|| line.strip_prefix("enum "));
                if let Some(rest) = rest {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    seen.entry(name)
                        .or_default()
                        .push(path.display().to_string());
                }
            }
        }
        let clashes: Vec<_> = seen.iter().filter(|(_, at)| at.len() > 1).collect();
        assert!(
            seen.len() > 50,
            "the scan found only {} schema types",
            seen.len()
        );
        assert!(
            clashes.is_empty(),
            "schema type names declared twice: {clashes:?}"
        );
    }
}
