//! RUN-2 transactional outbox. Messages are rows written in the business transaction; a
//! worker on any instance claims due rows by lease, delivers them, and records the outcome.
//! A crash between claim and outcome only delays delivery: the lease runs out and another
//! claim picks the row up again (at-least-once).

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entity::outbox_message::{self, Column, Entity, Model};
use crate::error::StoreResult;
use crate::jobs::{self, LeaseQueue};
use crate::journal::now;

/// An email as the outbox keeps it until delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingEmail {
    pub to: Vec<String>,
    pub subject: String,
    pub text_body: String,
}

pub const KIND_EMAIL: &str = "email";

/// Everything the outbox carries, by its stored `kind`. A new effect (a webhook delivery, a
/// process timer) is a new variant, delivered by the same job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxMessage {
    Email(OutgoingEmail),
}

impl OutboxMessage {
    pub fn kind(&self) -> &'static str {
        match self {
            OutboxMessage::Email(_) => KIND_EMAIL,
        }
    }

    fn payload(&self) -> String {
        match self {
            OutboxMessage::Email(e) => serde_json::to_string(e).unwrap_or_default(),
        }
    }

    /// Reads a stored message back; an unknown kind or an unreadable payload is refused with
    /// the reason (the message is then given up, not retried for ever).
    pub fn decode(kind: &str, payload: &str) -> Result<Self, String> {
        match kind {
            KIND_EMAIL => serde_json::from_str(payload)
                .map(OutboxMessage::Email)
                .map_err(|e| format!("unreadable payload: {e}")),
            other => Err(format!("unknown message kind `{other}`")),
        }
    }
}

/// Adds an email to the outbox; call inside the transaction of the change that causes it.
pub async fn enqueue_email<C: ConnectionTrait>(db: &C, email: &OutgoingEmail) -> StoreResult<Uuid> {
    enqueue(db, &OutboxMessage::Email(email.clone())).await
}

/// Adds a message to the outbox; call inside the transaction of the change that causes it.
pub async fn enqueue<C: ConnectionTrait>(db: &C, message: &OutboxMessage) -> StoreResult<Uuid> {
    let id = Uuid::now_v7();
    let at = now();
    outbox_message::ActiveModel {
        id: Set(id),
        kind: Set(message.kind().into()),
        payload: Set(message.payload()),
        state: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(at),
        lease_owner: Set(None),
        lease_until: Set(None),
        last_error: Set(None),
        created_at: Set(at),
        sent_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(id)
}

/// Claims up to `limit` due messages for `owner` until `now + lease` (see [`crate::jobs`]).
pub async fn claim_due<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    lease: Duration,
    limit: u64,
) -> StoreResult<Vec<Model>> {
    const QUEUE: LeaseQueue = LeaseQueue {
        table: "outbox_messages",
        on_claim: ", attempts = attempts + 1",
        due: "state = 'pending' AND next_attempt_at <= $3",
        order_by: "next_attempt_at",
    };
    jobs::claim::<Entity, C>(db, &QUEUE, owner, lease, limit).await
}

pub use crate::jobs::numbered_params;

pub async fn mark_sent<C: ConnectionTrait>(db: &C, id: Uuid, owner: &str) -> StoreResult<bool> {
    let res = Entity::update_many()
        .set(outbox_message::ActiveModel {
            state: Set("sent".into()),
            sent_at: Set(Some(now())),
            lease_owner: Set(None),
            lease_until: Set(None),
            last_error: Set(None),
            ..Default::default()
        })
        .filter(Column::Id.eq(id))
        .filter(Column::LeaseOwner.eq(owner))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Records a failed attempt; the message is retried at `retry_at`, or given up (`dead`) when
/// `retry_at` is `None`.
pub async fn mark_failed<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    owner: &str,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> StoreResult<()> {
    let mut am = outbox_message::ActiveModel {
        lease_owner: Set(None),
        lease_until: Set(None),
        last_error: Set(Some(error.chars().take(2000).collect())),
        ..Default::default()
    };
    match retry_at {
        Some(t) => am.next_attempt_at = Set(t),
        None => am.state = Set("dead".into()),
    }
    Entity::update_many()
        .set(am)
        .filter(Column::Id.eq(id))
        .filter(Column::LeaseOwner.eq(owner))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn get<C: ConnectionTrait>(db: &C, id: Uuid) -> StoreResult<Option<Model>> {
    Ok(Entity::find_by_id(id).one(db).await?)
}
