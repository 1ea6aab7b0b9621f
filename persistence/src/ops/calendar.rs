//! `/calendar-events`: meetings and appointments with participants, place and an optional
//! reminder (ACT-2). A caller sees the events of his scope and the events he is invited to.

use crate::activities::{
    self, EventFilter, events_query, participants_of, set_participants, visible_events,
};
use crate::entity::{calendar_event, calendar_event_participant, reminder};
use crate::journal::now;
use crate::pagination::{CursorValue, SortKey, fetch_page};
use crate::records;
use crate::reminders::{self, TARGET_CALENDAR_EVENT};
use chrono::{DateTime, Utc};
use sdelka_domain::validation::{FieldViolation, Violations};
use sdelka_domain::work::{OwnerType, check_event_times};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::dto::double_option;
use super::{Caller, Db, Error, ListPage, ListParams, OpResult, present};

use super::activities::{OwnerTypeName, ReminderView, owner_pair};

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
    pub fn new(
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

pub fn sorts() -> [SortKey<calendar_event::Entity>; 3] {
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
    caller: &Caller,
    id: Uuid,
) -> OpResult<calendar_event::Model> {
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
        Err(Error::not_found())
    }
}

pub async fn check_participants<C: ConnectionTrait>(db: &C, ids: &[Uuid]) -> OpResult<()> {
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

pub async fn view_of<C: ConnectionTrait>(
    db: &C,
    e: &calendar_event::Model,
) -> OpResult<CalendarEventView> {
    let p = participants_of(db, &[e.id]).await?;
    let r = reminders::latest_of(db, TARGET_CALENDAR_EVENT, &[e.id]).await?;
    Ok(CalendarEventView::new(e, &p, &r))
}

// ---------------------------------------------------------------------------------------------
// Operations

/// The participants an event will have once `users` are set (repeats dropped, in the order
/// they are read back).
fn planned_participants(event_id: Uuid, users: &[Uuid]) -> Vec<calendar_event_participant::Model> {
    let set: std::collections::BTreeSet<Uuid> = users.iter().copied().collect();
    set.into_iter()
        .map(|user_id| calendar_event_participant::Model { event_id, user_id })
        .collect()
}

/// The events the caller may see (his scope's and those he is invited to), a page at a time;
/// `from`/`to` select those overlapping a window.
pub async fn list_events(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
    f: CalendarEventListFilter,
) -> OpResult<ListPage<CalendarEventView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "starts_at")?;
    let query = events_query(&EventFilter {
        participant_id: f.participant_id,
        responsible_id: f.responsible_id,
        from: f.from,
        to: f.to,
        owner_type: f.owner_type.map(|t| OwnerType::from(t).as_str().to_owned()),
        owner_id: f.owner_id,
        updated_since: page.updated_since,
    });
    let scope = caller.visibility(&db).await?;
    let query = visible_events(query, &scope, caller.user_id);
    let page = fetch_page(&db, query, req, calendar_event::Column::Id, |m| m.id).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|e| e.id).collect();
    let p = participants_of(&db, &ids).await?;
    let r = reminders::latest_of(&db, TARGET_CALENDAR_EVENT, &ids).await?;
    Ok(ListPage::of(page, |e| CalendarEventView::new(e, &p, &r)))
}

/// Creates an event with its participants and an optional reminder.
pub async fn create_event(
    db: Db<'_>,
    caller: &Caller,
    req: CreateCalendarEvent,
) -> OpResult<CalendarEventView> {
    check_event_times(req.starts_at, req.ends_at).map_err(|v| Error::validation(v.into()))?;
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
    let txn = db.begin().await?;
    check_participants(&txn, &req.participants).await?;
    super::refs::assignee(&txn, "responsible_id", responsible_id).await?;
    if let (Some(t), Some(o)) = (req.owner_type, req.owner_id) {
        super::refs::owner(&txn, caller, t.into(), o).await?;
    }
    // The reminder is scheduled first and the participants are known, so that the creation's
    // event shows the event whole.
    let mut scheduled = Vec::new();
    if let Some(t) = req.remind_at {
        scheduled.push(
            reminders::schedule(
                &txn,
                TARGET_CALENDAR_EVENT,
                model.id,
                t,
                req.reminder_message,
            )
            .await?,
        );
    }
    let participants = planned_participants(model.id, &req.participants);
    let model = records::create::<calendar_event::Entity, _>(&txn, &caller.actor(), model, |e| {
        present(&CalendarEventView::new(e, &participants, &scheduled))
    })
    .await?;
    set_participants(&txn, model.id, &req.participants).await?;
    let view = view_of(&txn, &model).await?;
    txn.commit().await?;
    Ok(view)
}

/// One event the caller may see.
pub async fn get_event(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<CalendarEventView> {
    let e = visible_event(&db, caller, id).await?;
    view_of(&db, &e).await
}

/// Changes an event; `participants` replaces the list, `remind_at` reschedules (or with
/// `null` cancels) its reminder.
pub async fn update_event(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: UpdateCalendarEvent,
) -> OpResult<CalendarEventView> {
    let txn = db.begin().await?;
    let current = visible_event(&txn, caller, id).await?;
    if let Some(p) = &req.participants {
        check_participants(&txn, p).await?;
    }
    if let Some(r) = req.responsible_id
        && r != current.responsible_id
    {
        super::refs::assignee(&txn, "responsible_id", r).await?;
    }
    // Participants and reminder change first, so that the update's event shows the event as
    // it is after the write (and the audit diff, as it was before).
    let participants_before = participants_of(&txn, &[id]).await?;
    let reminders_before = reminders::latest_of(&txn, TARGET_CALENDAR_EVENT, &[id]).await?;
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
    let participants_after = participants_of(&txn, &[id]).await?;
    let reminders_after = reminders::latest_of(&txn, TARGET_CALENDAR_EVENT, &[id]).await?;
    let updated = records::update::<calendar_event::Entity, _, _, Error>(
        &txn,
        &caller.actor(),
        id,
        if_match,
        |e| {
            let starts_at = req.starts_at.unwrap_or(e.starts_at);
            let ends_at = req.ends_at.unwrap_or(e.ends_at);
            check_event_times(starts_at, ends_at).map_err(|v| Error::validation(v.into()))?;
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
        |e| {
            let view = if e.version == current.version {
                CalendarEventView::new(e, &participants_before, &reminders_before)
            } else {
                CalendarEventView::new(e, &participants_after, &reminders_after)
            };
            present(&view)
        },
    )
    .await??;
    let view = view_of(&txn, &updated).await?;
    txn.commit().await?;
    Ok(view)
}

/// Deletes an event (kept for the audit trail); its pending reminder is cancelled.
pub async fn delete_event(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
) -> OpResult<()> {
    let txn = db.begin().await?;
    visible_event(&txn, caller, id).await?;
    let p = participants_of(&txn, &[id]).await?;
    let r = reminders::latest_of(&txn, TARGET_CALENDAR_EVENT, &[id]).await?;
    records::soft_delete::<calendar_event::Entity, _>(&txn, &caller.actor(), id, if_match, |e| {
        present(&CalendarEventView::new(e, &p, &r))
    })
    .await?;
    reminders::cancel_pending(&txn, TARGET_CALENDAR_EVENT, id).await?;
    txn.commit().await?;
    Ok(())
}
