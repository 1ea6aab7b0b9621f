//! RUN-2 transactional outbox. Messages are rows written in the business transaction; a
//! worker on any instance claims due rows by lease, delivers them, and records the outcome.
//! A crash between claim and outcome only delays delivery: the lease runs out and another
//! claim picks the row up again (at-least-once).

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Set,
    Statement,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entity::outbox_message::{self, Column, Entity, Model};
use crate::error::StoreResult;
use crate::journal::now;

/// An email as the outbox keeps it until delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingEmail {
    pub to: Vec<String>,
    pub subject: String,
    pub text_body: String,
}

pub const KIND_EMAIL: &str = "email";

/// Adds an email to the outbox; call inside the transaction of the change that causes it.
pub async fn enqueue_email<C: ConnectionTrait>(db: &C, email: &OutgoingEmail) -> StoreResult<Uuid> {
    let id = Uuid::now_v7();
    let at = now();
    outbox_message::ActiveModel {
        id: Set(id),
        kind: Set(KIND_EMAIL.into()),
        payload: Set(serde_json::to_string(email).unwrap_or_default()),
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

/// Claims up to `limit` due messages for `owner` until `now + lease`. On PostgreSQL
/// `FOR UPDATE SKIP LOCKED` lets instances claim disjoint rows without waiting for each other;
/// SQLite has a single writer, so the statement is atomic there as it is.
pub async fn claim_due<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    lease: Duration,
    limit: u64,
) -> StoreResult<Vec<Model>> {
    let at = now();
    let backend = db.get_database_backend();
    let lock = if backend == DbBackend::Postgres {
        "FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE outbox_messages SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM outbox_messages WHERE state = 'pending' \
           AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until < $3) \
           ORDER BY next_attempt_at LIMIT $4 {lock}) \
         RETURNING *"
    );
    let sql = numbered_params(backend, &sql);
    let stmt = Statement::from_sql_and_values(
        backend,
        sql,
        [
            owner.into(),
            (at + lease).into(),
            at.into(),
            (limit as i64).into(),
        ],
    );
    Ok(Entity::find().from_raw_sql(stmt).all(db).await?)
}

/// SQLite reads `$3` as a *named* parameter; `?3` is its positional spelling.
pub fn numbered_params(backend: DbBackend, sql: &str) -> String {
    if backend == DbBackend::Sqlite {
        sql.replace('$', "?")
    } else {
        sql.to_owned()
    }
}

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
