//! The one way background work is claimed: a lease in the row itself. A claim is one
//! `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING *`, so any number of
//! instances on one PostgreSQL take disjoint rows without waiting for each other, and a row
//! whose holder died is taken over once its lease has run out. SQLite has a single writer, so
//! the statement is atomic there as it is. No advisory locks, no reliance on sequence order.

use chrono::Duration;
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, Statement};

use crate::error::StoreResult;
use crate::journal::now;

/// Which rows of a table are due, and in which order they are taken.
pub struct LeaseQueue {
    pub table: &'static str,
    /// Extra assignments made by the claim, e.g. `attempts = attempts + 1`.
    pub on_claim: &'static str,
    /// The rows that may be claimed, with `$3` standing for now.
    pub due: &'static str,
    pub order_by: &'static str,
}

/// Claims up to `limit` due rows of `queue` for `owner` until now + `lease`, answering them.
pub async fn claim<E, C>(
    db: &C,
    queue: &LeaseQueue,
    owner: &str,
    lease: Duration,
    limit: u64,
) -> StoreResult<Vec<E::Model>>
where
    E: EntityTrait,
    E::Model: FromQueryResult,
    C: ConnectionTrait,
{
    let at = now();
    let backend = db.get_database_backend();
    let lock = if backend == DbBackend::Postgres {
        "FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let LeaseQueue {
        table,
        on_claim,
        due,
        order_by,
    } = queue;
    let sql = format!(
        "UPDATE {table} SET lease_owner = $1, lease_until = $2{on_claim} \
         WHERE id IN (SELECT id FROM {table} WHERE ({due}) \
           AND (lease_until IS NULL OR lease_until < $3) \
           ORDER BY {order_by} LIMIT $4 {lock}) \
         RETURNING *"
    );
    let stmt = Statement::from_sql_and_values(
        backend,
        numbered_params(backend, &sql),
        [
            owner.into(),
            (at + lease).into(),
            at.into(),
            (limit as i64).into(),
        ],
    );
    Ok(E::find().from_raw_sql(stmt).all(db).await?)
}

/// SQLite reads `$3` as a *named* parameter; `?3` is its positional spelling.
pub fn numbered_params(backend: DbBackend, sql: &str) -> String {
    if backend == DbBackend::Sqlite {
        sql.replace('$', "?")
    } else {
        sql.to_owned()
    }
}
