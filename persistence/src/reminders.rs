//! ACT-2 durable reminders. A reminder is a row; a worker on any instance claims due rows by
//! lease (as the outbox does) and, in one transaction, marks the reminder fired and puts the
//! notification (and the email, when the user wants one) in place. The compare-and-set on
//! `state = 'pending' AND lease_owner = me` makes a reminder fire at most once even when a
//! lease ran out and another instance claimed it; the lease makes it fire at least once.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

use crate::entity::reminder::{self, Column, Entity, Model};
use crate::entity::{activity, calendar_event};
use crate::error::StoreResult;
use crate::jobs::{self, LeaseQueue};
use crate::journal::now;
use crate::notifications::{self, EntityRef};

pub const TARGET_ACTIVITY: &str = "activity";
pub const TARGET_CALENDAR_EVENT: &str = "calendar_event";
pub const PENDING: &str = "pending";
pub const FIRED: &str = "fired";
pub const CANCELLED: &str = "cancelled";

/// Replaces the pending reminder of a target with one at `remind_at`.
pub async fn schedule<C: ConnectionTrait>(
    db: &C,
    target_type: &str,
    target_id: Uuid,
    remind_at: DateTime<Utc>,
    message: Option<String>,
) -> StoreResult<Model> {
    cancel_pending(db, target_type, target_id).await?;
    let model = reminder::ActiveModel {
        id: Set(Uuid::now_v7()),
        target_type: Set(target_type.to_owned()),
        target_id: Set(target_id),
        remind_at: Set(remind_at),
        message: Set(message),
        state: Set(PENDING.into()),
        attempts: Set(0),
        lease_owner: Set(None),
        lease_until: Set(None),
        created_at: Set(now()),
        fired_at: Set(None),
        notification_id: Set(None),
    };
    Ok(model.insert(db).await?)
}

/// Cancels the pending reminders of a target (completed, deleted, or rescheduled).
pub async fn cancel_pending<C: ConnectionTrait>(
    db: &C,
    target_type: &str,
    target_id: Uuid,
) -> StoreResult<u64> {
    let res = Entity::update_many()
        .col_expr(Column::State, CANCELLED.into())
        .filter(Column::TargetType.eq(target_type))
        .filter(Column::TargetId.eq(target_id))
        .filter(Column::State.eq(PENDING))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// The latest reminder (any state) of each of `target_ids`, for showing with the targets.
pub async fn latest_of<C: ConnectionTrait>(
    db: &C,
    target_type: &str,
    target_ids: &[Uuid],
) -> StoreResult<Vec<Model>> {
    if target_ids.is_empty() {
        return Ok(Vec::new());
    }
    let all = Entity::find()
        .filter(Column::TargetType.eq(target_type))
        .filter(Column::TargetId.is_in(target_ids.iter().copied()))
        .filter(Column::State.ne(CANCELLED))
        .order_by_desc(Column::Id)
        .all(db)
        .await?;
    let mut seen = std::collections::HashSet::new();
    Ok(all
        .into_iter()
        .filter(|r| seen.insert(r.target_id))
        .collect())
}

/// Claims up to `limit` due reminders for `owner` until `now + lease` (see [`crate::jobs`]).
pub async fn claim_due<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    lease: Duration,
    limit: u64,
) -> StoreResult<Vec<Model>> {
    const QUEUE: LeaseQueue = LeaseQueue {
        table: "reminders",
        on_claim: ", attempts = attempts + 1",
        due: "state = 'pending' AND remind_at <= $3",
        order_by: "remind_at",
    };
    jobs::claim::<Entity, C>(db, &QUEUE, owner, lease, limit).await
}

/// What happened to a claimed reminder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FireOutcome {
    /// The notification was created for this user.
    Fired {
        notification_id: Uuid,
        user_id: Uuid,
    },
    /// The target is gone; the reminder is cancelled.
    TargetGone,
    /// Another instance holds the reminder now (our lease ran out) or it is no longer
    /// pending: nothing was written and the caller must roll back.
    LeaseLost,
}

struct Target {
    responsible_id: Uuid,
    title: String,
    when: Option<DateTime<Utc>>,
}

async fn target_of<C: ConnectionTrait>(db: &C, r: &Model) -> StoreResult<Option<Target>> {
    Ok(match r.target_type.as_str() {
        TARGET_ACTIVITY => activity::Entity::find_by_id(r.target_id)
            .filter(activity::Column::DeletedAt.is_null())
            .one(db)
            .await?
            .map(|a| Target {
                responsible_id: a.responsible_id,
                title: a.subject,
                when: a.deadline,
            }),
        TARGET_CALENDAR_EVENT => calendar_event::Entity::find_by_id(r.target_id)
            .filter(calendar_event::Column::DeletedAt.is_null())
            .one(db)
            .await?
            .map(|e| Target {
                responsible_id: e.responsible_id,
                title: e.title,
                when: Some(e.starts_at),
            }),
        _ => None,
    })
}

/// Gives a claimed reminder back after a failed attempt, so that the next pass of any
/// instance retries it at once instead of after the lease runs out.
pub async fn release<C: ConnectionTrait>(db: &C, id: Uuid, owner: &str) -> StoreResult<()> {
    Entity::update_many()
        .col_expr(Column::LeaseOwner, Option::<String>::None.into())
        .col_expr(Column::LeaseUntil, Option::<DateTime<Utc>>::None.into())
        .filter(Column::Id.eq(id))
        .filter(Column::State.eq(PENDING))
        .filter(Column::LeaseOwner.eq(owner))
        .exec(db)
        .await?;
    Ok(())
}

/// Fires a reminder claimed by `owner`. Call inside one transaction and commit only when the
/// outcome is not [`FireOutcome::LeaseLost`].
pub async fn fire<C: ConnectionTrait>(db: &C, r: &Model, owner: &str) -> StoreResult<FireOutcome> {
    let Some(target) = target_of(db, r).await? else {
        let res = Entity::update_many()
            .col_expr(Column::State, CANCELLED.into())
            .col_expr(Column::LeaseOwner, Option::<String>::None.into())
            .col_expr(Column::LeaseUntil, Option::<DateTime<Utc>>::None.into())
            .filter(Column::Id.eq(r.id))
            .filter(Column::State.eq(PENDING))
            .filter(Column::LeaseOwner.eq(owner))
            .exec(db)
            .await?;
        return Ok(if res.rows_affected == 1 {
            FireOutcome::TargetGone
        } else {
            FireOutcome::LeaseLost
        });
    };
    let res = Entity::update_many()
        .col_expr(Column::State, FIRED.into())
        .col_expr(Column::FiredAt, Some(now()).into())
        .col_expr(Column::LeaseOwner, Option::<String>::None.into())
        .col_expr(Column::LeaseUntil, Option::<DateTime<Utc>>::None.into())
        .filter(Column::Id.eq(r.id))
        .filter(Column::State.eq(PENDING))
        .filter(Column::LeaseOwner.eq(owner))
        .exec(db)
        .await?;
    if res.rows_affected != 1 {
        return Ok(FireOutcome::LeaseLost);
    }
    let title = format!("Reminder: {}", target.title);
    let body = match (&r.message, target.when) {
        (Some(m), _) => m.clone(),
        (None, Some(t)) => format!("{} is due at {}", target.title, t.to_rfc3339()),
        (None, None) => target.title.clone(),
    };
    let n = notifications::notify_and_email(
        db,
        target.responsible_id,
        "reminder",
        &title,
        &body,
        Some(EntityRef {
            entity_type: &r.target_type,
            entity_id: r.target_id,
        }),
    )
    .await?;
    Entity::update_many()
        .col_expr(Column::NotificationId, Some(n.id).into())
        .filter(Column::Id.eq(r.id))
        .exec(db)
        .await?;
    Ok(FireOutcome::Fired {
        notification_id: n.id,
        user_id: target.responsible_id,
    })
}

pub async fn get<C: ConnectionTrait>(db: &C, id: Uuid) -> StoreResult<Option<Model>> {
    Ok(Entity::find_by_id(id).one(db).await?)
}
