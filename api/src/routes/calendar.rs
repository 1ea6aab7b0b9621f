//! `/calendar-events`: meetings and appointments with participants, place and an optional
//! reminder (ACT-2). A caller sees the events of his scope and the events he is invited to.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use sdelka_domain::validation::{FieldViolation, Violations};
use sdelka_domain::work::{OwnerType, check_event_times};
use sdelka_persistence::activities::{
    self, EventFilter, events_query, participants_of, set_participants, visible_events,
};
use sdelka_persistence::entity::{calendar_event, calendar_event_participant, reminder, user};
use sdelka_persistence::journal::now;
use sdelka_persistence::pagination::{CursorValue, SortKey, fetch_page};
use sdelka_persistence::records;
use sdelka_persistence::reminders::{self, TARGET_CALENDAR_EVENT};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::Principal;
use crate::dto::double_option;
use crate::error::{ApiError, ApiResult};
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::routes::activities::{OwnerTypeName, ReminderView, owner_pair};
use crate::routes::{created, ensure_exists, versioned};
use crate::state::AppState;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_events)
        .service(create_event)
        .service(get_event)
        .service(update_event)
        .service(delete_event);
}

/// A calendar event.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarEventView {
    pub id: Uuid,
    #[schema(example = "Встреча с ООО «Ромашка»")]
    pub title: String,
    pub description: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[schema(example = "Переговорная 2")]
    pub place: Option<String>,
    /// Invited users.
    pub participants: Vec<Uuid>,
    #[schema(value_type = Option<OwnerTypeName>)]
    pub owner_type: Option<String>,
    pub owner_id: Option<Uuid>,
    pub responsible_id: Uuid,
    pub author_id: Uuid,
    pub reminder: Option<ReminderView>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CalendarEventView {
    fn new(
        e: &calendar_event::Model,
        participants: &[calendar_event_participant::Model],
        reminders: &[reminder::Model],
    ) -> Self {
        CalendarEventView {
            id: e.id,
            title: e.title.clone(),
            description: e.description.clone(),
            starts_at: e.starts_at,
            ends_at: e.ends_at,
            place: e.place.clone(),
            participants: participants
                .iter()
                .filter(|p| p.event_id == e.id)
                .map(|p| p.user_id)
                .collect(),
            owner_type: e.owner_type.clone(),
            owner_id: e.owner_id,
            responsible_id: e.responsible_id,
            author_id: e.author_id,
            reminder: reminders
                .iter()
                .find(|r| r.target_id == e.id)
                .map(ReminderView::from),
            version: e.version,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCalendarEvent {
    #[validate(length(min = 1, max = 500, message = "title must be 1 to 500 characters"))]
    #[schema(example = "Встреча с ООО «Ромашка»")]
    pub title: String,
    #[validate(length(max = 10000))]
    pub description: Option<String>,
    pub starts_at: DateTime<Utc>,
    /// Must be after `starts_at`.
    pub ends_at: DateTime<Utc>,
    #[validate(length(max = 500))]
    pub place: Option<String>,
    /// Invited users (must exist).
    #[serde(default)]
    #[validate(length(max = 200))]
    pub participants: Vec<Uuid>,
    pub owner_type: Option<OwnerTypeName>,
    pub owner_id: Option<Uuid>,
    /// Default: the caller.
    pub responsible_id: Option<Uuid>,
    pub remind_at: Option<DateTime<Utc>>,
    #[validate(length(max = 2000))]
    pub reminder_message: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCalendarEvent {
    #[validate(length(min = 1, max = 500, message = "title must be 1 to 500 characters"))]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub place: Option<Option<String>>,
    /// Replaces the participants.
    #[validate(length(max = 200))]
    pub participants: Option<Vec<Uuid>>,
    pub responsible_id: Option<Uuid>,
    /// A new reminder time; `null` cancels the pending reminder.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub remind_at: Option<Option<DateTime<Utc>>>,
    #[validate(length(max = 2000))]
    pub reminder_message: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CalendarEventListFilter {
    /// Events this user is invited to.
    pub participant_id: Option<Uuid>,
    pub responsible_id: Option<Uuid>,
    /// Window start: events that end after it.
    pub from: Option<DateTime<Utc>>,
    /// Window end: events that start before it.
    pub to: Option<DateTime<Utc>>,
    #[param(inline)]
    pub owner_type: Option<OwnerTypeName>,
    pub owner_id: Option<Uuid>,
}

fn sorts() -> [SortKey<calendar_event::Entity>; 3] {
    [
        SortKey {
            name: "starts_at",
            column: calendar_event::Column::StartsAt,
            key: |m| CursorValue::Time(m.starts_at),
        },
        SortKey {
            name: "created_at",
            column: calendar_event::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: calendar_event::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
    ]
}

/// Reads an event the caller may see (in his scope, or he is invited); else 404.
pub async fn visible_event<C: ConnectionTrait>(
    db: &C,
    caller: &Principal,
    id: Uuid,
) -> ApiResult<calendar_event::Model> {
    let e = records::find::<calendar_event::Entity, _>(db, id).await?;
    if caller.visibility(db).await?.allows(Some(e.responsible_id)) {
        return Ok(e);
    }
    let invited = participants_of(db, &[id])
        .await?
        .iter()
        .any(|p| p.user_id == caller.user_id);
    if invited {
        Ok(e)
    } else {
        Err(ApiError::not_found())
    }
}

async fn check_participants<C: ConnectionTrait>(db: &C, ids: &[Uuid]) -> ApiResult<()> {
    let missing = activities::missing_users(db, ids).await?;
    if missing.is_empty() {
        return Ok(());
    }
    let mut v = Violations::new();
    for (i, id) in ids
        .iter()
        .enumerate()
        .filter(|(_, id)| missing.contains(id))
    {
        v.push(FieldViolation::new(
            format!("participants[{i}]"),
            "not_found",
            format!("user {id} does not exist"),
        ));
    }
    Err(v.into())
}

async fn view_of<C: ConnectionTrait>(
    db: &C,
    e: &calendar_event::Model,
) -> ApiResult<CalendarEventView> {
    let p = participants_of(db, &[e.id]).await?;
    let r = reminders::latest_of(db, TARGET_CALENDAR_EVENT, &[e.id]).await?;
    Ok(CalendarEventView::new(e, &p, &r))
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
