//! `/organizations`: our own legal entities with requisites and bank accounts (ORG-1).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_domain::organisation::{check_legal_requisites, check_organisation_code};
use sdelka_domain::validation::Violations;
use sdelka_persistence::entity::{bank_account, organization};
use sdelka_persistence::journal::now;
use sdelka_persistence::organizations::{
    self as orgs, OrganizationFilter, organizations_query, search_text,
};
use sdelka_persistence::pagination::fetch_page;
use sdelka_persistence::records;
use uuid::Uuid;

use crate::auth::{Admin, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::routes::{created, versioned};
use crate::state::AppState;
#[allow(unused_imports)]
use sdelka_persistence::ops::organizations::*;

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
    _caller: Principal,
    page: web::Query<ListParams>,
    filter: web::Query<OrganizationListFilter>,
) -> ApiResult<HttpResponse> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let f = filter.into_inner();
    let query = organizations_query(&OrganizationFilter {
        q: f.q,
        inn: f.inn,
        vat_payer: f.vat_payer,
        updated_since: page.updated_since,
    });
    let page = fetch_page(
        &state.store.conn,
        query,
        req,
        organization::Column::Id,
        |m| m.id,
    )
    .await?;
    let ids: Vec<Uuid> = page.items.iter().map(|o| o.id).collect();
    let accounts = orgs::bank_accounts_of(&state.store.conn, &ids).await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, |o| OrganizationView::new(o, &accounts))))
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
    let req = body.0;
    let id = Uuid::now_v7();
    let mut v = Violations::new();
    let requisites = match check_legal_requisites(&req.inn, req.kpp.as_deref(), req.ogrn.as_deref())
    {
        Ok(r) => Some(r),
        Err(errs) => {
            for e in errs.into_vec() {
                v.push(e);
            }
            None
        }
    };
    let code = check_organisation_code(&req.code)
        .map_err(|e| v.push(e))
        .ok();
    let accounts: Vec<_> = req
        .bank_accounts
        .iter()
        .enumerate()
        .filter_map(|(i, b)| bank_account_model(id, &format!("bank_accounts[{i}]."), b, &mut v))
        .collect();
    let (Some(requisites), Some(code), true) = (requisites, code, v.is_empty()) else {
        return Err(v.into());
    };
    let at = now();
    let name = req.name.trim().to_owned();
    let short_name = req.short_name.trim().to_owned();
    let model = organization::Model {
        id,
        search_text: search_text(&name, &short_name, requisites.inn.as_str()),
        name,
        short_name,
        code,
        inn: requisites.inn.as_str().to_owned(),
        kpp: requisites.kpp.map(|k| k.as_str().to_owned()),
        ogrn: requisites.ogrn.map(|o| o.as_str().to_owned()),
        vat_payer: req.vat_payer,
        legal_address: req.legal_address.trim().to_owned(),
        postal_address: req.postal_address,
        director_name: req.director_name,
        chief_accountant_name: req.chief_accountant_name,
        external_id: req.external_id,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let actor = admin.actor();
    let txn = state.store.begin().await?;
    let model =
        records::create::<organization::Entity, _>(&txn, &actor, model, records::snapshot).await?;
    let mut saved = Vec::with_capacity(accounts.len());
    for a in accounts {
        saved.push(
            records::create::<bank_account::Entity, _>(&txn, &actor, a, records::snapshot).await?,
        );
    }
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/organizations/{}", model.id),
        model.version,
        &OrganizationView::new(&model, &saved),
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
    _caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let o = records::find::<organization::Entity, _>(&state.store.conn, id.into_inner()).await?;
    let accounts = orgs::bank_accounts(&state.store.conn, o.id).await?;
    Ok(versioned(
        StatusCode::OK,
        o.version,
        &OrganizationView::new(&o, &accounts),
    ))
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
    let id = id.into_inner();
    let req = body.0;
    let txn = state.store.begin().await?;
    let updated = records::update::<organization::Entity, _, _, ApiError>(
        &txn,
        &admin.actor(),
        id,
        if_match.0,
        |o| {
            let inn = req.inn.clone().unwrap_or_else(|| o.inn.clone());
            let kpp = req.kpp.clone().unwrap_or_else(|| o.kpp.clone());
            let ogrn = req.ogrn.clone().unwrap_or_else(|| o.ogrn.clone());
            let requisites = check_legal_requisites(&inn, kpp.as_deref(), ogrn.as_deref())?;
            if let Some(code) = &req.code {
                o.code =
                    check_organisation_code(code).map_err(|e| ApiError::validation(e.into()))?;
            }
            o.inn = requisites.inn.as_str().to_owned();
            o.kpp = requisites.kpp.map(|k| k.as_str().to_owned());
            o.ogrn = requisites.ogrn.map(|k| k.as_str().to_owned());
            if let Some(n) = &req.name {
                o.name = n.trim().to_owned();
            }
            if let Some(n) = &req.short_name {
                o.short_name = n.trim().to_owned();
            }
            if let Some(v) = req.vat_payer {
                o.vat_payer = v;
            }
            if let Some(a) = &req.legal_address {
                o.legal_address = a.trim().to_owned();
            }
            if let Some(a) = &req.postal_address {
                o.postal_address = a.clone();
            }
            if let Some(a) = &req.director_name {
                o.director_name = a.clone();
            }
            if let Some(a) = &req.chief_accountant_name {
                o.chief_accountant_name = a.clone();
            }
            if let Some(a) = &req.external_id {
                o.external_id = a.clone();
            }
            o.search_text = search_text(&o.name, &o.short_name, &o.inn);
            Ok(())
        },
        records::snapshot,
    )
    .await??;
    let accounts = orgs::bank_accounts(&txn, id).await?;
    txn.commit().await?;
    Ok(versioned(
        StatusCode::OK,
        updated.version,
        &OrganizationView::new(&updated, &accounts),
    ))
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
    let txn = state.store.begin().await?;
    records::soft_delete::<organization::Entity, _>(
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

/// Lists the bank accounts of an own organisation.
#[utoipa::path(
    tag = "organisation",
    params(("id" = Uuid, Path, description = "Organisation id")),
    responses((status = 200, description = "Bank accounts", body = Vec<BankAccountView>))
)]
#[get("/organizations/{id}/bank-accounts")]
pub async fn list_bank_accounts(
    state: web::Data<AppState>,
    _caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let o = records::find::<organization::Entity, _>(&state.store.conn, id.into_inner()).await?;
    let accounts = orgs::bank_accounts(&state.store.conn, o.id).await?;
    Ok(HttpResponse::Ok().json(
        accounts
            .iter()
            .map(BankAccountView::from)
            .collect::<Vec<_>>(),
    ))
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
    let mut v = Violations::new();
    let Some(model) = bank_account_model(id, "", &body.0, &mut v) else {
        return Err(v.into());
    };
    let txn = state.store.begin().await?;
    records::find::<organization::Entity, _>(&txn, id).await?;
    let saved =
        records::create::<bank_account::Entity, _>(&txn, &admin.actor(), model, records::snapshot)
            .await?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/organizations/{id}/bank-accounts/{}", saved.id),
        saved.version,
        &BankAccountView::from(&saved),
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
    let txn = state.store.begin().await?;
    let account = records::find::<bank_account::Entity, _>(&txn, account_id).await?;
    if account.organization_id != org_id {
        return Err(ApiError::not_found());
    }
    records::soft_delete::<bank_account::Entity, _>(
        &txn,
        &admin.actor(),
        account_id,
        if_match.0,
        records::snapshot,
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
