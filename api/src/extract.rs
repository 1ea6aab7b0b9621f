//! Request extractors that answer bad input with the catalogue's problems instead of actix's
//! plain-text errors: JSON bodies (400 malformed / 413 too large / 415 / 422 with the field),
//! query strings, path ids and `If-Match`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use sdelka_domain::validation::{FieldViolation, Violations, split_rule_error};
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// A JSON request body, deserialised and validated.
pub struct JsonBody<T>(pub T);

impl<T> FromRequest for JsonBody<T>
where
    T: DeserializeOwned + Validate + 'static,
{
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<actix_web::web::Data<AppState>>()
            .map(|s| s.config.max_body_bytes)
            .unwrap_or(1024 * 1024);
        let content_type_ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let ct = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                ct == "application/json" || ct.ends_with("+json")
            })
            .unwrap_or(false);
        let payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    "send the body as Content-Type: application/json",
                ));
            }
            let bytes = read_limited(payload, limit).await?;
            let value = parse_json::<T>(&bytes)?;
            validate(&value)?;
            Ok(JsonBody(value))
        })
    }
}

/// A multipart body that cannot be read: 415 when it is not multipart at all, else 400.
pub fn multipart_error(e: actix_multipart::MultipartError) -> ApiError {
    use actix_multipart::MultipartError as E;
    match e {
        E::ContentTypeMissing | E::ContentTypeParse | E::ContentTypeIncompatible => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the upload as Content-Type: multipart/form-data",
        ),
        other => ApiError::new(
            ErrorCode::MalformedRequest,
            format!("the multipart body cannot be read: {other}"),
        ),
    }
}

/// Reads a body up to `limit` bytes; more is a 413, not a truncated parse.
pub async fn read_limited(mut payload: Payload, limit: usize) -> Result<Bytes, ApiError> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => too_large(limit),
            other => ApiError::new(
                ErrorCode::MalformedRequest,
                format!("cannot read body: {other}"),
            ),
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the body exceeds the limit of {limit} bytes"),
    )
}

/// PostgreSQL cannot store the NUL character in text, and no business field needs it: a
/// NUL anywhere in the body is refused at the field holding it, the same on both backends.
/// Every string (or member name) of `value` holding a NUL character, at its JSON path.
fn nul_violations(value: &serde_json::Value, path: &str, out: &mut Violations) {
    use serde_json::Value;
    let nul = |field: &str, out: &mut Violations| {
        out.push(FieldViolation::new(
            field.to_owned(),
            "nul_character",
            format!("{field}: text must not contain the NUL character (\\u0000)"),
        ));
    };
    match value {
        Value::String(s) if s.contains('\0') => {
            nul(if path.is_empty() { "body" } else { path }, out)
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                nul_violations(v, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(members) => {
            for (k, v) in members {
                let field = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if k.contains('\0') {
                    nul(&field, out);
                } else {
                    nul_violations(v, &field, out);
                }
            }
        }
        _ => {}
    }
}

/// A JSON path as the problem documents write it (`rows[0].price`); the root is empty.
fn field_of(path: &serde_path_to_error::Path) -> String {
    let path = path.to_string();
    if path == "." { String::new() } else { path }
}

/// Syntax errors are 400; well-formed JSON of the wrong shape is 422 naming the field.
///
/// The body is first read as any JSON: only text that is not JSON (a trailing comma, a cut-off
/// body) is `400 malformed_request`, whatever the endpoint expects. A number JSON allows but
/// no field can hold (`1e400`), a NUL character in a string and a value of the wrong type
/// (a number or a boolean where text is expected, `null` in a list) are 422 at the field.
///
/// A value type that refuses its text (an amount with three decimals, an INN whose check digit
/// does not match) is a 422 with the rule's own code at the field's JSON path; every such field
/// of the body is reported at once, as the operations report their own checks.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let any = &mut serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize::<_, serde_json::Value>(any) {
        Ok(v) => v,
        Err(err) => {
            let path = err.path().clone();
            let inner = err.into_inner();
            let message = strip_position(&inner.to_string());
            if message.starts_with("number out of range") {
                let field = field_of(&path);
                return Err(ApiError::validation(
                    FieldViolation::new(
                        field.clone(),
                        "out_of_range",
                        format!("{field}: the number is too large for any field"),
                    )
                    .into(),
                ));
            }
            return Err(ApiError::new(
                ErrorCode::MalformedRequest,
                format!("the body is not valid JSON: {inner}"),
            ));
        }
    };
    let mut nul = Violations::new();
    nul_violations(&value, "", &mut nul);
    if !nul.is_empty() {
        return Err(ApiError::validation(nul));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(err) => {
            let path = err.path().clone();
            let inner = err.into_inner();
            use serde_json::error::Category;
            match inner.classify() {
                // The body is JSON (read above): a syntax complaint of the typed read is a
                // value of the wrong kind, e.g. a number where a choice's name is expected.
                Category::Syntax | Category::Eof | Category::Io => {
                    let field = field_of(&path);
                    Err(ApiError::validation(
                        FieldViolation::new(
                            field.clone(),
                            "invalid_type",
                            format!("{field}: a value of another type is expected here"),
                        )
                        .into(),
                    ))
                }
                Category::Data => {
                    let message = strip_position(&inner.to_string());
                    if let Some(first) = rule_violation(&path, &message) {
                        return Err(ApiError::validation(every_rule_violation::<T>(
                            bytes, first, path,
                        )));
                    }
                    Err(ApiError::validation(data_violation(&path, message).into()))
                }
            }
        }
    }
}

/// A serde error of the wrong shape as `{field, code, message}`.
fn data_violation(path: &serde_path_to_error::Path, message: String) -> FieldViolation {
    let path = path.to_string();
    let field = if path == "." { String::new() } else { path };
    let code = if message.starts_with("missing field") {
        "required"
    } else if message.starts_with("unknown variant") {
        "unknown_value"
    } else if message.starts_with("unknown field") {
        "unknown_field"
    } else {
        "invalid_type"
    };
    let field = if field.is_empty() {
        missing_field_name(&message).unwrap_or_default()
    } else {
        field
    };
    FieldViolation::new(field, code, message)
}

/// A value type's refusal (see `sdelka_domain::validation::rule_error`) at `path`.
fn rule_violation(path: &serde_path_to_error::Path, message: &str) -> Option<FieldViolation> {
    let (code, rule) = split_rule_error(message)?;
    let field = path.to_string();
    Some(FieldViolation::new(
        field.clone(),
        code,
        format!("{field}: {rule}"),
    ))
}

/// The first refused value and every other one: the refused field is left out and the body
/// read again, until it reads or fails for another reason (a left-out required field, a wrong
/// type — reported once the values are fixed).
fn every_rule_violation<T: DeserializeOwned>(
    bytes: &[u8],
    first: FieldViolation,
    mut path: serde_path_to_error::Path,
) -> Violations {
    let mut out = Violations::from(first);
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return out;
    };
    // Each pass removes one field, so the body's own size bounds the loop; the cap is a guard.
    for _ in 0..1000 {
        if !remove_at(&mut value, &path) {
            break;
        }
        let Err(err) = serde_path_to_error::deserialize::<_, T>(&value) else {
            break;
        };
        let message = strip_position(&err.inner().to_string());
        match rule_violation(err.path(), &message) {
            Some(v) => {
                out.push(v);
                path = err.path().clone();
            }
            None => break,
        }
    }
    out
}

/// Removes the object member at `path`; false when the path does not end in one.
fn remove_at(value: &mut serde_json::Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((Segment::Map { key }, parents)) = segments.split_last() else {
        return false;
    };
    let mut at = value;
    for segment in parents {
        let next = match segment {
            Segment::Seq { index } => at.get_mut(*index),
            Segment::Map { key } => at.get_mut(key.as_str()),
            Segment::Enum { .. } | Segment::Unknown => None,
        };
        let Some(next) = next else {
            return false;
        };
        at = next;
    }
    at.as_object_mut()
        .is_some_and(|o| o.remove(key.as_str()).is_some())
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

fn missing_field_name(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

/// Runs `validator` rules and reports every failure as a field violation.
pub fn validate<T: Validate>(value: &T) -> Result<(), ApiError> {
    value.validate().map_err(|e| {
        let mut v = Violations::new();
        flatten(&e, "", &mut v);
        ApiError::validation(v)
    })
}

fn flatten(errors: &ValidationErrors, prefix: &str, out: &mut Violations) {
    let mut fields: Vec<_> = errors.errors().iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    for (field, kind) in fields {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(errs) => {
                for e in errs {
                    let message = e
                        .message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| format!("{path} fails the `{}` rule", e.code));
                    out.push(FieldViolation::new(
                        path.clone(),
                        e.code.to_string(),
                        message,
                    ));
                }
            }
            ValidationErrorsKind::Struct(inner) => flatten(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    flatten(inner, &format!("{path}[{i}]"), out);
                }
            }
        }
    }
}

/// The version named by `If-Match` (`"3"` or `W/"3"`), if the header was sent.
///
/// `*` matches any current version (as no header does). An entity tag this API never issues
/// (`"stale-version"`, a list of tags) cannot match the record's: it is carried as a version
/// no record has, so the write fails its precondition with `412`, as RFC 9110 says, rather
/// than being refused as malformed.
pub struct IfMatch(pub Option<i32>);

/// No record has version 0: versions start at 1.
pub const NEVER_ISSUED: i32 = 0;

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(raw) = req.headers().get(header::IF_MATCH) else {
            return std::future::ready(Ok(IfMatch(None)));
        };
        let text = raw.to_str().unwrap_or("").trim();
        if text == "*" {
            return std::future::ready(Ok(IfMatch(None)));
        }
        let parsed = {
            let s = text.strip_prefix("W/").unwrap_or(text);
            s.strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .and_then(|s| s.parse::<i32>().ok())
                .filter(|v| *v > NEVER_ISSUED)
        };
        std::future::ready(Ok(IfMatch(Some(parsed.unwrap_or(NEVER_ISSUED)))))
    }
}

/// `ETag` value for a record version.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// Query-string errors as 422 problems naming the parameter.
pub fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    let msg = strip_position(&err.to_string());
    let field = msg
        .split('`')
        .nth(1)
        .filter(|_| msg.contains("field"))
        .unwrap_or("query")
        .to_owned();
    ApiError::field(&field, "invalid_query", msg).into()
}

/// A malformed id in a path cannot name an existing record: 404.
pub fn path_error(_: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::not_found().into()
}

/// Fallback for unknown routes.
pub async fn no_route() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found())
}

/// A JSON body that may be left out: no body at all reads as `T::default()`; a body that is
/// sent must be valid JSON of `T` (workflow actions that need no input take an empty POST).
pub struct OptionalJsonBody<T>(pub T);

impl<T> FromRequest for OptionalJsonBody<T>
where
    T: DeserializeOwned + Validate + Default + 'static,
{
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<actix_web::web::Data<AppState>>()
            .map(|s| s.config.max_body_bytes)
            .unwrap_or(1024 * 1024);
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                ct.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        let payload = payload.take();
        Box::pin(async move {
            let bytes = read_limited(payload, limit).await?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJsonBody(T::default()));
            }
            let json = content_type
                .as_deref()
                .is_some_and(|ct| ct == "application/json" || ct.ends_with("+json"));
            if !json {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    "send the body as Content-Type: application/json",
                ));
            }
            let value = parse_json::<T>(&bytes)?;
            validate(&value)?;
            Ok(OptionalJsonBody(value))
        })
    }
}

/// One item of a bulk request read exactly as [`JsonBody`] reads a body: the same field-named
/// refusals, the same `validator` rules.
pub fn parse_item<T: DeserializeOwned + Validate>(
    item: &serde_json::Value,
) -> Result<T, sdelka_persistence::ops::Error> {
    let bytes = serde_json::to_vec(item).map_err(|e| {
        sdelka_persistence::ops::Error::internal(format!("re-encoding an item: {e}"))
    })?;
    let value = parse_json::<T>(&bytes).map_err(|e| e.0)?;
    validate(&value).map_err(|e| e.0)?;
    Ok(value)
}

/// A small text field of a multipart form, at most `max` bytes of UTF-8 without NUL.
pub async fn read_text_field(
    field: &mut actix_multipart::Field,
    max: usize,
    name: &str,
) -> Result<String, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(multipart_error)?;
        if buf.len() + chunk.len() > max {
            return Err(ApiError::field(
                name,
                "too_long",
                format!("{name} is too long"),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(buf)
        .map(|s| s.trim().to_owned())
        .map_err(|_| {
            ApiError::field(name, "invalid_format", format!("{name} is not UTF-8 text"))
        })?;
    if text.contains('\0') {
        return Err(ApiError::field(
            name,
            "nul_character",
            format!("{name} must not contain the NUL character"),
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::parse_json;
    use sdelka_domain::money::Money;
    use sdelka_domain::vat::VatRate;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Row {
        price: Money,
        vat_rate: Option<VatRate>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Doc {
        amount: Option<Money>,
        rows: Vec<Row>,
    }

    fn violations(body: &str) -> Vec<(String, String)> {
        match parse_json::<Doc>(body.as_bytes()) {
            Ok(d) => panic!("expected a refusal, got {d:?}"),
            Err(e) => e
                .errors
                .iter()
                .map(|v| (v.field.clone(), v.code.clone()))
                .collect(),
        }
    }

    #[test]
    fn refused_values_are_field_violations_with_their_rule() {
        let pairs = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(f, c)| (f.to_string(), c.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            violations(r#"{"amount": "1.005", "rows": [{"price": "x", "vat_rate": "18"}]}"#),
            pairs(&[
                ("amount", "too_many_decimals"),
                ("rows[0].price", "invalid_decimal"),
                ("rows[0].vat_rate", "unknown_value"),
            ])
        );
        assert_eq!(
            violations(r#"{"rows": [{"price": "1", "vat_rate": "18"}, {"price": "1.001"}]}"#),
            pairs(&[
                ("rows[0].vat_rate", "unknown_value"),
                ("rows[1].price", "too_many_decimals"),
            ])
        );
        assert_eq!(
            violations(r#"{"amount": 5, "rows": []}"#),
            pairs(&[("amount", "invalid_type")])
        );
    }

    #[test]
    fn nul_characters_are_refused_at_their_field_but_escaped_backslashes_are_not() {
        assert_eq!(
            violations(r#"{"rows": [{"price": "1", "vat_rate": "x\u0000y"}]}"#),
            vec![("rows[0].vat_rate".to_owned(), "nul_character".to_owned())]
        );
        assert!(parse_json::<serde_json::Value>(br#"{"a":"x\\u0000y"}"#).is_ok());
        assert!(parse_json::<serde_json::Value>(br#"{"a":"\u0041"}"#).is_ok());
    }

    #[test]
    fn only_text_that_is_not_json_is_malformed() {
        let code = |body: &str| match parse_json::<Doc>(body.as_bytes()) {
            Ok(_) => String::new(),
            Err(e) => e.code.code().to_owned(),
        };
        assert_eq!(code(r#"{"rows": [],}"#), "malformed_request");
        assert_eq!(code(r#"{"colour": 1,}"#), "malformed_request");
        assert_eq!(
            violations(r#"{"amount": 1e400, "rows": []}"#),
            vec![("amount".to_owned(), "out_of_range".to_owned())]
        );
    }
}
