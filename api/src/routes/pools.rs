//! `/organizations/{id}/pools`: the pools of an own organisation (WF-INV-2, WF-INV-4) —
//! `decision_makers` take supplier invoices for approval, `accountants` claim them for
//! payment. Everyone may read them; admins set them.

use actix_web::{HttpResponse, get, put, web};
use sdelka_persistence::ops::pools::{self as ops, PoolList, PoolPath, PoolView, SetPool};
use uuid::Uuid;

use crate::auth::{Admin, Principal};
use crate::error::ApiResult;
use crate::extract::{IfMatch, JsonBody};
use crate::routes::versioned;
use crate::state::AppState;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_pools).service(set_pool);
}

/// The pools of an own organisation with their members.
#[utoipa::path(
    tag = "approvals",
    params(("id" = Uuid, Path, description = "Own organisation id")),
    responses(
        (status = 200, description = "The organisation's pools", body = PoolList),
        (status = 404, description = "No such organisation", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/organizations/{id}/pools")]
pub async fn list_pools(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let list = ops::list_pools(state.db(), &caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Sets the members of one pool of an own organisation (admin). Creates the pool on first use.
#[utoipa::path(
    tag = "approvals",
    params(PoolPath, ("If-Match" = Option<String>, Header, description = "ETag of the pool version you read")),
    request_body(content = SetPool, example = json!({"member_ids": ["0191d0a4-7b1e-7c3a-9a55-1f2e3d4c5b6a", "0191d0a4-7b1e-7c3a-9a55-1f2e3d4c5b6b"]})),
    responses(
        (status = 200, description = "The pool as it is now", body = PoolView),
        (status = 403, description = "Not an admin", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A member is not a user", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[put("/organizations/{id}/pools/{kind}")]
pub async fn set_pool(
    state: web::Data<AppState>,
    caller: Admin,
    path: web::Path<PoolPath>,
    if_match: IfMatch,
    body: JsonBody<SetPool>,
) -> ApiResult<HttpResponse> {
    let v = ops::set_pool(state.db(), &caller, path.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(actix_web::http::StatusCode::OK, v.version, &v))
}
