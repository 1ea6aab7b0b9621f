//! `/leads` (CRM-4): unqualified requests and cold-list rows, worked to qualified or junk.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_persistence::ops::leads::{
    self as ops, Conversion, ConvertLead, CreateLead, LeadListFilter, LeadView, UpdateLead,
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
    cfg.service(list_leads)
        .service(create_lead)
        .service(get_lead)
        .service(update_lead)
        .service(delete_lead)
        .service(convert_lead);
}

/// Lists the leads the caller may see.
#[utoipa::path(
    tag = "clients",
    params(ListParams, LeadListFilter),
    responses((status = 200, description = "A page of leads", body = ListPage<LeadView>))
)]
#[get("/leads")]
pub async fn list_leads(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<LeadListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_leads(state.db(), &caller, &page, filter).await }
        },
    )
    .await
}

/// Registers a lead. The caller is its responsible unless another user is named.
#[utoipa::path(
    tag = "clients",
    request_body = CreateLead,
    responses((status = 201, description = "Created", body = LeadView))
)]
#[post("/leads")]
pub async fn create_lead(
    state: web::Data<AppState>,
    caller: Principal,
    body: JsonBody<CreateLead>,
) -> ApiResult<HttpResponse> {
    let l = ops::create_lead(state.db(), &caller, body.0).await?;
    Ok(created(format!("/api/v1/leads/{}", l.id), l.version, &l))
}

/// Reads one lead.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Lead id")),
    responses((status = 200, description = "The lead", body = LeadView))
)]
#[get("/leads/{id}")]
pub async fn get_lead(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let l = ops::get_lead(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, l.version, &l))
}

/// Changes a lead: its fields, its qualification, or its status.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Lead id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body = UpdateLead,
    responses((status = 200, description = "Updated", body = LeadView))
)]
#[patch("/leads/{id}")]
pub async fn update_lead(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateLead>,
) -> ApiResult<HttpResponse> {
    let l = ops::update_lead(state.db(), &caller, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, l.version, &l))
}

/// Deletes a lead (kept for the audit trail).
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Lead id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/leads/{id}")]
pub async fn delete_lead(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    ops::delete_lead(state.db(), &caller, id.into_inner(), if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Converts a lead, exactly once, into a company and/or a contact and/or a deal, all in one
/// transaction, keeping the links both ways: the lead records what it became, the deal carries
/// the company and contact. A second conversion is 409 `already_converted`; a junk lead is 409
/// `invalid_transition`. The lead becomes `qualified`.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Lead id")),
    request_body = ConvertLead,
    responses((status = 200, description = "Converted", body = Conversion))
)]
#[post("/leads/{id}/convert")]
pub async fn convert_lead(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    body: JsonBody<ConvertLead>,
) -> ApiResult<HttpResponse> {
    let c = ops::convert_lead(state.db(), &caller, id.into_inner(), body.0).await?;
    Ok(HttpResponse::Ok().json(c))
}
