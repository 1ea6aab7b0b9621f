//! `/organizations/{id}/pools`: the pools of an own organisation (WF-INV-2, WF-INV-4) —
//! `decision_makers` take supplier invoices for approval, `accountants` claim them for
//! payment. Everyone may read them; admins set them.

use actix_web::{HttpResponse, get, put, web};
use sdelka_persistence::approvals::{self as store};
use sdelka_persistence::entity::{organization, pool, user};
use sdelka_persistence::journal::now;
use sdelka_persistence::records;
use uuid::Uuid;

use crate::auth::{Admin, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{IfMatch, JsonBody};
use crate::routes::{ensure_exists, versioned};
use crate::state::AppState;
#[allow(unused_imports)]
use sdelka_persistence::ops::pools::*;

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
    _caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let db = &state.store.conn;
    let org = records::find::<organization::Entity, _>(db, id.into_inner()).await?;
    let mut items = Vec::new();
    for p in store::pools_of_organization(db, org.id).await? {
        items.push(view(db, &p).await?);
    }
    Ok(HttpResponse::Ok().json(PoolList { items }))
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
    let path = path.into_inner();
    let req = body.0;
    let txn = state.store.begin().await?;
    records::find::<organization::Entity, _>(&txn, path.id).await?;
    for (i, u) in req.member_ids.iter().enumerate() {
        ensure_exists::<user::Entity, _>(&txn, &format!("member_ids[{i}]"), *u).await?;
    }
    let default_name = match path.kind {
        PoolKind::DecisionMakers => "Decision makers",
        PoolKind::Accountants => "Accountants",
    };
    let p = match store::pool_of(&txn, path.id, path.kind.as_str()).await? {
        Some(p) => {
            let name = req.name.clone();
            // Touch the pool even when only members change, so that its version moves.
            records::update::<pool::Entity, _, _, ApiError>(
                &txn,
                &caller.actor(),
                p.id,
                if_match.0,
                |m| {
                    if let Some(n) = name {
                        m.name = n;
                    }
                    m.updated_at = now();
                    Ok(())
                },
                records::snapshot,
            )
            .await??
        }
        None => {
            let at = now();
            records::create::<pool::Entity, _>(
                &txn,
                &caller.actor(),
                pool::Model {
                    id: Uuid::now_v7(),
                    organization_id: path.id,
                    kind: path.kind.as_str().to_owned(),
                    name: req.name.clone().unwrap_or_else(|| default_name.to_owned()),
                    version: 1,
                    created_at: at,
                    updated_at: at,
                    deleted_at: None,
                },
                records::snapshot,
            )
            .await?
        }
    };
    store::set_members(&txn, p.id, &req.member_ids).await?;
    let v = view(&txn, &p).await?;
    txn.commit().await?;
    Ok(versioned(actix_web::http::StatusCode::OK, p.version, &v))
}
