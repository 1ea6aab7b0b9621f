//! `/contacts` (CRM-3): the people we deal with, and the legal entities they act for.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_domain::clients::Phone;
use sdelka_domain::validation::{FieldViolation, Violations};
use sdelka_persistence::clients::{self as store, ContactFilter, contacts_query};
use sdelka_persistence::entity::{contact, contact_legal_entity};
use sdelka_persistence::journal::{self, Change, now};
use sdelka_persistence::pagination::fetch_page;
use sdelka_persistence::records;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::routes::{created, versioned};
use crate::state::AppState;
use sdelka_persistence::ops::clients::{
    external_filter, external_ids_json, external_refs, responsible,
};
#[allow(unused_imports)]
use sdelka_persistence::ops::contacts::*;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_contacts)
        .service(create_contact)
        .service(get_contact)
        .service(update_contact)
        .service(delete_contact)
        .service(list_contact_legal_entities)
        .service(link_contact_legal_entity)
        .service(unlink_contact_legal_entity);
}

/// Lists the contacts you may see.
#[utoipa::path(
    tag = "clients",
    params(ListParams, ContactListFilter),
    responses((status = 200, description = "A page of contacts", body = ListPage<ContactView>))
)]
#[get("/contacts")]
pub async fn list_contacts(
    state: web::Data<AppState>,
    caller: Principal,
    page: web::Query<ListParams>,
    filter: web::Query<ContactListFilter>,
) -> ApiResult<HttpResponse> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let f = filter.into_inner();
    let phone = match &f.phone {
        Some(p) => Some(
            Phone::parse(p)
                .map_err(|e| ApiError::field("phone", "invalid_phone", e.to_string()))?
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    let scope = caller.visibility(&state.store.conn).await?;
    let query = contacts_query(
        &ContactFilter {
            q: f.q,
            email: f.email.map(|e| e.trim().to_lowercase()),
            phone,
            legal_entity_id: f.legal_entity_id,
            responsible_id: f.responsible_id,
            external_id: external_filter(f.external_id.as_deref())?,
            updated_since: page.updated_since,
        },
        &scope,
    );
    let page = fetch_page(&state.store.conn, query, req, contact::Column::Id, |m| m.id).await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, |m| ContactView::from(m))))
}

/// Creates a contact; you are the responsible unless you name another. Phones are stored as
/// digits, emails lower-cased. Another visible contact with one of the same emails or phones
/// does not stop the write: the answer carries `possible_duplicate` warnings.
#[utoipa::path(
    tag = "clients",
    request_body = CreateContact,
    responses((status = 201, description = "Created (see `warnings`)", body = ContactView))
)]
#[post("/contacts")]
pub async fn create_contact(
    state: web::Data<AppState>,
    caller: Principal,
    body: JsonBody<CreateContact>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let mut v = Violations::new();
    let phones = parse_phones(&req.phones, &mut v);
    let emails = parse_emails(&req.emails, &mut v);
    let messengers = normalise_messengers(&req.messengers, &mut v);
    let refs = external_refs(&req.external_ids, &mut v);
    let last_name = req.last_name.trim().to_owned();
    if last_name.is_empty() {
        v.push(FieldViolation::new(
            "last_name",
            "required",
            "last_name must not be blank",
        ));
    }
    let mut model = new_contact(last_name, phones, emails, caller.user_id);
    model.first_name = trimmed(req.first_name);
    model.middle_name = trimmed(req.middle_name);
    model.position = trimmed(req.position);
    model.messengers = serde_json::json!(messengers);
    model.postal_address = trimmed(req.postal_address);
    model.external_ids = external_ids_json(&refs);
    model.search_text = search_text(&model);
    if let Err(e) = apply_preference(&mut model, req.preferred_channel, req.preferred_address) {
        v.push(e);
    }
    if !v.is_empty() {
        return Err(v.into());
    }
    let scope = caller.visibility(&state.store.conn).await?;
    model.responsible_id =
        responsible(&state.store.conn, &caller, &scope, req.responsible_id).await?;
    let txn = state.store.begin().await?;
    let warnings = duplicate_warnings(&txn, &scope, &model).await?;
    let model =
        records::create::<contact::Entity, _>(&txn, &caller.actor(), model, records::snapshot)
            .await?;
    store::set_external_ids(&txn, "contact", model.id, &refs).await?;
    txn.commit().await?;
    let mut view = ContactView::from(&model);
    view.warnings = warnings;
    Ok(created(
        format!("/api/v1/contacts/{}", model.id),
        model.version,
        &view,
    ))
}

/// Reads one contact.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Contact id")),
    responses((status = 200, description = "The contact", body = ContactView))
)]
#[get("/contacts/{id}")]
pub async fn get_contact(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let scope = caller.visibility(&state.store.conn).await?;
    let c = visible(&state.store.conn, &scope, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, c.version, &ContactView::from(&c)))
}

/// Changes a contact. Lists are replaced as a whole; the preferred address must still be one
/// of the contact's addresses afterwards.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Contact id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body = UpdateContact,
    responses((status = 200, description = "Updated (see `warnings`)", body = ContactView))
)]
#[patch("/contacts/{id}")]
pub async fn update_contact(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateContact>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let req = body.0;
    let mut v = Violations::new();
    let phones = req.phones.as_ref().map(|p| parse_phones(p, &mut v));
    let emails = req.emails.as_ref().map(|e| parse_emails(e, &mut v));
    let messengers = req
        .messengers
        .as_ref()
        .map(|m| normalise_messengers(m, &mut v));
    let refs = req.external_ids.as_ref().map(|e| external_refs(e, &mut v));
    let last_name = req.last_name.as_ref().map(|n| n.trim().to_owned());
    if last_name.as_ref().is_some_and(String::is_empty) {
        v.push(FieldViolation::new(
            "last_name",
            "required",
            "last_name must not be blank",
        ));
    }
    if !v.is_empty() {
        return Err(v.into());
    }
    let scope = caller.visibility(&state.store.conn).await?;
    visible(&state.store.conn, &scope, id).await?;
    let responsible_id = match req.responsible_id {
        Some(r) => Some(responsible(&state.store.conn, &caller, &scope, Some(r)).await?),
        None => None,
    };
    let addresses_changed = phones.is_some() || emails.is_some();
    let txn = state.store.begin().await?;
    let updated = records::update::<contact::Entity, _, _, ApiError>(
        &txn,
        &caller.actor(),
        id,
        if_match.0,
        |c| {
            if let Some(n) = last_name {
                c.last_name = n;
            }
            if let Some(n) = req.first_name {
                c.first_name = trimmed(n);
            }
            if let Some(n) = req.middle_name {
                c.middle_name = trimmed(n);
            }
            if let Some(p) = req.position {
                c.position = trimmed(p);
            }
            if let Some(p) = phones {
                set_phones(c, p);
            }
            if let Some(e) = emails {
                set_emails(c, e);
            }
            if let Some(m) = messengers {
                c.messengers = serde_json::json!(m);
            }
            if let Some(a) = req.postal_address {
                c.postal_address = trimmed(a);
            }
            if let Some(r) = responsible_id {
                c.responsible_id = r;
            }
            if let Some(r) = &refs {
                c.external_ids = external_ids_json(r);
            }
            let channel = match req.preferred_channel {
                Some(ch) => ch,
                None => c
                    .preferred_channel
                    .as_deref()
                    .and_then(PreferredChannel::parse),
            };
            let address = match (req.preferred_address, req.preferred_channel) {
                (Some(a), _) => a,
                // Clearing the channel clears its address too.
                (None, Some(None)) => None,
                (None, _) => c.preferred_address.clone(),
            };
            apply_preference(c, channel, address).map_err(|e| ApiError::validation(e.into()))?;
            c.search_text = search_text(c);
            Ok(())
        },
        records::snapshot,
    )
    .await??;
    if let Some(r) = &refs {
        store::set_external_ids(&txn, "contact", id, r).await?;
    }
    let warnings = if addresses_changed {
        duplicate_warnings(&txn, &scope, &updated).await?
    } else {
        Vec::new()
    };
    txn.commit().await?;
    let mut view = ContactView::from(&updated);
    view.warnings = warnings;
    Ok(versioned(StatusCode::OK, updated.version, &view))
}

/// Deletes a contact (kept for the audit trail); its external ids become free.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Contact id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/contacts/{id}")]
pub async fn delete_contact(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let scope = caller.visibility(&state.store.conn).await?;
    visible(&state.store.conn, &scope, id).await?;
    let txn = state.store.begin().await?;
    records::soft_delete::<contact::Entity, _>(
        &txn,
        &caller.actor(),
        id,
        if_match.0,
        records::snapshot,
    )
    .await?;
    store::release_external_ids(&txn, "contact", id).await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The legal entities a contact acts for (only those you may see).
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Contact id")),
    responses((status = 200, description = "Legal entities with the contact's roles", body = Vec<ContactLegalEntityView>))
)]
#[get("/contacts/{id}/legal-entities")]
pub async fn list_contact_legal_entities(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let scope = caller.visibility(&state.store.conn).await?;
    let c = visible(&state.store.conn, &scope, id.into_inner()).await?;
    let links = store::legal_entities_of_contact(&state.store.conn, &scope, c.id).await?;
    Ok(HttpResponse::Ok().json(
        links
            .iter()
            .map(|(l, e)| ContactLegalEntityView::new(l, e))
            .collect::<Vec<_>>(),
    ))
}

/// Records that a contact acts for a legal entity (of any company you may see), in a role.
/// Linking the same pair twice is a 409 `duplicate`. The link appears on the contact's
/// timeline.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Contact id")),
    request_body = LinkLegalEntity,
    responses((status = 201, description = "Linked", body = ContactLegalEntityView))
)]
#[post("/contacts/{id}/legal-entities")]
pub async fn link_contact_legal_entity(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    body: JsonBody<LinkLegalEntity>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let scope = caller.visibility(&state.store.conn).await?;
    let c = visible(&state.store.conn, &scope, id.into_inner()).await?;
    let Some(e) =
        store::visible_legal_entity(&state.store.conn, &scope, req.legal_entity_id).await?
    else {
        return Err(ApiError::field(
            "legal_entity_id",
            "not_found",
            format!("legal_entity_id {} does not exist", req.legal_entity_id),
        ));
    };
    let link = contact_legal_entity::Model {
        contact_id: c.id,
        legal_entity_id: e.id,
        role: trimmed(req.role),
        created_at: now(),
    };
    let txn = state.store.begin().await?;
    if store::find_link(&txn, c.id, e.id).await?.is_some() {
        return Err(ApiError::new(
            ErrorCode::Duplicate,
            "the contact is already linked to this legal entity",
        ));
    }
    store::insert_link(&txn, &link).await?;
    let after = serde_json::json!({"legal_entity_id": e.id, "role": link.role});
    journal::record(
        &txn,
        &caller.actor(),
        Change {
            entity_type: "contact",
            entity_id: c.id,
            action: "legal_entity_linked",
            before: None,
            after: Some(&after),
            comment: None,
        },
    )
    .await?;
    txn.commit().await?;
    // No Location: a link is read through the lists of either side, not on its own.
    Ok(HttpResponse::Created().json(ContactLegalEntityView::new(&link, &e)))
}

/// Ends a contact's link to a legal entity; the timeline keeps it.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Contact id"), ("legal_entity_id" = Uuid, Path, description = "Legal entity id")),
    responses((status = 204, description = "Unlinked"))
)]
#[delete("/contacts/{id}/legal-entities/{legal_entity_id}")]
pub async fn unlink_contact_legal_entity(
    state: web::Data<AppState>,
    caller: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (contact_id, legal_entity_id) = path.into_inner();
    let scope = caller.visibility(&state.store.conn).await?;
    let c = visible(&state.store.conn, &scope, contact_id).await?;
    store::visible_legal_entity(&state.store.conn, &scope, legal_entity_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let txn = state.store.begin().await?;
    let link = store::find_link(&txn, c.id, legal_entity_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    store::delete_link(&txn, c.id, legal_entity_id).await?;
    let before = serde_json::json!({"legal_entity_id": legal_entity_id, "role": link.role});
    journal::record(
        &txn,
        &caller.actor(),
        Change {
            entity_type: "contact",
            entity_id: c.id,
            action: "legal_entity_unlinked",
            before: Some(&before),
            after: None,
            comment: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
