//! `/organizations`: our own legal entities with requisites and bank accounts (ORG-1).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_persistence::ops::organizations::{
    self as ops, BankAccountView, CreateOrganization, NewBankAccount, OrganizationListFilter,
    OrganizationView, UpdateOrganization,
};
use uuid::Uuid;

use crate::auth::{Admin, Principal};
use crate::error::ApiResult;
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::negotiate::{FormatParam, list_answer, whole_answer};
use crate::routes::{created, versioned};
use crate::state::AppState;
use actix_web::HttpRequest;
use sdelka_persistence::ops::Caller;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_organizations)
        .service(create_organization)
        .service(get_organization)
        .service(update_organization)
        .service(delete_organization)
        .service(list_bank_accounts)
        .service(add_bank_account)
        .service(delete_bank_account);
}

/// Lists own organisations.
#[utoipa::path(
    tag = "organisation",
    params(ListParams, OrganizationListFilter),
    responses((status = 200, description = "A page of organisations", body = ListPage<OrganizationView>))
)]
#[get("/organizations")]
pub async fn list_organizations(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<OrganizationListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_organizations(state.db(), &caller, &page, filter).await }
        },
    )
    .await
}

/// Registers an own organisation (admin). INN, KPP, OGRN and every bank account are checked
/// (REQ-1); each failed check is reported with its field and rule.
#[utoipa::path(
    tag = "organisation",
    request_body = CreateOrganization,
    responses((status = 201, description = "Created", body = OrganizationView))
)]
#[post("/organizations")]
pub async fn create_organization(
    state: web::Data<AppState>,
    admin: Admin,
    body: JsonBody<CreateOrganization>,
) -> ApiResult<HttpResponse> {
    let o = ops::create_organization(state.db(), &admin, body.0).await?;
    Ok(created(
        format!("/api/v1/organizations/{}", o.id),
        o.version,
        &o,
    ))
}

/// Reads one own organisation with its bank accounts.
#[utoipa::path(
    tag = "organisation",
    params(("id" = Uuid, Path, description = "Organisation id")),
    responses((status = 200, description = "The organisation", body = OrganizationView))
)]
#[get("/organizations/{id}")]
pub async fn get_organization(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let o = ops::get_organization(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, o.version, &o))
}

/// Changes an own organisation (admin). Requisites are checked again as a whole, so a new INN
/// must agree with the KPP and OGRN it will stand with.
#[utoipa::path(
    tag = "organisation",
    params(("id" = Uuid, Path, description = "Organisation id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body = UpdateOrganization,
    responses((status = 200, description = "Updated", body = OrganizationView))
)]
#[patch("/organizations/{id}")]
pub async fn update_organization(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateOrganization>,
) -> ApiResult<HttpResponse> {
    let o =
        ops::update_organization(state.db(), &admin, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, o.version, &o))
}

/// Deletes an own organisation (admin); kept for the audit trail.
#[utoipa::path(
    tag = "organisation",
    params(("id" = Uuid, Path, description = "Organisation id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/organizations/{id}")]
pub async fn delete_organization(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    ops::delete_organization(state.db(), &admin, id.into_inner(), if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Lists the bank accounts of an own organisation.
#[utoipa::path(
    tag = "organisation",
    params(FormatParam, ("id" = Uuid, Path, description = "Organisation id")),
    responses((status = 200, description = "Bank accounts", body = ListPage<BankAccountView>))
)]
#[get("/organizations/{id}/bank-accounts")]
pub async fn list_bank_accounts(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let accounts = ops::list_bank_accounts(state.db(), &caller, id.into_inner()).await?;
    whole_answer(&req, accounts)
}

/// Adds a bank account to an own organisation (admin); its accounts are checked against the
/// BIK.
#[utoipa::path(
    tag = "organisation",
    params(("id" = Uuid, Path, description = "Organisation id")),
    request_body = NewBankAccount,
    responses((status = 201, description = "Added", body = BankAccountView))
)]
#[post("/organizations/{id}/bank-accounts")]
pub async fn add_bank_account(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<Uuid>,
    body: JsonBody<NewBankAccount>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let b = ops::add_bank_account(state.db(), &admin, id, body.0).await?;
    Ok(created(
        format!("/api/v1/organizations/{id}/bank-accounts/{}", b.id),
        b.version,
        &b,
    ))
}

/// Removes a bank account (admin).
#[utoipa::path(
    tag = "organisation",
    params(("id" = Uuid, Path, description = "Organisation id"), ("account_id" = Uuid, Path, description = "Bank account id")),
    responses((status = 204, description = "Removed"))
)]
#[delete("/organizations/{id}/bank-accounts/{account_id}")]
pub async fn delete_bank_account(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<(Uuid, Uuid)>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    let (org_id, account_id) = path.into_inner();
    ops::delete_bank_account(state.db(), &admin, org_id, account_id, if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
