//! `/users`: the people who work in Sdelka (ORG-2).

use crate::entity::{department, user};
use crate::pagination::{CursorValue, SortKey};
use chrono::{DateTime, Utc};
use sdelka_domain::role::RoleSet;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::OpResult;
use super::dto::{RoleName, double_option};

use super::ensure_exists;

/// A user as the API shows it. Password hashes never leave the server.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    #[schema(example = "m.ivanova@example.com")]
    pub email: String,
    #[schema(example = "Мария Иванова")]
    pub name: String,
    pub active: bool,
    pub roles: Vec<RoleName>,
    pub department_id: Option<Uuid>,
    /// Explicit supervisor; when empty, the head of the user's department is his supervisor.
    pub supervisor_id: Option<Uuid>,
    /// Receives the user's new tasks while he is absent.
    pub deputy_id: Option<Uuid>,
    pub absent: bool,
    pub email_notifications: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&user::Model> for UserView {
    fn from(u: &user::Model) -> Self {
        UserView {
            id: u.id,
            email: u.email.clone(),
            name: u.name.clone(),
            active: u.active,
            roles: RoleSet::from_storage(&u.roles)
                .iter()
                .map(RoleName::from)
                .collect(),
            department_id: u.department_id,
            supervisor_id: u.supervisor_id,
            deputy_id: u.deputy_id,
            absent: u.absent,
            email_notifications: u.email_notifications,
            version: u.version,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(example = "m.ivanova@example.com")]
    pub email: String,
    #[validate(length(min = 1, max = 200, message = "name must be 1 to 200 characters"))]
    #[schema(example = "Мария Иванова")]
    pub name: String,
    /// Optional initial password (8+ characters). Either way the user gets a welcome email
    /// with a single-use link to set his own.
    #[validate(length(min = 8, max = 1024, message = "password must be 8 to 1024 characters"))]
    pub password: Option<String>,
    #[serde(default)]
    pub roles: Vec<RoleName>,
    pub department_id: Option<Uuid>,
    pub supervisor_id: Option<Uuid>,
    pub deputy_id: Option<Uuid>,
    pub email_notifications: Option<bool>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[validate(length(min = 1, max = 200, message = "name must be 1 to 200 characters"))]
    pub name: Option<String>,
    pub roles: Option<Vec<RoleName>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub department_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub supervisor_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub deputy_id: Option<Option<Uuid>>,
    pub active: Option<bool>,
    pub absent: Option<bool>,
    pub email_notifications: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListFilter {
    /// Part of the name or email.
    pub q: Option<String>,
    pub role: Option<RoleName>,
    pub department_id: Option<Uuid>,
    pub active: Option<bool>,
}

pub fn user_sorts() -> [SortKey<user::Entity>; 4] {
    [
        SortKey {
            name: "created_at",
            column: user::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: user::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
        SortKey {
            name: "name",
            column: user::Column::Name,
            key: |m| CursorValue::Text(m.name.clone()),
        },
        SortKey {
            name: "email",
            column: user::Column::Email,
            key: |m| CursorValue::Text(m.email.clone()),
        },
    ]
}

pub async fn check_references<C: ConnectionTrait>(
    db: &C,
    department_id: Option<Uuid>,
    supervisor_id: Option<Uuid>,
    deputy_id: Option<Uuid>,
) -> OpResult<()> {
    if let Some(id) = department_id {
        ensure_exists::<department::Entity, _>(db, "department_id", id).await?;
    }
    if let Some(id) = supervisor_id {
        ensure_exists::<user::Entity, _>(db, "supervisor_id", id).await?;
    }
    if let Some(id) = deputy_id {
        ensure_exists::<user::Entity, _>(db, "deputy_id", id).await?;
    }
    Ok(())
}
