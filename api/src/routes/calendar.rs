//! `/calendar-events`: meetings and appointments with participants, place and an optional
//! reminder (ACT-2). A caller sees the events of his scope and the events he is invited to.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_persistence::ops::calendar::{
    self as ops, CalendarEventListFilter, CalendarEventView, CreateCalendarEvent,
    UpdateCalendarEvent,
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
    cfg.service(list_events)
        .service(create_event)
        .service(get_event)
        .service(update_event)
        .service(delete_event);
}

/// Lists calendar events; `from`/`to` select the events overlapping a window.
#[utoipa::path(
    tag = "work",
    params(ListParams, CalendarEventListFilter),
    responses((status = 200, description = "A page of events", body = ListPage<CalendarEventView>))
)]
#[get("/calendar-events")]
pub async fn list_events(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<CalendarEventListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_events(state.db(), &caller, &page, filter).await }
        },
    )
    .await
}

/// Creates a calendar event. `ends_at` must be after `starts_at`; participants must exist.
#[utoipa::path(
    tag = "work",
    request_body = CreateCalendarEvent,
    responses((status = 201, description = "Created", body = CalendarEventView))
)]
#[post("/calendar-events")]
pub async fn create_event(
    state: web::Data<AppState>,
    caller: Principal,
    body: JsonBody<CreateCalendarEvent>,
) -> ApiResult<HttpResponse> {
    let e = ops::create_event(state.db(), &caller, body.0).await?;
    Ok(created(
        format!("/api/v1/calendar-events/{}", e.id),
        e.version,
        &e,
    ))
}

/// Reads one calendar event.
#[utoipa::path(
    tag = "work",
    params(("id" = Uuid, Path, description = "Event id")),
    responses((status = 200, description = "The event", body = CalendarEventView))
)]
#[get("/calendar-events/{id}")]
pub async fn get_event(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let e = ops::get_event(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, e.version, &e))
}

/// Changes a calendar event; the times are checked again as a pair.
#[utoipa::path(
    tag = "work",
    params(("id" = Uuid, Path, description = "Event id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body = UpdateCalendarEvent,
    responses((status = 200, description = "Updated", body = CalendarEventView))
)]
#[patch("/calendar-events/{id}")]
pub async fn update_event(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateCalendarEvent>,
) -> ApiResult<HttpResponse> {
    let e = ops::update_event(state.db(), &caller, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, e.version, &e))
}

/// Deletes a calendar event (kept for the audit trail); its pending reminder is cancelled.
#[utoipa::path(
    tag = "work",
    params(("id" = Uuid, Path, description = "Event id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/calendar-events/{id}")]
pub async fn delete_event(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    ops::delete_event(state.db(), &caller, id.into_inner(), if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
