//! API-6 credentials at rest: refresh tokens (rotating, in families) and personal API tokens.
//! Only SHA-256 hashes of the secrets are stored.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::entity::{api_token, refresh_token};
use crate::error::{StoreError, StoreResult};
use crate::journal::now;

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Outcome of presenting a refresh token.
pub enum RefreshUse {
    /// Valid and now spent; issue the next token in `family_id`.
    Rotated { user_id: Uuid, family_id: Uuid },
    /// Already spent: someone replays a stolen token. The family has been revoked.
    Reused,
    /// Unknown, expired or revoked.
    Invalid,
}

pub async fn insert_refresh<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    family_id: Uuid,
    secret: &str,
    expires_at: DateTime<Utc>,
) -> StoreResult<()> {
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        family_id: Set(family_id),
        user_id: Set(user_id),
        token_hash: Set(hash_secret(secret)),
        created_at: Set(now()),
        expires_at: Set(expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Spends a refresh token exactly once: the `used_at IS NULL` guard makes two concurrent
/// refreshes with the same token produce one rotation and one reuse.
pub async fn use_refresh<C: ConnectionTrait>(db: &C, secret: &str) -> StoreResult<RefreshUse> {
    let at = now();
    let Some(row) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash_secret(secret)))
        .one(db)
        .await?
    else {
        return Ok(RefreshUse::Invalid);
    };
    if row.revoked_at.is_some() {
        return Ok(RefreshUse::Invalid);
    }
    if row.used_at.is_some() {
        revoke_family(db, row.family_id).await?;
        return Ok(RefreshUse::Reused);
    }
    if row.expires_at <= at {
        return Ok(RefreshUse::Invalid);
    }
    let res = refresh_token::Entity::update_many()
        .set(refresh_token::ActiveModel {
            used_at: Set(Some(at)),
            ..Default::default()
        })
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        revoke_family(db, row.family_id).await?;
        return Ok(RefreshUse::Reused);
    }
    Ok(RefreshUse::Rotated {
        user_id: row.user_id,
        family_id: row.family_id,
    })
}

pub async fn revoke_family<C: ConnectionTrait>(db: &C, family_id: Uuid) -> StoreResult<()> {
    refresh_token::Entity::update_many()
        .set(refresh_token::ActiveModel {
            revoked_at: Set(Some(now())),
            ..Default::default()
        })
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Logout: revokes the family the presented token belongs to, whatever its state.
pub async fn revoke_by_secret<C: ConnectionTrait>(db: &C, secret: &str) -> StoreResult<bool> {
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash_secret(secret)))
        .one(db)
        .await?;
    match row {
        Some(r) => {
            revoke_family(db, r.family_id).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

pub struct NewApiToken<'a> {
    pub user_id: Uuid,
    pub name: &'a str,
    pub secret: &'a str,
    pub roles: String,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert_api_token<C: ConnectionTrait>(
    db: &C,
    t: NewApiToken<'_>,
) -> StoreResult<api_token::Model> {
    let model = api_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(t.user_id),
        name: Set(t.name.to_owned()),
        token_prefix: Set(t.secret.chars().take(12).collect()),
        token_hash: Set(hash_secret(t.secret)),
        roles: Set(t.roles),
        created_at: Set(now()),
        expires_at: Set(t.expires_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(model)
}

/// The live token with this secret, if any.
pub async fn find_api_token<C: ConnectionTrait>(
    db: &C,
    secret: &str,
) -> StoreResult<Option<api_token::Model>> {
    let row = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(hash_secret(secret)))
        .one(db)
        .await?;
    Ok(row.filter(|t| t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > now())))
}

pub async fn get_api_token<C: ConnectionTrait>(db: &C, id: Uuid) -> StoreResult<api_token::Model> {
    api_token::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)
}

pub async fn revoke_api_token<C: ConnectionTrait>(db: &C, id: Uuid) -> StoreResult<()> {
    api_token::Entity::update_many()
        .set(api_token::ActiveModel {
            revoked_at: Set(Some(now())),
            ..Default::default()
        })
        .filter(api_token::Column::Id.eq(id))
        .filter(api_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}
