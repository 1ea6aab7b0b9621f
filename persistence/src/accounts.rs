//! Whether an account may act now, and with which roles: read on every authenticated request
//! so that deactivation and role changes take effect on the next request, not when the
//! access token expires.
//!
//! The answer is cached per user for [`CACHE_FOR`], and every write of a user record through
//! [`crate::records`] drops the user's entry in this process and keeps it out of the cache
//! for [`CACHE_FOR`] (so a read racing the writing transaction's commit cannot put the old
//! state back). Other instances notice within [`CACHE_FOR`].

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use sdelka_domain::role::RoleSet;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::user;
use crate::error::StoreResult;

/// How long an account's state is believed without reading it again.
pub const CACHE_FOR: Duration = Duration::from_secs(2);

/// More entries than this and the expired ones are swept.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountState {
    pub active: bool,
    pub roles: RoleSet,
}

enum Entry {
    Known(Instant, Option<AccountState>),
    /// Written recently: read from the database until then.
    Changed(Instant),
}

static CACHE: LazyLock<DashMap<Uuid, Entry>> = LazyLock::new(DashMap::new);

/// The account's current state; `None` when it does not exist (or is deleted).
pub async fn current<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
) -> StoreResult<Option<AccountState>> {
    let now = Instant::now();
    let cacheable = match CACHE.get(&user_id).as_deref() {
        Some(Entry::Known(at, state)) if now.duration_since(*at) < CACHE_FOR => {
            return Ok(state.clone());
        }
        Some(Entry::Changed(until)) => now >= *until,
        _ => true,
    };
    let state = user::Entity::find_by_id(user_id)
        .filter(user::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .map(|u| AccountState {
            active: u.active,
            roles: RoleSet::from_storage(&u.roles),
        });
    if cacheable {
        if CACHE.len() > SWEEP_ABOVE {
            CACHE.retain(|_, e| match e {
                Entry::Known(at, _) => now.duration_since(*at) < CACHE_FOR,
                Entry::Changed(until) => now < *until,
            });
        }
        CACHE.insert(user_id, Entry::Known(now, state.clone()));
    }
    Ok(state)
}

/// A user record is being written: forget what is cached about it.
pub fn changed(user_id: Uuid) {
    CACHE.insert(user_id, Entry::Changed(Instant::now() + CACHE_FOR));
}
