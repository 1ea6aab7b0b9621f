//! The one error catalogue (API-2). Every refusal the API can give is a row here with a stable
//! code, an HTTP status and a title; responses are RFC 9457 `application/problem+json`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use sdelka_domain::validation::{FieldViolation, Violations};
use sdelka_persistence::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

macro_rules! catalogue {
    ($($variant:ident => $status:literal, $code:literal, $title:literal;)*) => {
        /// Stable machine-readable error codes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode { $($variant),* }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];
            pub fn code(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code),* }
            }
            pub fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::from_u16($status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)),*
                }
            }
            pub fn title(self) -> &'static str {
                match self { $(ErrorCode::$variant => $title),* }
            }
        }
    };
}

catalogue! {
    MalformedRequest        => 400, "malformed_request", "The request is malformed";
    InvalidIdempotencyKey   => 400, "invalid_idempotency_key", "The Idempotency-Key header is invalid";
    Unauthenticated         => 401, "unauthenticated", "Authentication is required";
    InvalidToken            => 401, "invalid_token", "The credentials are invalid or expired";
    InvalidCredentials      => 401, "invalid_credentials", "Email or password is wrong";
    Forbidden               => 403, "forbidden", "You may not do this";
    NotFound                => 404, "not_found", "No such resource";
    MethodNotAllowed        => 405, "method_not_allowed", "This method is not allowed here";
    Duplicate               => 409, "duplicate", "A record with these values already exists";
    IdempotencyKeyInFlight  => 409, "idempotency_key_in_flight", "A request with this Idempotency-Key is still running";
    Conflict                => 409, "conflict", "The request conflicts with the current state";
    InvalidTransition       => 409, "invalid_transition", "The record's current state does not allow this";
    AlreadyConverted        => 409, "already_converted", "The lead was already converted";
    VersionReadOnly         => 409, "version_read_only", "Only the current version of a document can change";
    NoNumberingTemplate     => 409, "no_numbering_template", "The organisation has no numbering template for this document type";
    AlreadyApplied          => 409, "already_applied", "The payment is already applied to this invoice";
    AlreadyClaimed          => 409, "already_claimed", "Another user has already claimed this";
    StaleVersion            => 412, "stale_version", "The record has changed since you read it";
    PayloadTooLarge         => 413, "payload_too_large", "The request body is too large";
    UnsupportedMediaType    => 415, "unsupported_media_type", "The request body must be application/json";
    ValidationFailed        => 422, "validation_failed", "The request has invalid fields";
    IdempotencyKeyReused    => 422, "idempotency_key_reused", "This Idempotency-Key was used for a different request";
    RateLimited             => 429, "rate_limited", "Too many requests";
    Internal                => 500, "internal_error", "Something went wrong on our side";
    Unavailable             => 503, "unavailable", "The service is not ready";
}

tokio::task_local! {
    /// The id of the request being served, so that every error body can carry it.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// An RFC 9457 problem document as Sdelka sends it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// URI reference naming the problem type: `urn:sdelka:problem:{code}`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code from the error catalogue.
    #[schema(example = "validation_failed")]
    pub code: String,
    /// Field-level violations (validation errors).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
    /// Correlates this answer with the server's logs (`X-Request-Id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// For a state-machine refusal: the record's current state.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "in_work_at_accountant")]
    pub current_state: Option<String>,
    /// For a state-machine refusal: the actions the current state allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["mark-paid", "cancel"]))]
    pub allowed_actions: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    /// The offending field, as a JSON path (`inn`, `bank_accounts[0].bik`).
    pub field: String,
    /// The rule that failed, e.g. `checksum_mismatch`, `required`.
    pub code: String,
    pub message: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: String,
    pub errors: Vec<FieldViolation>,
    pub retry_after: Option<u64>,
    /// The underlying cause of a 5xx, logged and never sent.
    pub cause: Option<String>,
    /// A state-machine refusal's current state and allowed actions (boxed: errors stay small).
    pub state: Option<Box<(String, Vec<String>)>>,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        ApiError {
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            cause: None,
            state: None,
        }
    }

    /// 409 naming the record's current state and what it allows.
    pub fn wrong_state(
        code: ErrorCode,
        detail: impl Into<String>,
        current: &str,
        allowed: Vec<String>,
    ) -> Self {
        ApiError {
            state: Some(Box::new((current.to_owned(), allowed))),
            ..Self::new(code, detail)
        }
    }

    pub fn not_found() -> Self {
        Self::new(
            ErrorCode::NotFound,
            "the resource does not exist or is not visible to you",
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, detail)
    }

    pub fn validation(violations: Violations) -> Self {
        let errors = violations.into_vec();
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        ApiError {
            errors,
            ..Self::new(ErrorCode::ValidationFailed, detail)
        }
    }

    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::validation(FieldViolation::new(field, code, message).into())
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError {
            cause: Some(cause.to_string()),
            ..Self::new(
                ErrorCode::Internal,
                "the request could not be completed; it is safe to retry",
            )
        }
    }

    pub fn problem(&self) -> Problem {
        Problem {
            type_: format!("urn:sdelka:problem:{}", self.code.code()),
            title: self.code.title().to_owned(),
            status: self.code.status().as_u16(),
            detail: self.detail.clone(),
            code: self.code.code().to_owned(),
            errors: self
                .errors
                .iter()
                .map(|f| ProblemField {
                    field: f.field.clone(),
                    code: f.code.clone(),
                    message: f.message.clone(),
                })
                .collect(),
            request_id: current_request_id(),
            current_state: self.state.as_ref().map(|s| s.0.clone()),
            allowed_actions: self.state.as_ref().map(|s| s.1.clone()),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.code(), self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        if self.code.status().is_server_error() {
            tracing::error!(code = self.code.code(), cause = ?self.cause, "request failed");
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut res = HttpResponse::build(self.code.status());
        res.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        res.body(body)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found(),
            StoreError::StaleVersion { expected, current } => ApiError::new(
                ErrorCode::StaleVersion,
                format!(
                    "If-Match names version {expected}, the current version is {current}; read the record again"
                ),
            ),
            StoreError::Duplicate(what) => ApiError {
                cause: Some(what),
                ..ApiError::new(
                    ErrorCode::Duplicate,
                    "a record with these values already exists",
                )
            },
            StoreError::MissingReference(what) => ApiError {
                cause: Some(what),
                ..ApiError::new(
                    ErrorCode::ValidationFailed,
                    "the request refers to a record that does not exist",
                )
            },
            StoreError::InvalidCursor => ApiError::field(
                "cursor",
                "invalid_cursor",
                "the cursor is not one this list issued for this sort order",
            ),
            StoreError::Database(db) => ApiError::internal(db),
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        StoreError::from(e).into()
    }
}

impl From<Violations> for ApiError {
    fn from(v: Violations) -> Self {
        ApiError::validation(v)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.code()), "duplicate code {}", c.code());
            assert!(
                c.code()
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '_')
            );
            assert!(c.status().is_client_error() || c.status().is_server_error());
        }
    }
}
