//! `/legal-entities` (CRM-2): the requisites of a company's counterparties, their bank
//! accounts, and the contacts acting for them. A legal entity is visible when its company is.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_domain::clients::{CounterpartyKind, check_counterparty_requisites};
use sdelka_domain::validation::{FieldViolation, Violations};
use sdelka_persistence::clients::{self as store, LegalEntityFilter, legal_entities_query};
use sdelka_persistence::entity::{legal_entity, legal_entity_bank_account};
use sdelka_persistence::journal::now;
use sdelka_persistence::pagination::fetch_page;
use sdelka_persistence::records;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::routes::{created, versioned};
use crate::state::AppState;
use sdelka_persistence::ops::clients::{external_filter, external_ids_json, external_refs};
#[allow(unused_imports)]
use sdelka_persistence::ops::legal_entities::*;
use sdelka_persistence::ops::organizations::NewBankAccount;

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
    page: web::Query<ListParams>,
    filter: web::Query<LegalEntityListFilter>,
) -> ApiResult<HttpResponse> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let f = filter.into_inner();
    let scope = caller.visibility(&state.store.conn).await?;
    let query = legal_entities_query(
        &LegalEntityFilter {
            q: f.q,
            company_id: f.company_id,
            inn: f.inn,
            kind: f
                .kind
                .map(|k| CounterpartyKind::from(k).as_str().to_owned()),
            external_id: external_filter(f.external_id.as_deref())?,
            updated_since: page.updated_since,
        },
        &scope,
    );
    let page = fetch_page(
        &state.store.conn,
        query,
        req,
        legal_entity::Column::Id,
        |m| m.id,
    )
    .await?;
    let ids: Vec<Uuid> = page.items.iter().map(|e| e.id).collect();
    let accounts = store::bank_accounts(&state.store.conn, &ids).await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, |e| LegalEntityView::new(e, &accounts))))
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
    let req = body.0;
    let id = Uuid::now_v7();
    let mut v = Violations::new();
    let requisites = match check_counterparty_requisites(
        req.kind.into(),
        &req.inn,
        req.kpp.as_deref(),
        req.ogrn.as_deref(),
    ) {
        Ok(r) => Some(r),
        Err(errs) => {
            for e in errs.into_vec() {
                v.push(e);
            }
            None
        }
    };
    let refs = external_refs(&req.external_ids, &mut v);
    let accounts: Vec<_> = req
        .bank_accounts
        .iter()
        .enumerate()
        .filter_map(|(i, b)| bank_account_model(id, &format!("bank_accounts[{i}]."), b, &mut v))
        .collect();
    let full_name = req.full_name.trim().to_owned();
    if full_name.is_empty() {
        v.push(FieldViolation::new(
            "full_name",
            "required",
            "full_name must not be blank",
        ));
    }
    let (Some(requisites), true) = (requisites, v.is_empty()) else {
        return Err(v.into());
    };
    let scope = caller.visibility(&state.store.conn).await?;
    let at = now();
    let mut model = legal_entity::Model {
        id,
        company_id: req.company_id,
        kind: CounterpartyKind::from(req.kind).as_str().to_owned(),
        short_name: trimmed(req.short_name).unwrap_or_else(|| full_name.clone()),
        full_name,
        inn: requisites.inn.as_str().to_owned(),
        kpp: requisites.kpp.map(|k| k.as_str().to_owned()),
        ogrn: requisites.ogrn.map(|o| o.as_str().to_owned()),
        legal_address: trimmed(req.legal_address),
        postal_address: trimmed(req.postal_address),
        signatory_name: trimmed(req.signatory_name),
        signatory_basis: trimmed(req.signatory_basis),
        external_ids: external_ids_json(&refs),
        search_text: String::new(),
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    model.search_text = search_text(&model);
    let actor = caller.actor();
    let txn = state.store.begin().await?;
    if store::visible_company(&txn, &scope, req.company_id)
        .await?
        .is_none()
    {
        return Err(ApiError::field(
            "company_id",
            "not_found",
            format!("company_id {} does not exist", req.company_id),
        ));
    }
    let warnings = duplicate_warnings(&txn, &scope, &model).await?;
    let model =
        records::create::<legal_entity::Entity, _>(&txn, &actor, model, records::snapshot).await?;
    store::set_external_ids(&txn, "legal_entity", id, &refs).await?;
    let mut saved = Vec::with_capacity(accounts.len());
    for a in accounts {
        saved.push(
            records::create::<legal_entity_bank_account::Entity, _>(
                &txn,
                &actor,
                a,
                records::snapshot,
            )
            .await?,
        );
    }
    txn.commit().await?;
    let mut view = LegalEntityView::new(&model, &saved);
    view.warnings = warnings;
    Ok(created(
        format!("/api/v1/legal-entities/{}", model.id),
        model.version,
        &view,
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
    let scope = caller.visibility(&state.store.conn).await?;
    let e = visible(&state.store.conn, &scope, id.into_inner()).await?;
    let accounts = store::bank_accounts(&state.store.conn, &[e.id]).await?;
    Ok(versioned(
        StatusCode::OK,
        e.version,
        &LegalEntityView::new(&e, &accounts),
    ))
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
    let id = id.into_inner();
    let req = body.0;
    let mut v = Violations::new();
    let refs = req.external_ids.as_ref().map(|e| external_refs(e, &mut v));
    if !v.is_empty() {
        return Err(v.into());
    }
    let scope = caller.visibility(&state.store.conn).await?;
    visible(&state.store.conn, &scope, id).await?;
    let txn = state.store.begin().await?;
    let updated = records::update::<legal_entity::Entity, _, _, ApiError>(
        &txn,
        &caller.actor(),
        id,
        if_match.0,
        |e| {
            let kind = req
                .kind
                .or_else(|| LegalEntityKind::parse(&e.kind))
                .unwrap_or(LegalEntityKind::LegalEntity);
            let inn = req.inn.clone().unwrap_or_else(|| e.inn.clone());
            let kpp = req.kpp.clone().unwrap_or_else(|| e.kpp.clone());
            let ogrn = req.ogrn.clone().unwrap_or_else(|| e.ogrn.clone());
            let requisites =
                check_counterparty_requisites(kind.into(), &inn, kpp.as_deref(), ogrn.as_deref())?;
            e.kind = CounterpartyKind::from(kind).as_str().to_owned();
            e.inn = requisites.inn.as_str().to_owned();
            e.kpp = requisites.kpp.map(|k| k.as_str().to_owned());
            e.ogrn = requisites.ogrn.map(|k| k.as_str().to_owned());
            if let Some(n) = &req.full_name {
                e.full_name = n.trim().to_owned();
            }
            if let Some(n) = &req.short_name {
                e.short_name = n.trim().to_owned();
            }
            if e.full_name.is_empty() || e.short_name.is_empty() {
                return Err(ApiError::field(
                    if e.full_name.is_empty() {
                        "full_name"
                    } else {
                        "short_name"
                    },
                    "required",
                    "names must not be blank",
                ));
            }
            if let Some(a) = &req.legal_address {
                e.legal_address = trimmed(a.clone());
            }
            if let Some(a) = &req.postal_address {
                e.postal_address = trimmed(a.clone());
            }
            if let Some(a) = &req.signatory_name {
                e.signatory_name = trimmed(a.clone());
            }
            if let Some(a) = &req.signatory_basis {
                e.signatory_basis = trimmed(a.clone());
            }
            if let Some(r) = &refs {
                e.external_ids = external_ids_json(r);
            }
            e.search_text = search_text(e);
            Ok(())
        },
        records::snapshot,
    )
    .await??;
    if let Some(r) = &refs {
        store::set_external_ids(&txn, "legal_entity", id, r).await?;
    }
    let warnings = if req.inn.is_some() || req.kpp.is_some() {
        duplicate_warnings(&txn, &scope, &updated).await?
    } else {
        Vec::new()
    };
    let accounts = store::bank_accounts(&txn, &[id]).await?;
    txn.commit().await?;
    let mut view = LegalEntityView::new(&updated, &accounts);
    view.warnings = warnings;
    Ok(versioned(StatusCode::OK, updated.version, &view))
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
    let id = id.into_inner();
    let scope = caller.visibility(&state.store.conn).await?;
    visible(&state.store.conn, &scope, id).await?;
    let txn = state.store.begin().await?;
    records::soft_delete::<legal_entity::Entity, _>(
        &txn,
        &caller.actor(),
        id,
        if_match.0,
        records::snapshot,
    )
    .await?;
    store::release_external_ids(&txn, "legal_entity", id).await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Lists the bank accounts of a legal entity.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Legal entity id")),
    responses((status = 200, description = "Bank accounts", body = Vec<LegalEntityBankAccountView>))
)]
#[get("/legal-entities/{id}/bank-accounts")]
pub async fn list_legal_entity_bank_accounts(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let scope = caller.visibility(&state.store.conn).await?;
    let e = visible(&state.store.conn, &scope, id.into_inner()).await?;
    let accounts = store::bank_accounts(&state.store.conn, &[e.id]).await?;
    Ok(HttpResponse::Ok().json(
        accounts
            .iter()
            .map(LegalEntityBankAccountView::from)
            .collect::<Vec<_>>(),
    ))
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
    let scope = caller.visibility(&state.store.conn).await?;
    visible(&state.store.conn, &scope, id).await?;
    let mut v = Violations::new();
    let Some(model) = bank_account_model(id, "", &body.0, &mut v) else {
        return Err(v.into());
    };
    let txn = state.store.begin().await?;
    let saved = records::create::<legal_entity_bank_account::Entity, _>(
        &txn,
        &caller.actor(),
        model,
        records::snapshot,
    )
    .await?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/legal-entities/{id}/bank-accounts/{}", saved.id),
        saved.version,
        &LegalEntityBankAccountView::from(&saved),
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
    let scope = caller.visibility(&state.store.conn).await?;
    visible(&state.store.conn, &scope, legal_entity_id).await?;
    let txn = state.store.begin().await?;
    let account = records::find::<legal_entity_bank_account::Entity, _>(&txn, account_id).await?;
    if account.legal_entity_id != legal_entity_id {
        return Err(ApiError::not_found());
    }
    records::soft_delete::<legal_entity_bank_account::Entity, _>(
        &txn,
        &caller.actor(),
        account_id,
        if_match.0,
        records::snapshot,
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The contacts acting for a legal entity (only those you may see).
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Legal entity id")),
    responses((status = 200, description = "Contacts with their roles", body = Vec<LegalEntityContactView>))
)]
#[get("/legal-entities/{id}/contacts")]
pub async fn list_legal_entity_contacts(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let scope = caller.visibility(&state.store.conn).await?;
    let e = visible(&state.store.conn, &scope, id.into_inner()).await?;
    let links = store::contacts_of_legal_entity(&state.store.conn, &scope, e.id).await?;
    Ok(HttpResponse::Ok().json(
        links
            .into_iter()
            .map(|(l, c)| LegalEntityContactView {
                contact_id: c.id,
                last_name: c.last_name,
                first_name: c.first_name,
                middle_name: c.middle_name,
                role: l.role,
                linked_at: l.created_at,
            })
            .collect::<Vec<_>>(),
    ))
}
