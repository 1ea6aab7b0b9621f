//! Choosing a response's representation: a `format` query parameter, else the `Accept`
//! header, else the first representation the endpoint offers. The parameter wins because
//! browsers and download links cannot set headers.

use actix_web::HttpRequest;
use actix_web::http::header;

use crate::error::{ApiError, ApiResult};

/// One representation an endpoint can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// The value of `?format=`.
    pub name: &'static str,
    pub media_type: &'static str,
}

pub const JSON: Format = Format {
    name: "json",
    media_type: "application/json",
};
pub const CSV: Format = Format {
    name: "csv",
    media_type: "text/csv",
};
pub const HTML: Format = Format {
    name: "html",
    media_type: "text/html",
};
pub const PDF: Format = Format {
    name: "pdf",
    media_type: "application/pdf",
};

/// The representation `req` asks for among `offered` (the first is the default). An unknown
/// `format` is a 422 naming the parameter and the choices; an `Accept` header naming none of
/// the offered types gets the default rather than a 406, as most clients send `*/*` anyway.
pub fn negotiate(req: &HttpRequest, param: Option<&str>, offered: &[Format]) -> ApiResult<Format> {
    let default = offered.first().copied().unwrap_or(JSON);
    if let Some(name) = param {
        return offered
            .iter()
            .find(|f| f.name == name)
            .copied()
            .ok_or_else(|| {
                let names: Vec<&str> = offered.iter().map(|f| f.name).collect();
                ApiError::field(
                    "format",
                    "invalid_choice",
                    format!("format must be one of: {}", names.join(", ")),
                )
            });
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .unwrap_or("");
    Ok(offered
        .iter()
        .skip(1)
        .find(|f| accept.contains(f.media_type))
        .copied()
        .unwrap_or(default))
}
