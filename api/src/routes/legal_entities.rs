//! `/legal-entities` (CRM-2): the requisites of a company's counterparties, their bank
//! accounts, and the contacts acting for them. A legal entity is visible when its company is.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_persistence::ops::legal_entities::{
    self as ops, CreateLegalEntity, LegalEntityBankAccountView, LegalEntityContactView,
    LegalEntityListFilter, LegalEntityView, UpdateLegalEntity,
};
use sdelka_persistence::ops::organizations::NewBankAccount;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::negotiate::{FormatParam, list_answer, whole_answer};
use crate::routes::{created, versioned};
use crate::state::AppState;
use actix_web::HttpRequest;
use sdelka_persistence::ops::Caller;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_legal_entities)
        .service(create_legal_entity)
        .service(get_legal_entity)
        .service(update_legal_entity)
        .service(delete_legal_entity)
        .service(list_legal_entity_bank_accounts)
        .service(add_legal_entity_bank_account)
        .service(delete_legal_entity_bank_account)
        .service(list_legal_entity_contacts);
}

/// Lists the legal entities of the companies you may see.
#[utoipa::path(
    tag = "clients",
    params(ListParams, LegalEntityListFilter),
    responses((status = 200, description = "A page of legal entities", body = ListPage<LegalEntityView>))
)]
#[get("/legal-entities")]
pub async fn list_legal_entities(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<LegalEntityListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_legal_entities(state.db(), &caller, &page, filter).await }
        },
    )
    .await
}

/// Adds a legal entity to a company you may see. INN, KPP, OGRN/OGRNIP and every bank account
/// are checked (REQ-1) and must fit the kind; each failed check names its field and rule.
/// Another visible legal entity with the same INN and KPP does not stop the write: the answer
/// carries a `possible_duplicate` warning.
#[utoipa::path(
    tag = "clients",
    request_body = CreateLegalEntity,
    responses((status = 201, description = "Created (see `warnings`)", body = LegalEntityView))
)]
#[post("/legal-entities")]
pub async fn create_legal_entity(
    state: web::Data<AppState>,
    caller: Principal,
    body: JsonBody<CreateLegalEntity>,
) -> ApiResult<HttpResponse> {
    let e = ops::create_legal_entity(state.db(), &caller, body.0).await?;
    Ok(created(
        format!("/api/v1/legal-entities/{}", e.id),
        e.version,
        &e,
    ))
}

/// Reads one legal entity with its bank accounts.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Legal entity id")),
    responses((status = 200, description = "The legal entity", body = LegalEntityView))
)]
#[get("/legal-entities/{id}")]
pub async fn get_legal_entity(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let e = ops::get_legal_entity(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, e.version, &e))
}

/// Changes a legal entity. Requisites are checked again as a whole, against the kind.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Legal entity id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body = UpdateLegalEntity,
    responses((status = 200, description = "Updated (see `warnings`)", body = LegalEntityView))
)]
#[patch("/legal-entities/{id}")]
pub async fn update_legal_entity(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateLegalEntity>,
) -> ApiResult<HttpResponse> {
    let e =
        ops::update_legal_entity(state.db(), &caller, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, e.version, &e))
}

/// Deletes a legal entity (kept for the audit trail); its external ids become free.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Legal entity id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/legal-entities/{id}")]
pub async fn delete_legal_entity(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    ops::delete_legal_entity(state.db(), &caller, id.into_inner(), if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Lists the bank accounts of a legal entity.
#[utoipa::path(
    tag = "clients",
    params(FormatParam, ("id" = Uuid, Path, description = "Legal entity id")),
    responses((status = 200, description = "Bank accounts", body = ListPage<LegalEntityBankAccountView>))
)]
#[get("/legal-entities/{id}/bank-accounts")]
pub async fn list_legal_entity_bank_accounts(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let accounts =
        ops::list_legal_entity_bank_accounts(state.db(), &caller, id.into_inner()).await?;
    whole_answer(&req, accounts)
}

/// Adds a bank account to a legal entity; both accounts are checked against the BIK.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Legal entity id")),
    request_body = NewBankAccount,
    responses((status = 201, description = "Added", body = LegalEntityBankAccountView))
)]
#[post("/legal-entities/{id}/bank-accounts")]
pub async fn add_legal_entity_bank_account(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    body: JsonBody<NewBankAccount>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let a = ops::add_legal_entity_bank_account(state.db(), &caller, id, body.0).await?;
    Ok(created(
        format!("/api/v1/legal-entities/{id}/bank-accounts/{}", a.id),
        a.version,
        &a,
    ))
}

/// Removes a bank account of a legal entity.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Legal entity id"), ("account_id" = Uuid, Path, description = "Bank account id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    responses((status = 204, description = "Removed"))
)]
#[delete("/legal-entities/{id}/bank-accounts/{account_id}")]
pub async fn delete_legal_entity_bank_account(
    state: web::Data<AppState>,
    caller: Principal,
    path: web::Path<(Uuid, Uuid)>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    let (legal_entity_id, account_id) = path.into_inner();
    ops::delete_legal_entity_bank_account(
        state.db(),
        &caller,
        legal_entity_id,
        account_id,
        if_match.0,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The contacts acting for a legal entity (only those you may see).
#[utoipa::path(
    tag = "clients",
    params(FormatParam, ("id" = Uuid, Path, description = "Legal entity id")),
    responses((status = 200, description = "Contacts with their roles", body = ListPage<LegalEntityContactView>))
)]
#[get("/legal-entities/{id}/contacts")]
pub async fn list_legal_entity_contacts(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let contacts = ops::list_legal_entity_contacts(state.db(), &caller, id.into_inner()).await?;
    whole_answer(&req, contacts)
}
