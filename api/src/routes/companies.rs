//! `/companies` (CRM-1): clients, suppliers and partners, seen by their responsible manager,
//! the heads above him and admins.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_persistence::ops::companies::{
    self as ops, CompanyListFilter, CompanyView, CreateCompany, UpdateCompany,
};
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::negotiate::list_answer;
use crate::routes::{created, versioned};
use crate::state::AppState;
use actix_web::HttpRequest;
use sdelka_persistence::ops::Caller;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_companies)
        .service(create_company)
        .service(get_company)
        .service(update_company)
        .service(delete_company);
}

/// Lists the companies you may see.
#[utoipa::path(
    tag = "clients",
    params(ListParams, CompanyListFilter),
    responses((status = 200, description = "A page of companies", body = ListPage<CompanyView>))
)]
#[get("/companies")]
pub async fn list_companies(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<CompanyListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_companies(state.db(), &caller, &page, filter).await }
        },
    )
    .await
}

/// Creates a company; you are its responsible unless you name another. An external id
/// another company already holds is a 409 `duplicate`.
#[utoipa::path(
    tag = "clients",
    request_body = CreateCompany,
    responses((status = 201, description = "Created", body = CompanyView))
)]
#[post("/companies")]
pub async fn create_company(
    state: web::Data<AppState>,
    caller: Principal,
    body: JsonBody<CreateCompany>,
) -> ApiResult<HttpResponse> {
    let c = ops::create_company(state.db(), &caller, body.0).await?;
    Ok(created(
        format!("/api/v1/companies/{}", c.id),
        c.version,
        &c,
    ))
}

/// Reads one company.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Company id")),
    responses((status = 200, description = "The company", body = CompanyView))
)]
#[get("/companies/{id}")]
pub async fn get_company(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let c = ops::get_company(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, c.version, &c))
}

/// Changes a company. Lists (`types`, `tags`, `external_ids`) are replaced as a whole.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Company id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body = UpdateCompany,
    responses((status = 200, description = "Updated", body = CompanyView))
)]
#[patch("/companies/{id}")]
pub async fn update_company(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateCompany>,
) -> ApiResult<HttpResponse> {
    let c = ops::update_company(state.db(), &caller, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, c.version, &c))
}

/// Deletes a company (kept for the audit trail). A company that still has legal entities is
/// refused with 409: delete or move them first, so no requisites are orphaned.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Company id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/companies/{id}")]
pub async fn delete_company(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    ops::delete_company(state.db(), &caller, id.into_inner(), if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
