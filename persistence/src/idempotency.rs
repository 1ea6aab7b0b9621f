//! API-4: `Idempotency-Key` storage. The first request with a key reserves it (`in_flight`),
//! its response is stored when done, and every repeat either replays that response, waits
//! (409), or is refused because the body differs (422).

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::entity::idempotency_key::{self, Column, Entity};
use crate::error::{StoreError, StoreResult};
use crate::journal::now;

/// A reservation older than this whose request never finished (a crashed instance) may be
/// taken over by a retry.
const ABANDONED_AFTER: i64 = 300;

#[derive(Debug, Clone)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug)]
pub enum Reservation {
    /// The key is ours: run the request, then `complete` or `release`.
    Proceed,
    /// Same key, same request, already answered.
    Replay(StoredResponse),
    /// Same key, the first request is still running.
    InFlight,
    /// Same key, another request body or route.
    Mismatch,
}

pub async fn reserve<C: ConnectionTrait>(
    db: &C,
    scope: &str,
    key: &str,
    request_hash: &str,
    retention: Duration,
) -> StoreResult<Reservation> {
    let at = now();
    // Two attempts: the second after clearing an expired or abandoned reservation.
    for _ in 0..2 {
        let row = idempotency_key::ActiveModel {
            scope: Set(scope.to_owned()),
            key: Set(key.to_owned()),
            request_hash: Set(request_hash.to_owned()),
            state: Set("in_flight".into()),
            response_status: Set(None),
            response_headers: Set(None),
            response_body: Set(None),
            created_at: Set(at),
            expires_at: Set(at + retention),
        };
        match Entity::insert(row).exec(db).await.map_err(StoreError::from) {
            Ok(_) => return Ok(Reservation::Proceed),
            Err(StoreError::Duplicate(_)) => {}
            Err(e) => return Err(e),
        }
        let Some(existing) = Entity::find_by_id((scope.to_owned(), key.to_owned()))
            .one(db)
            .await?
        else {
            continue;
        };
        let abandoned = existing.state == "in_flight"
            && existing.created_at < at - Duration::seconds(ABANDONED_AFTER);
        if existing.expires_at < at || abandoned {
            delete(db, scope, key, Some(existing.created_at)).await?;
            continue;
        }
        if existing.request_hash != request_hash {
            return Ok(Reservation::Mismatch);
        }
        if existing.state == "in_flight" {
            return Ok(Reservation::InFlight);
        }
        let headers: Vec<(String, String)> = existing
            .response_headers
            .as_deref()
            .and_then(|h| serde_json::from_str(h).ok())
            .unwrap_or_default();
        return Ok(Reservation::Replay(StoredResponse {
            status: existing.response_status.unwrap_or(200) as u16,
            headers,
            body: existing.response_body.unwrap_or_default(),
        }));
    }
    Ok(Reservation::InFlight)
}

/// Stores the answer to replay for the key's lifetime.
pub async fn complete<C: ConnectionTrait>(
    db: &C,
    scope: &str,
    key: &str,
    response: &StoredResponse,
) -> StoreResult<()> {
    let headers = serde_json::to_string(&response.headers).unwrap_or_else(|_| "[]".into());
    idempotency_key::ActiveModel {
        scope: Set(scope.to_owned()),
        key: Set(key.to_owned()),
        state: Set("completed".into()),
        response_status: Set(Some(i32::from(response.status))),
        response_headers: Set(Some(headers)),
        response_body: Set(Some(response.body.clone())),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// Frees the key after a failure that changed nothing (a 5xx), so the client may retry.
pub async fn release<C: ConnectionTrait>(db: &C, scope: &str, key: &str) -> StoreResult<()> {
    delete(db, scope, key, None).await
}

async fn delete<C: ConnectionTrait>(
    db: &C,
    scope: &str,
    key: &str,
    created_at: Option<DateTime<Utc>>,
) -> StoreResult<()> {
    let mut q = Entity::delete_many()
        .filter(Column::Scope.eq(scope))
        .filter(Column::Key.eq(key));
    if let Some(c) = created_at {
        q = q.filter(Column::CreatedAt.eq(c));
    }
    q.exec(db).await?;
    Ok(())
}

/// Housekeeping: drops keys past their retention.
pub async fn purge_expired<C: ConnectionTrait>(db: &C) -> StoreResult<u64> {
    let res = Entity::delete_many()
        .filter(Column::ExpiresAt.lt(now()))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
