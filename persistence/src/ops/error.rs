//! The one error catalogue (API-2). Every refusal an operation can give is a row here with a
//! stable code, the HTTP status the API answers it with and a title. Operations return
//! [`Error`]; the HTTP layer only renders it as RFC 9457 `application/problem+json`.

use sdelka_domain::validation::{FieldViolation, Violations};

use crate::StoreError;

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
            /// The HTTP status the API answers this refusal with.
            pub fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status),* }
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
    LastAdmin               => 409, "last_admin", "The last active admin must stay an active admin";
    StaleVersion            => 412, "stale_version", "The record has changed since you read it";
    BatchHalted             => 412, "batch_halted", "An earlier operation of the batch failed, so this one was not run";
    BatchRolledBack         => 409, "batch_rolled_back", "This operation of an atomic batch was rolled back";
    FailedDependency        => 424, "failed_dependency", "An operation this one depends on failed";
    CursorExpired           => 410, "cursor_expired", "The cursor is older than the change feed keeps";
    PayloadTooLarge         => 413, "payload_too_large", "The request body is too large";
    UnsupportedMediaType    => 415, "unsupported_media_type", "The request body must be application/json";
    ValidationFailed        => 422, "validation_failed", "The request has invalid fields";
    IdempotencyKeyReused    => 422, "idempotency_key_reused", "This Idempotency-Key was used for a different request";
    RateLimited             => 429, "rate_limited", "Too many requests";
    LoginThrottled          => 429, "login_throttled", "Too many failed logins for this account";
    Internal                => 500, "internal_error", "Something went wrong on our side";
    Unavailable             => 503, "unavailable", "The service is not ready";
}

/// Why an operation refused or failed: a catalogue code, a human detail, field violations and,
/// for a workflow refusal, the record's state and what it allows.
#[derive(Debug)]
pub struct Error {
    pub code: ErrorCode,
    pub detail: String,
    pub errors: Vec<FieldViolation>,
    pub retry_after: Option<u64>,
    /// The underlying cause of a 5xx, logged and never sent.
    pub cause: Option<String>,
    /// A state-machine refusal's current state and allowed actions (boxed: errors stay small).
    pub state: Option<Box<(String, Vec<String>)>>,
}

pub type OpResult<T> = Result<T, Error>;

impl Error {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Error {
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
        Error {
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
        Error {
            errors,
            ..Self::new(ErrorCode::ValidationFailed, detail)
        }
    }

    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::validation(FieldViolation::new(field, code, message).into())
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Error {
            cause: Some(cause.to_string()),
            ..Self::new(
                ErrorCode::Internal,
                "the request could not be completed; it is safe to retry",
            )
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.code(), self.detail)
    }
}

impl std::error::Error for Error {}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Error::not_found(),
            StoreError::StaleVersion { expected, current } => Error::new(
                ErrorCode::StaleVersion,
                format!(
                    "If-Match names version {expected}, the current version is {current}; read the record again"
                ),
            ),
            StoreError::Duplicate(what) => Error {
                cause: Some(what),
                ..Error::new(
                    ErrorCode::Duplicate,
                    "a record with these values already exists",
                )
            },
            StoreError::MissingReference(what) => Error {
                cause: Some(what),
                ..Error::new(
                    ErrorCode::ValidationFailed,
                    "the request refers to a record that does not exist",
                )
            },
            StoreError::InvalidCursor => Error::field(
                "cursor",
                "invalid_cursor",
                "the cursor is not one this list issued for this sort order",
            ),
            StoreError::Database(db) => Error::internal(db),
        }
    }
}

impl From<sea_orm::DbErr> for Error {
    fn from(e: sea_orm::DbErr) -> Self {
        StoreError::from(e).into()
    }
}

impl From<Violations> for Error {
    fn from(v: Violations) -> Self {
        Error::validation(v)
    }
}

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
            assert!((400..600).contains(&c.http_status()));
        }
    }
}
