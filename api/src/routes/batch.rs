//! INT-4, batch requests: `POST /batch` runs up to 50 API calls in one request; see
//! [`crate::batch`].

use actix_web::{HttpRequest, HttpResponse, post, web};

use crate::auth::Principal;
use crate::batch::{self, BatchRequest, BatchResult};
use crate::error::{ApiResult, Problem};
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(run_batch);
}

/// Runs up to 50 API calls in one request, in order, each answered as it would be over HTTP.
///
/// Each operation `{id, method, path, body, depends_on, headers}` goes through the same
/// authorisation (the batch's credential), validation, `Idempotency-Key` handling (an
/// operation's own key in `headers`) and rate limiting as a request of its own: a batch costs
/// as many requests as it runs operations. Later operations use earlier answers with
/// `{{op_id.body.field}}`, `{{op_id.status}}` or `{{op_id.headers.etag}}` in their path, body
/// or headers, which also makes them depend on those operations. An operation whose dependency
/// failed (status ≥ 400) is not run and answers `424 failed_dependency`. `halt_on_error` stops
/// at the first failure (the rest answer `412 batch_halted`); `atomic` runs everything in one
/// transaction, committed only when every operation succeeded — on a failure the operations
/// that ran answer `409 batch_rolled_back`, the failed one its own problem, the rest `412
/// batch_halted`, and nothing of the batch is kept or sent. Nested batches and uploads cannot
/// be batched. The answer is `200` with one result per operation in request order; an
/// `Idempotency-Key` on the batch covers the whole batch.
#[utoipa::path(
    tag = "integration",
    request_body(content = BatchRequest, example = json!({"atomic": true, "ops": [
        {"id": "company", "method": "POST", "path": "/api/v1/companies", "body": {"name": "ТСЖ «Берёзка»", "types": ["client"]}},
        {"id": "entity", "method": "POST", "path": "/api/v1/legal-entities", "body": {"company_id": "{{company.body.id}}", "kind": "legal", "name": "ТСЖ «Берёзка»", "inn": "7707083893", "kpp": "773601001"}},
        {"id": "read", "method": "GET", "path": "/api/v1/companies/{{company.body.id}}"}
    ]})),
    responses(
        (status = 200, description = "One result per operation, in request order", body = BatchResult),
        (status = 415, description = "The batch is not JSON (uploads cannot be batched)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed batch, named by field (`ops[3].path`): no or more than 50 operations, a repeated id, a reference to an unknown or later operation, a cycle, a nested batch, an upload", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/batch")]
pub async fn run_batch(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Principal,
    body: JsonBody<BatchRequest>,
) -> ApiResult<HttpResponse> {
    let result = batch::run(state, &req, &caller, body.0).await?;
    Ok(HttpResponse::Ok().json(result))
}
