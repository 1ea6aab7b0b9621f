//! ACT-1 activities and time entries, ACT-2 calendar events, ACT-4 comments.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, Select, Set,
};
use uuid::Uuid;

use crate::entity::{
    activity, activity_time_entry, calendar_event, calendar_event_participant as participant,
    comment, user,
};
use crate::error::StoreResult;
use crate::visibility::Scope;

#[derive(Debug, Default)]
pub struct ActivityFilter {
    pub owner_type: Option<String>,
    pub owner_id: Option<Uuid>,
    pub responsible_id: Option<Uuid>,
    pub kind: Option<String>,
    pub completed: Option<bool>,
    pub deadline_from: Option<DateTime<Utc>>,
    pub deadline_to: Option<DateTime<Utc>>,
    pub updated_since: Option<DateTime<Utc>>,
}

pub fn activities_query(f: &ActivityFilter) -> Select<activity::Entity> {
    use activity::Column as C;
    let mut q = activity::Entity::find().filter(C::DeletedAt.is_null());
    if let Some(t) = &f.owner_type {
        q = q.filter(C::OwnerType.eq(t.clone()));
    }
    if let Some(id) = f.owner_id {
        q = q.filter(C::OwnerId.eq(id));
    }
    if let Some(id) = f.responsible_id {
        q = q.filter(C::ResponsibleId.eq(id));
    }
    if let Some(k) = &f.kind {
        q = q.filter(C::Kind.eq(k.clone()));
    }
    match f.completed {
        Some(true) => q = q.filter(C::CompletedAt.is_not_null()),
        Some(false) => q = q.filter(C::CompletedAt.is_null()),
        None => {}
    }
    if let Some(t) = f.deadline_from {
        q = q.filter(C::Deadline.gte(t));
    }
    if let Some(t) = f.deadline_to {
        q = q.filter(C::Deadline.lt(t));
    }
    if let Some(t) = f.updated_since {
        q = q.filter(C::UpdatedAt.gte(t));
    }
    q
}

pub async fn time_entries<C: ConnectionTrait>(
    db: &C,
    activity_id: Uuid,
) -> StoreResult<Vec<activity_time_entry::Model>> {
    use activity_time_entry::Column as C;
    Ok(activity_time_entry::Entity::find()
        .filter(C::ActivityId.eq(activity_id))
        .filter(C::DeletedAt.is_null())
        .order_by_asc(C::WorkDate)
        .order_by_asc(C::Id)
        .all(db)
        .await?)
}

/// The ids among `ids` that name no live user.
pub async fn missing_users<C: ConnectionTrait>(db: &C, ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found: std::collections::HashSet<Uuid> = user::Entity::find()
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .filter(user::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect();
    Ok(ids.iter().copied().filter(|i| !found.contains(i)).collect())
}

#[derive(Debug, Default)]
pub struct EventFilter {
    pub participant_id: Option<Uuid>,
    pub responsible_id: Option<Uuid>,
    /// Events that end after this instant …
    pub from: Option<DateTime<Utc>>,
    /// … and start before this one (the window overlaps the event).
    pub to: Option<DateTime<Utc>>,
    pub owner_type: Option<String>,
    pub owner_id: Option<Uuid>,
    pub updated_since: Option<DateTime<Utc>>,
}

fn events_of_participant(user_id: Uuid) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(participant::Column::EventId)
        .from(participant::Entity)
        .and_where(participant::Column::UserId.eq(user_id))
        .to_owned()
}

pub fn events_query(f: &EventFilter) -> Select<calendar_event::Entity> {
    use calendar_event::Column as C;
    let mut q = calendar_event::Entity::find().filter(C::DeletedAt.is_null());
    if let Some(u) = f.participant_id {
        q = q.filter(C::Id.in_subquery(events_of_participant(u)));
    }
    if let Some(u) = f.responsible_id {
        q = q.filter(C::ResponsibleId.eq(u));
    }
    if let Some(t) = f.from {
        q = q.filter(C::EndsAt.gt(t));
    }
    if let Some(t) = f.to {
        q = q.filter(C::StartsAt.lt(t));
    }
    if let Some(t) = &f.owner_type {
        q = q.filter(C::OwnerType.eq(t.clone()));
    }
    if let Some(id) = f.owner_id {
        q = q.filter(C::OwnerId.eq(id));
    }
    if let Some(t) = f.updated_since {
        q = q.filter(C::UpdatedAt.gte(t));
    }
    q
}

/// Events the caller may see: those whose responsible is in his scope, and those he is
/// invited to.
pub fn visible_events(
    select: Select<calendar_event::Entity>,
    scope: &Scope,
    caller: Uuid,
) -> Select<calendar_event::Entity> {
    match scope.condition(calendar_event::Column::ResponsibleId) {
        None => select,
        Some(c) => select.filter(
            Condition::any()
                .add(c)
                .add(calendar_event::Column::Id.in_subquery(events_of_participant(caller))),
        ),
    }
}

pub async fn participants_of<C: ConnectionTrait>(
    db: &C,
    event_ids: &[Uuid],
) -> StoreResult<Vec<participant::Model>> {
    if event_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(participant::Entity::find()
        .filter(participant::Column::EventId.is_in(event_ids.iter().copied()))
        .order_by_asc(participant::Column::UserId)
        .all(db)
        .await?)
}

/// Replaces the participants of an event.
pub async fn set_participants<C: ConnectionTrait>(
    db: &C,
    event_id: Uuid,
    users: &[Uuid],
) -> StoreResult<()> {
    participant::Entity::delete_many()
        .filter(participant::Column::EventId.eq(event_id))
        .exec(db)
        .await?;
    let mut seen = std::collections::HashSet::new();
    for u in users.iter().filter(|u| seen.insert(**u)) {
        participant::ActiveModel {
            event_id: Set(event_id),
            user_id: Set(*u),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

pub fn comments_query(entity_type: &str, entity_id: Uuid) -> Select<comment::Entity> {
    comment::Entity::find()
        .filter(comment::Column::EntityType.eq(entity_type))
        .filter(comment::Column::EntityId.eq(entity_id))
}
