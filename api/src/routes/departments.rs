//! `/departments`: the org structure used for supervisors, escalations and visibility (ORG-3).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_persistence::entity::{department, user};
use sdelka_persistence::journal::now;
use sdelka_persistence::pagination::fetch_page;
use sdelka_persistence::people::{DepartmentFilter, departments_query};
use sdelka_persistence::records;
use uuid::Uuid;

use crate::auth::{Admin, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::routes::{created, ensure_exists, versioned};
use crate::state::AppState;
#[allow(unused_imports)]
use sdelka_persistence::ops::departments::*;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_departments)
        .service(create_department)
        .service(get_department)
        .service(update_department)
        .service(delete_department);
}

/// Lists departments.
#[utoipa::path(
    tag = "organisation",
    params(ListParams, DepartmentListFilter),
    responses((status = 200, description = "A page of departments", body = ListPage<DepartmentView>))
)]
#[get("/departments")]
pub async fn list_departments(
    state: web::Data<AppState>,
    _caller: Principal,
    page: web::Query<ListParams>,
    filter: web::Query<DepartmentListFilter>,
) -> ApiResult<HttpResponse> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let f = filter.into_inner();
    let query = departments_query(&DepartmentFilter {
        q: f.q,
        parent_id: f.parent_id,
        updated_since: page.updated_since,
    });
    let page = fetch_page(&state.store.conn, query, req, department::Column::Id, |m| {
        m.id
    })
    .await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, |m| DepartmentView::from(m))))
}

/// Creates a department (admin).
#[utoipa::path(
    tag = "organisation",
    request_body = CreateDepartment,
    responses((status = 201, description = "Created", body = DepartmentView))
)]
#[post("/departments")]
pub async fn create_department(
    state: web::Data<AppState>,
    admin: Admin,
    body: JsonBody<CreateDepartment>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let at = now();
    let txn = state.store.begin().await?;
    if let Some(p) = req.parent_id {
        ensure_exists::<department::Entity, _>(&txn, "parent_id", p).await?;
    }
    if let Some(h) = req.head_id {
        ensure_exists::<user::Entity, _>(&txn, "head_id", h).await?;
    }
    let model = records::create::<department::Entity, _>(
        &txn,
        &admin.actor(),
        department::Model {
            id: Uuid::now_v7(),
            name: req.name.trim().to_owned(),
            parent_id: req.parent_id,
            head_id: req.head_id,
            version: 1,
            created_at: at,
            updated_at: at,
            deleted_at: None,
        },
        records::snapshot,
    )
    .await?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/departments/{}", model.id),
        model.version,
        &DepartmentView::from(&model),
    ))
}

/// Reads one department.
#[utoipa::path(
    tag = "organisation",
    params(("id" = Uuid, Path, description = "Department id")),
    responses((status = 200, description = "The department", body = DepartmentView))
)]
#[get("/departments/{id}")]
pub async fn get_department(
    state: web::Data<AppState>,
    _caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let d = records::find::<department::Entity, _>(&state.store.conn, id.into_inner()).await?;
    Ok(versioned(
        StatusCode::OK,
        d.version,
        &DepartmentView::from(&d),
    ))
}

/// Changes a department (admin).
#[utoipa::path(
    tag = "organisation",
    params(("id" = Uuid, Path, description = "Department id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body = UpdateDepartment,
    responses((status = 200, description = "Updated", body = DepartmentView))
)]
#[patch("/departments/{id}")]
pub async fn update_department(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateDepartment>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let req = body.0;
    let txn = state.store.begin().await?;
    if let Some(Some(p)) = req.parent_id {
        if p == id {
            return Err(ApiError::field(
                "parent_id",
                "self_reference",
                "a department cannot be its own parent",
            ));
        }
        ensure_exists::<department::Entity, _>(&txn, "parent_id", p).await?;
    }
    if let Some(Some(h)) = req.head_id {
        ensure_exists::<user::Entity, _>(&txn, "head_id", h).await?;
    }
    let updated = records::update::<department::Entity, _, _, ApiError>(
        &txn,
        &admin.actor(),
        id,
        if_match.0,
        |d| {
            if let Some(n) = &req.name {
                d.name = n.trim().to_owned();
            }
            if let Some(p) = req.parent_id {
                d.parent_id = p;
            }
            if let Some(h) = req.head_id {
                d.head_id = h;
            }
            Ok(())
        },
        records::snapshot,
    )
    .await??;
    txn.commit().await?;
    Ok(versioned(
        StatusCode::OK,
        updated.version,
        &DepartmentView::from(&updated),
    ))
}

/// Deletes a department (admin). The record is kept for the audit trail.
#[utoipa::path(
    tag = "organisation",
    params(("id" = Uuid, Path, description = "Department id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/departments/{id}")]
pub async fn delete_department(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    let txn = state.store.begin().await?;
    records::soft_delete::<department::Entity, _>(
        &txn,
        &admin.actor(),
        id.into_inner(),
        if_match.0,
        records::snapshot,
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
