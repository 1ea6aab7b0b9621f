//! `/contacts` (CRM-3): the people we deal with, and the legal entities they act for.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_persistence::ops::contacts::{
    self as ops, ContactLegalEntityView, ContactListFilter, ContactView, CreateContact,
    LinkLegalEntity, UpdateContact,
};
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
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<ContactListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_contacts(state.db(), &caller, &page, filter).await }
        },
    )
    .await
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
    let c = ops::create_contact(state.db(), &caller, body.0).await?;
    Ok(created(format!("/api/v1/contacts/{}", c.id), c.version, &c))
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
    let c = ops::get_contact(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, c.version, &c))
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
    let c = ops::update_contact(state.db(), &caller, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, c.version, &c))
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
    ops::delete_contact(state.db(), &caller, id.into_inner(), if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The legal entities a contact acts for (only those you may see).
#[utoipa::path(
    tag = "clients",
    params(FormatParam, ("id" = Uuid, Path, description = "Contact id")),
    responses((status = 200, description = "Legal entities with the contact's roles", body = ListPage<ContactLegalEntityView>))
)]
#[get("/contacts/{id}/legal-entities")]
pub async fn list_contact_legal_entities(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let links = ops::list_contact_legal_entities(state.db(), &caller, id.into_inner()).await?;
    whole_answer(&req, links)
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
    let link = ops::link_contact_legal_entity(state.db(), &caller, id.into_inner(), body.0).await?;
    // No Location: a link is read through the lists of either side, not on its own.
    Ok(HttpResponse::Created().json(link))
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
    ops::unlink_contact_legal_entity(state.db(), &caller, contact_id, legal_entity_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
