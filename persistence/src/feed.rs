//! INT-2: numbering committed domain events into the change feed, and retention.
//!
//! Events are written unnumbered in the transaction of their change. [`sequence`] numbers the
//! committed ones: under the lock of the single `event_feed_head` row (PostgreSQL: `SELECT …
//! FOR UPDATE`; SQLite: the write transaction itself, `BEGIN IMMEDIATE`) it reads the last
//! position handed out, then — in a statement of its own, which sees every transaction
//! committed before the lock was granted — takes the unnumbered events in insertion order, gives
//! them the next positions and moves the head, all in one commit. A transaction still running
//! is invisible to it; its events get later positions once it commits. So positions become
//! visible only in increasing order, and a reader that has passed position N never later finds
//! an event before N. Any number of instances may run it at once: they queue on the head row.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use crate::db::Store;
use crate::entity::{domain_event, event_feed_head};
use crate::error::{StoreError, StoreResult};
use crate::journal;

/// How many events one sequencer pass numbers at most.
pub const BATCH: u64 = 1000;

/// The head row's id.
const HEAD: i32 = 1;

/// The feed's current state: the last position handed out, and the last one removed by
/// retention (a cursor before it has missed events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub position: i64,
    pub pruned_through: i64,
}

/// Reads the head without locking it.
pub async fn head<C: ConnectionTrait>(db: &C) -> StoreResult<Head> {
    let row = event_feed_head::Entity::find_by_id(HEAD)
        .one(db)
        .await?
        .ok_or_else(|| {
            StoreError::Database(DbErr::Custom("the feed head row is missing".into()))
        })?;
    Ok(Head {
        position: row.position,
        pruned_through: row.pruned_through,
    })
}

/// Whether committed events wait for a position (one index probe).
pub async fn has_unnumbered<C: ConnectionTrait>(db: &C) -> StoreResult<bool> {
    Ok(domain_event::Entity::find()
        .select_only()
        .column(domain_event::Column::Seq)
        .filter(domain_event::Column::Position.is_null())
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?
        .is_some())
}

/// Numbers up to [`BATCH`] committed events; answers how many it numbered.
pub async fn sequence(store: &Store) -> StoreResult<usize> {
    if !has_unnumbered(&store.conn).await? {
        return Ok(0);
    }
    let txn = store.begin().await?;
    let backend = txn.get_database_backend();
    // 1. The lock. On PostgreSQL a second sequencer waits here until the first commits.
    let lock = match backend {
        DbBackend::Postgres => "SELECT position FROM event_feed_head WHERE id = 1 FOR UPDATE",
        _ => "SELECT position FROM event_feed_head WHERE id = 1",
    };
    let row = txn
        .query_one_raw(Statement::from_string(backend, lock))
        .await?
        .ok_or_else(|| {
            StoreError::Database(DbErr::Custom("the feed head row is missing".into()))
        })?;
    let head: i64 = row.try_get("", "position")?;
    // 2. A new statement, hence (READ COMMITTED) a new snapshot: every event committed before
    //    the lock was granted, including those another sequencer numbered meanwhile.
    let waiting: Vec<i64> = domain_event::Entity::find()
        .select_only()
        .column(domain_event::Column::Seq)
        .filter(domain_event::Column::Position.is_null())
        .order_by_asc(domain_event::Column::Seq)
        .limit(BATCH)
        .into_tuple::<i64>()
        .all(&txn)
        .await?;
    if waiting.is_empty() {
        txn.rollback().await?;
        return Ok(0);
    }
    // 3. One statement numbers them all; the values are our own integers.
    let values = waiting
        .iter()
        .enumerate()
        .map(|(i, seq)| format!("({seq}, {})", head + 1 + i as i64))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE domain_events SET position = v.column2 FROM (VALUES {values}) AS v \
         WHERE domain_events.seq = v.column1 AND domain_events.position IS NULL"
    );
    let done = txn
        .execute_raw(Statement::from_string(backend, sql))
        .await?
        .rows_affected();
    if done != waiting.len() as u64 {
        // Someone numbered them behind the lock: never commit a gap.
        txn.rollback().await?;
        return Err(StoreError::Database(DbErr::Custom(format!(
            "the feed sequencer numbered {done} of {} events",
            waiting.len()
        ))));
    }
    let new_head = head + waiting.len() as i64;
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        crate::jobs::numbered_params(
            backend,
            "UPDATE event_feed_head SET position = $1, updated_at = $2 WHERE id = 1",
        ),
        [new_head.into(), journal::now().into()],
    ))
    .await?;
    txn.commit().await?;
    Ok(waiting.len())
}

/// Removes numbered events that occurred before `before`, and records how far: a cursor before
/// that position is then expired. Answers how many it removed.
pub async fn prune(store: &Store, before: DateTime<Utc>) -> StoreResult<u64> {
    let txn = store.begin().await?;
    let backend = txn.get_database_backend();
    let last: Option<i64> = domain_event::Entity::find()
        .select_only()
        .column_as(domain_event::Column::Position.max(), "last")
        .filter(domain_event::Column::OccurredAt.lt(before))
        .filter(domain_event::Column::Position.is_not_null())
        .into_tuple::<Option<i64>>()
        .one(&txn)
        .await?
        .flatten();
    let Some(last) = last else {
        txn.rollback().await?;
        return Ok(0);
    };
    let removed = domain_event::Entity::delete_many()
        .filter(domain_event::Column::Position.lte(last))
        .exec(&txn)
        .await?
        .rows_affected;
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        crate::jobs::numbered_params(
            backend,
            "UPDATE event_feed_head SET pruned_through = $1 WHERE id = 1 AND pruned_through < $1",
        ),
        [last.into()],
    ))
    .await?;
    txn.commit().await?;
    Ok(removed)
}
