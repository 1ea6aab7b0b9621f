//! `/departments`: the org structure used for supervisors, escalations and visibility (ORG-3).

use crate::entity::department;
use crate::pagination::{CursorValue, SortKey};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::dto::double_option;

#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentView {
    pub id: Uuid,
    #[schema(example = "Отдел продаж")]
    pub name: String,
    pub parent_id: Option<Uuid>,
    /// The department's head: supervisor of its members.
    pub head_id: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&department::Model> for DepartmentView {
    fn from(d: &department::Model) -> Self {
        DepartmentView {
            id: d.id,
            name: d.name.clone(),
            parent_id: d.parent_id,
            head_id: d.head_id,
            version: d.version,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDepartment {
    #[validate(length(min = 1, max = 200, message = "name must be 1 to 200 characters"))]
    #[schema(example = "Отдел продаж")]
    pub name: String,
    pub parent_id: Option<Uuid>,
    pub head_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDepartment {
    #[validate(length(min = 1, max = 200, message = "name must be 1 to 200 characters"))]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub head_id: Option<Option<Uuid>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DepartmentListFilter {
    /// Part of the name.
    pub q: Option<String>,
    pub parent_id: Option<Uuid>,
}

pub fn sorts() -> [SortKey<department::Entity>; 3] {
    [
        SortKey {
            name: "created_at",
            column: department::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: department::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
        SortKey {
            name: "name",
            column: department::Column::Name,
            key: |m| CursorValue::Text(m.name.clone()),
        },
    ]
}
