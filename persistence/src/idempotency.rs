//! API-4: `Idempotency-Key` storage, tied to the effect it stands for.
//!
//! A keyed request runs as one *keyed unit of work*: the first statement or transaction it
//! runs through a [`Db::Store`](crate::ops::Db) opens the unit's transaction; every later
//! statement goes through it, and an operation's own transaction
//! ([`Db::begin`](crate::ops::Db::begin)) is a savepoint inside it, whose `commit` only
//! releases the savepoint. When the answer is ready, [`finish`] writes the key's row — state `completed`,
//! with the answer to replay — into that same transaction and commits it. So the record and
//! the key's answer are durable together or not at all: after a crash a key is either
//! completed (a retry replays the answer) or unknown (a retry runs the request, once). Nothing
//! is ever left "in flight" in the database.
//!
//! Two requests with one key racing (two instances, or a retry while the first still runs
//! elsewhere) both run, but only one can insert the key's row: the other's insert fails on the
//! primary key, its whole unit rolls back, and it answers the winner's stored answer.

use std::future::Future;
use std::sync::Arc;

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, Set, TransactionTrait,
};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use crate::db::Store;
use crate::entity::idempotency_key::{self, Column, Entity};
use crate::error::{StoreError, StoreResult};
use crate::journal::now;

/// The state of a key whose answer is stored. (Rows in the state `in_flight`, written by
/// versions that reserved a key before running the request, are treated as unknown.)
const COMPLETED: &str = "completed";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What the store knows about a key.
#[derive(Debug)]
pub enum Lookup {
    /// Never completed (or expired): run the request.
    Unknown,
    /// Same key, same request, already answered.
    Replay(StoredResponse),
    /// Same key, another request body or route.
    Mismatch,
}

/// How [`finish`] ended.
#[derive(Debug)]
pub enum Finished {
    /// The unit's writes and the key's answer are committed.
    Committed,
    /// Another request with this key committed first; this one's writes are rolled back and
    /// the key stands for the other's answer (or for another request: `Mismatch`).
    Lost(Lookup),
}

tokio::task_local! {
    static UNIT: Arc<KeyedUnit>;
}

/// The transaction of one keyed request, opened by its first write.
///
/// A unit made while another runs (a keyed operation of an atomic or keyed batch) is nested:
/// its transaction is a savepoint of the enclosing unit's, so committing it only releases the
/// savepoint and the enclosing unit still decides whether anything is kept.
#[derive(Default)]
pub struct KeyedUnit {
    txn: Mutex<Option<DatabaseTransaction>>,
    parent: Option<Arc<KeyedUnit>>,
}

impl KeyedUnit {
    /// A unit of work; nested in the running request's unit, if there is one.
    pub fn new() -> Arc<KeyedUnit> {
        Arc::new(KeyedUnit {
            txn: Mutex::new(None),
            parent: KeyedUnit::current(),
        })
    }

    /// The unit's own transaction: a savepoint of the enclosing unit's, or one on the store.
    async fn root(&self, store: &Store) -> Result<DatabaseTransaction, DbErr> {
        match &self.parent {
            Some(parent) => Box::pin(parent.begin(store)).await,
            None => store.begin().await,
        }
    }

    /// Commits everything run in the unit (for a nested unit: into the enclosing one).
    pub async fn commit(&self) -> StoreResult<()> {
        if let Some(t) = self.txn.lock().await.take() {
            t.commit().await?;
        }
        Ok(())
    }

    /// Runs `f` (the request) with this unit as the request's unit of work: every
    /// `Db::Store` operation inside writes through it.
    pub async fn run<F: Future>(self: &Arc<Self>, f: F) -> F::Output {
        UNIT.scope(self.clone(), f).await
    }

    /// The unit of work of the running request, if it is a keyed one.
    pub(crate) fn current() -> Option<Arc<KeyedUnit>> {
        UNIT.try_with(Arc::clone).ok()
    }

    /// An operation's transaction: a savepoint in the unit's transaction, which is opened on
    /// the store first if this is the request's first.
    pub(crate) async fn begin(&self, store: &Store) -> Result<DatabaseTransaction, DbErr> {
        let mut txn = self.txn.lock().await;
        if let Some(t) = txn.as_ref() {
            return t.begin().await;
        }
        let outer = self.root(store).await?;
        let inner = outer.begin().await;
        *txn = Some(outer);
        inner
    }

    /// The unit's transaction, opened on the store if the request had none yet; statements
    /// of the request run through it.
    pub(crate) async fn open(
        &self,
        store: &Store,
    ) -> Result<MappedMutexGuard<'_, DatabaseTransaction>, DbErr> {
        let mut txn = self.txn.lock().await;
        if txn.is_none() {
            *txn = Some(self.root(store).await?);
        }
        MutexGuard::try_map(txn, Option::as_mut)
            .map_err(|_| DbErr::Custom("the keyed request's transaction is gone".into()))
    }

    /// Whether the request wrote (opened the unit's transaction).
    pub async fn is_open(&self) -> bool {
        self.txn.lock().await.is_some()
    }

    /// Rolls back everything the request wrote (it failed: the key stays unknown).
    pub async fn abandon(&self) {
        if let Some(t) = self.txn.lock().await.take() {
            let _ = t.rollback().await;
        }
    }
}

/// What is stored under `scope` + `key`. Expired answers and keys left `in_flight` by earlier
/// versions are removed and reported unknown.
pub async fn lookup<C: ConnectionTrait>(
    db: &C,
    scope: &str,
    key: &str,
    request_hash: &str,
) -> StoreResult<Lookup> {
    let Some(existing) = Entity::find_by_id((scope.to_owned(), key.to_owned()))
        .one(db)
        .await?
    else {
        return Ok(Lookup::Unknown);
    };
    if existing.expires_at < now() || existing.state != COMPLETED {
        Entity::delete_many()
            .filter(Column::Scope.eq(scope))
            .filter(Column::Key.eq(key))
            .filter(Column::CreatedAt.eq(existing.created_at))
            .exec(db)
            .await?;
        return Ok(Lookup::Unknown);
    }
    if existing.request_hash != request_hash {
        return Ok(Lookup::Mismatch);
    }
    let headers: Vec<(String, String)> = existing
        .response_headers
        .as_deref()
        .and_then(|h| serde_json::from_str(h).ok())
        .unwrap_or_default();
    Ok(Lookup::Replay(StoredResponse {
        status: u16::try_from(existing.response_status.unwrap_or(200)).unwrap_or(200),
        headers,
        body: existing.response_body.unwrap_or_default(),
    }))
}

/// Stores the key's answer in the unit's transaction (or, when the request wrote nothing, in
/// a transaction of its own) and commits it.
pub async fn finish(
    store: &Store,
    unit: &KeyedUnit,
    scope: &str,
    key: &str,
    request_hash: &str,
    retention: Duration,
    response: &StoredResponse,
) -> StoreResult<Finished> {
    let txn = match unit.txn.lock().await.take() {
        Some(t) => t,
        None => unit.root(store).await?,
    };
    let at: chrono::DateTime<Utc> = now();
    let headers = serde_json::to_string(&response.headers).unwrap_or_else(|_| "[]".into());
    let row = idempotency_key::ActiveModel {
        scope: Set(scope.to_owned()),
        key: Set(key.to_owned()),
        request_hash: Set(request_hash.to_owned()),
        state: Set(COMPLETED.into()),
        response_status: Set(Some(i32::from(response.status))),
        response_headers: Set(Some(headers)),
        response_body: Set(Some(response.body.clone())),
        created_at: Set(at),
        expires_at: Set(at + retention),
    };
    match row.insert(&txn).await.map_err(StoreError::from) {
        Ok(_) => {}
        Err(StoreError::Duplicate(_)) => {
            let _ = txn.rollback().await;
            return Ok(Finished::Lost(
                lookup(&store.conn, scope, key, request_hash).await?,
            ));
        }
        Err(e) => {
            let _ = txn.rollback().await;
            return Err(e);
        }
    }
    txn.commit().await?;
    Ok(Finished::Committed)
}

/// Housekeeping: drops keys past their retention.
pub async fn purge_expired<C: ConnectionTrait>(db: &C) -> StoreResult<u64> {
    let res = Entity::delete_many()
        .filter(Column::ExpiresAt.lt(now()))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
