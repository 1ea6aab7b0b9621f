//! `/calendar-events`: meetings and appointments with participants, place and an optional
//! reminder (ACT-2). A caller sees the events of his scope and the events he is invited to.

use crate::activities::{self, participants_of};
use crate::entity::{calendar_event, calendar_event_participant, reminder};
use crate::pagination::{CursorValue, SortKey};
use crate::records;
use crate::reminders::{self, TARGET_CALENDAR_EVENT};
use chrono::{DateTime, Utc};
use sdelka_domain::validation::{FieldViolation, Violations};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::Caller;
use super::dto::double_option;
use super::{Error, OpResult};

use super::activities::{OwnerTypeName, ReminderView};

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
