use tracing_subscriber::EnvFilter;

/// Structured logs to stderr: `SDELKA_LOG` is the filter, `SDELKA_LOG_FORMAT=json` for JSON
/// lines. Every line of a request carries its `request_id` through the request span.
pub fn init(filter: &str, format: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
