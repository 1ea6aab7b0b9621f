//! `/departments`: the org structure used for supervisors, escalations and visibility (ORG-3).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_persistence::ops::departments::{
    self as ops, CreateDepartment, DepartmentListFilter, DepartmentView, UpdateDepartment,
};
use uuid::Uuid;

use crate::auth::{Admin, Principal};
use crate::error::ApiResult;
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::negotiate::list_answer;
use crate::routes::{created, versioned};
use crate::state::AppState;
use actix_web::HttpRequest;
use sdelka_persistence::ops::Caller;

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
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<DepartmentListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_departments(state.db(), &caller, &page, filter).await }
        },
    )
    .await
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
    let d = ops::create_department(state.db(), &admin, body.0).await?;
    Ok(created(
        format!("/api/v1/departments/{}", d.id),
        d.version,
        &d,
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
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let d = ops::get_department(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, d.version, &d))
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
    let d = ops::update_department(state.db(), &admin, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, d.version, &d))
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
    ops::delete_department(state.db(), &admin, id.into_inner(), if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
