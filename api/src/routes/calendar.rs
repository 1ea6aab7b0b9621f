//! `/calendar-events`: meetings and appointments with participants, place and an optional
//! reminder (ACT-2). A caller sees the events of his scope and the events he is invited to.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_domain::work::{OwnerType, check_event_times};
use sdelka_persistence::activities::{
    EventFilter, events_query, participants_of, set_participants, visible_events,
};
use sdelka_persistence::entity::{calendar_event, user};
use sdelka_persistence::journal::now;
use sdelka_persistence::pagination::fetch_page;
use sdelka_persistence::records;
use sdelka_persistence::reminders::{self, TARGET_CALENDAR_EVENT};
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::routes::{created, ensure_exists, versioned};
use crate::state::AppState;
use sdelka_persistence::ops::activities::owner_pair;
#[allow(unused_imports)]
use sdelka_persistence::ops::calendar::*;

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
    page: web::Query<ListParams>,
    filter: web::Query<CalendarEventListFilter>,
) -> ApiResult<HttpResponse> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "starts_at")?;
    let f = filter.into_inner();
    let db = &state.store.conn;
    let query = events_query(&EventFilter {
        participant_id: f.participant_id,
        responsible_id: f.responsible_id,
        from: f.from,
        to: f.to,
        owner_type: f.owner_type.map(|t| OwnerType::from(t).as_str().to_owned()),
        owner_id: f.owner_id,
        updated_since: page.updated_since,
    });
    let scope = caller.visibility(db).await?;
    let query = visible_events(query, &scope, caller.user_id);
    let page = fetch_page(db, query, req, calendar_event::Column::Id, |m| m.id).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|e| e.id).collect();
    let p = participants_of(db, &ids).await?;
    let r = reminders::latest_of(db, TARGET_CALENDAR_EVENT, &ids).await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, |e| CalendarEventView::new(e, &p, &r))))
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
    let req = body.0;
    check_event_times(req.starts_at, req.ends_at).map_err(|v| ApiError::validation(v.into()))?;
    let (owner_type, owner_id) = owner_pair(req.owner_type, req.owner_id)?;
    let responsible_id = req.responsible_id.unwrap_or(caller.user_id);
    let at = now();
    let model = calendar_event::Model {
        id: Uuid::now_v7(),
        title: req.title.trim().to_owned(),
        description: req.description,
        starts_at: req.starts_at,
        ends_at: req.ends_at,
        place: req.place,
        owner_type,
        owner_id,
        responsible_id,
        author_id: caller.user_id,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let txn = state.store.begin().await?;
    check_participants(&txn, &req.participants).await?;
    ensure_exists::<user::Entity, _>(&txn, "responsible_id", responsible_id).await?;
    let model = records::create::<calendar_event::Entity, _>(
        &txn,
        &caller.actor(),
        model,
        records::snapshot,
    )
    .await?;
    set_participants(&txn, model.id, &req.participants).await?;
    if let Some(t) = req.remind_at {
        reminders::schedule(
            &txn,
            TARGET_CALENDAR_EVENT,
            model.id,
            t,
            req.reminder_message,
        )
        .await?;
    }
    let view = view_of(&txn, &model).await?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/calendar-events/{}", model.id),
        model.version,
        &view,
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
    let db = &state.store.conn;
    let e = visible_event(db, &caller, id.into_inner()).await?;
    Ok(versioned(
        StatusCode::OK,
        e.version,
        &view_of(db, &e).await?,
    ))
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
    let id = id.into_inner();
    let req = body.0;
    let txn = state.store.begin().await?;
    visible_event(&txn, &caller, id).await?;
    if let Some(p) = &req.participants {
        check_participants(&txn, p).await?;
    }
    if let Some(r) = req.responsible_id {
        ensure_exists::<user::Entity, _>(&txn, "responsible_id", r).await?;
    }
    let updated = records::update::<calendar_event::Entity, _, _, ApiError>(
        &txn,
        &caller.actor(),
        id,
        if_match.0,
        |e| {
            let starts_at = req.starts_at.unwrap_or(e.starts_at);
            let ends_at = req.ends_at.unwrap_or(e.ends_at);
            check_event_times(starts_at, ends_at).map_err(|v| ApiError::validation(v.into()))?;
            e.starts_at = starts_at;
            e.ends_at = ends_at;
            if let Some(t) = &req.title {
                e.title = t.trim().to_owned();
            }
            if let Some(d) = &req.description {
                e.description = d.clone();
            }
            if let Some(p) = &req.place {
                e.place = p.clone();
            }
            if let Some(r) = req.responsible_id {
                e.responsible_id = r;
            }
            Ok(())
        },
        records::snapshot,
    )
    .await??;
    if let Some(p) = &req.participants {
        set_participants(&txn, id, p).await?;
    }
    match req.remind_at {
        Some(Some(t)) => {
            reminders::schedule(&txn, TARGET_CALENDAR_EVENT, id, t, req.reminder_message).await?;
        }
        Some(None) => {
            reminders::cancel_pending(&txn, TARGET_CALENDAR_EVENT, id).await?;
        }
        None => {}
    }
    let view = view_of(&txn, &updated).await?;
    txn.commit().await?;
    Ok(versioned(StatusCode::OK, updated.version, &view))
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
    let id = id.into_inner();
    let txn = state.store.begin().await?;
    visible_event(&txn, &caller, id).await?;
    records::soft_delete::<calendar_event::Entity, _>(
        &txn,
        &caller.actor(),
        id,
        if_match.0,
        records::snapshot,
    )
    .await?;
    reminders::cancel_pending(&txn, TARGET_CALENDAR_EVENT, id).await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
