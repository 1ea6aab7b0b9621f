//! `/api-tokens`: personal tokens for scripts and integrations (API-6).

use crate::entity::api_token;
use chrono::{DateTime, Utc};
use sdelka_domain::role::RoleSet;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use super::dto::RoleName;

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
