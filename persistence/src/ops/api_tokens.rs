//! `/api-tokens`: personal tokens for scripts and integrations (API-6).

use crate::credentials::{self, NewApiToken};
use crate::entity::api_token;
use chrono::{DateTime, Utc};
use sdelka_domain::role::{Role, RoleSet};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use super::dto::RoleName;
use super::{Caller, Db, Error, ListPage, ListParams, OpResult, present};
use crate::journal::{self, Change};
use crate::pagination::{CursorValue, SortKey, fetch_page};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiTokenView {
    pub id: Uuid,
    pub user_id: Uuid,
    #[schema(example = "1C sync")]
    pub name: String,
    /// First characters of the token, to recognise it.
    #[schema(example = "sdk_Xq3v9aB1")]
    pub token_prefix: String,
    /// Roles the token acts with (never more than its owner holds at the time of a request).
    pub roles: Vec<RoleName>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&api_token::Model> for ApiTokenView {
    fn from(t: &api_token::Model) -> Self {
        ApiTokenView {
            id: t.id,
            user_id: t.user_id,
            name: t.name.clone(),
            token_prefix: t.token_prefix.clone(),
            roles: RoleSet::from_storage(&t.roles)
                .iter()
                .map(RoleName::from)
                .collect(),
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// A new token: the secret is shown here once and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiToken {
    #[serde(flatten)]
    pub token: ApiTokenView,
    /// The secret to send as `Authorization: Bearer …`. Store it now: it is not kept.
    pub secret: String,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiToken {
    #[validate(length(min = 1, max = 200, message = "name must be 1 to 200 characters"))]
    #[schema(example = "1C sync")]
    pub name: String,
    /// Roles to limit the token to; default: all of the caller's roles.
    pub roles: Option<Vec<RoleName>>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Creates a personal API token for the caller with the `secret` the caller's credential
/// machinery made; it may carry only roles the caller holds.
pub async fn create_api_token(
    db: Db<'_>,
    caller: &Caller,
    req: CreateApiToken,
    secret: String,
) -> OpResult<CreatedApiToken> {
    let roles = match &req.roles {
        Some(r) => r.iter().map(|r| Role::from(*r)).collect::<RoleSet>(),
        None => caller.roles.clone(),
    };
    if !roles.is_subset(&caller.roles) {
        return Err(Error::field(
            "roles",
            "not_held",
            "a token cannot have roles its owner does not hold",
        ));
    }
    if let Some(e) = req.expires_at
        && e <= Utc::now()
    {
        return Err(Error::field(
            "expires_at",
            "in_past",
            "expires_at must be in the future",
        ));
    }
    let txn = db.begin().await?;
    let model = credentials::insert_api_token(
        &txn,
        NewApiToken {
            user_id: caller.user_id,
            name: req.name.trim(),
            secret: &secret,
            roles: roles.to_storage(),
            expires_at: req.expires_at,
        },
    )
    .await?;
    let token = ApiTokenView::from(&model);
    let after = present(&token);
    journal::record(
        &txn,
        &caller.actor(),
        Change {
            entity_type: "api_token",
            entity_id: model.id,
            action: "created",
            before: None,
            after: Some(&after),
            comment: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(CreatedApiToken { token, secret })
}

/// The sorts of `/api-tokens`.
pub fn sorts() -> [SortKey<api_token::Entity>; 2] {
    [
        SortKey {
            name: "created_at",
            column: api_token::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "name",
            column: api_token::Column::Name,
            key: |m| CursorValue::Text(m.name.clone()),
        },
    ]
}

/// A page of the caller's API tokens; an admin sees everyone's. A token has no edit time:
/// `updated_since` keeps those created or revoked since.
pub async fn list_api_tokens(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
) -> OpResult<ListPage<ApiTokenView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let mut query = api_token::Entity::find();
    if !caller.is_admin() {
        query = query.filter(api_token::Column::UserId.eq(caller.user_id));
    }
    if let Some(since) = page.updated_since {
        query = query.filter(
            Condition::any()
                .add(api_token::Column::CreatedAt.gte(since))
                .add(api_token::Column::RevokedAt.gte(since)),
        );
    }
    let page = fetch_page(&db, query, req, api_token::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |m| ApiTokenView::from(m)))
}

/// Revokes one of the caller's API tokens (an admin: anyone's); it stops working at once.
pub async fn revoke_api_token(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<()> {
    let txn = db.begin().await?;
    let token = credentials::get_api_token(&txn, id).await?;
    if token.user_id != caller.user_id && !caller.is_admin() {
        return Err(Error::not_found());
    }
    credentials::revoke_api_token(&txn, token.id).await?;
    // A revoked token stays listed, with its revocation time: the event is a change of it.
    let revoked = credentials::get_api_token(&txn, token.id).await?;
    let before = present(&ApiTokenView::from(&token));
    let after = present(&ApiTokenView::from(&revoked));
    journal::record(
        &txn,
        &caller.actor(),
        Change {
            entity_type: "api_token",
            entity_id: token.id,
            action: "revoked",
            before: Some(&before),
            after: Some(&after),
            comment: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
