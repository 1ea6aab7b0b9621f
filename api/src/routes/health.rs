//! API-8 operations endpoints, outside `/api/v1`.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct HealthStatus {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Alive", body = HealthStatus)))]
#[get("/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(HealthStatus { status: "ok" })
}

/// Readiness: the database answers. Load balancers route traffic only to ready instances.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = HealthStatus),
        (status = 503, description = "The database does not answer", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/health/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.store.ping().await.map_err(|e| {
        let mut err = ApiError::new(ErrorCode::Unavailable, "the database does not answer");
        err.cause = Some(e.to_string());
        err
    })?;
    Ok(HttpResponse::Ok().json(HealthStatus { status: "ok" }))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Metrics", body = String, content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let keys = state.rate_limiter.key_count();
    state
        .metrics
        .rate_limit_keys
        .set(i64::try_from(keys).unwrap_or(i64::MAX));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// This document: the OpenAPI 3.1 contract of the API.
#[utoipa::path(tag = "operations", responses((status = 200, description = "OpenAPI document", body = Object)))]
#[get("/api/v1/openapi.json")]
pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi_json.as_str().to_owned())
}
