//! The one error catalogue (API-2). Every refusal the API can give is a row here with a stable
//! code, an HTTP status and a title; responses are RFC 9457 `application/problem+json`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use sdelka_domain::validation::Violations;
use sdelka_persistence::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

pub use sdelka_persistence::ops::error::{Error, ErrorCode};

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

/// An operation's [`Error`] as the HTTP layer answers it.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl std::ops::Deref for ApiError {
    type Target = Error;
    fn deref(&self) -> &Error {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut Error {
        &mut self.0
    }
}

fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self(Error::new(code, detail))
    }

    /// 409 naming the record's current state and what it allows.
    pub fn wrong_state(
        code: ErrorCode,
        detail: impl Into<String>,
        current: &str,
        allowed: Vec<String>,
    ) -> Self {
        Self(Error::wrong_state(code, detail, current, allowed))
    }

    pub fn not_found() -> Self {
        Self(Error::not_found())
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self(Error::forbidden(detail))
    }

    pub fn validation(violations: Violations) -> Self {
        Self(Error::validation(violations))
    }

    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self(Error::field(field, code, message))
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self(Error::internal(cause))
    }

    pub fn status(&self) -> StatusCode {
        status_of(self.code)
    }

    pub fn problem(&self) -> Problem {
        Problem {
            type_: format!("urn:sdelka:problem:{}", self.code.code()),
            title: self.code.title().to_owned(),
            status: self.code.http_status(),
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
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        if self.status().is_server_error() {
            tracing::error!(code = self.code.code(), cause = ?self.cause, "request failed");
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut res = HttpResponse::build(self.status());
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

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError(e.into())
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError(e.into())
    }
}

impl From<Violations> for ApiError {
    fn from(v: Violations) -> Self {
        ApiError(v.into())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
