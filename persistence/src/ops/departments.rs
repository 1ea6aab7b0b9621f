//! `/departments`: the org structure used for supervisors, escalations and visibility (ORG-3).

use crate::entity::{department, user};
use crate::journal::now;
use crate::pagination::{CursorValue, SortKey, fetch_page};
use crate::people::{DepartmentFilter, departments_query};
use crate::records;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::dto::double_option;
use super::{Caller, Db, Error, ListPage, ListParams, OpResult, ensure_exists, present};

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

fn public(d: &department::Model) -> serde_json::Value {
    present(&DepartmentView::from(d))
}

/// Departments, a page at a time (everyone may read them).
pub async fn list_departments(
    db: Db<'_>,
    _caller: &Caller,
    page: &ListParams,
    f: DepartmentListFilter,
) -> OpResult<ListPage<DepartmentView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let query = departments_query(&DepartmentFilter {
        q: f.q,
        parent_id: f.parent_id,
        updated_since: page.updated_since,
    });
    let page = fetch_page(&db, query, req, department::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |m| DepartmentView::from(m)))
}

/// Creates a department; its parent and head, when named, must exist.
pub async fn create_department(
    db: Db<'_>,
    caller: &Caller,
    req: CreateDepartment,
) -> OpResult<DepartmentView> {
    let at = now();
    let txn = db.begin().await?;
    if let Some(p) = req.parent_id {
        ensure_exists::<department::Entity, _>(&txn, "parent_id", p).await?;
    }
    if let Some(h) = req.head_id {
        ensure_exists::<user::Entity, _>(&txn, "head_id", h).await?;
    }
    let model = records::create::<department::Entity, _>(
        &txn,
        &caller.actor(),
        department::Model {
            id: Uuid::now_v7(),
            name: req.name.trim().to_owned(),
            parent_id: req.parent_id,
            head_id: req.head_id,
            version: 1,
            created_at: at,
            updated_at: at,
            deleted_at: None,
        },
        public,
    )
    .await?;
    txn.commit().await?;
    Ok(DepartmentView::from(&model))
}

/// One department.
pub async fn get_department(db: Db<'_>, _caller: &Caller, id: Uuid) -> OpResult<DepartmentView> {
    let d = records::find::<department::Entity, _>(&db, id).await?;
    Ok(DepartmentView::from(&d))
}

/// Changes a department as one compare-and-set on its version. A department cannot be its
/// own parent.
pub async fn update_department(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: UpdateDepartment,
) -> OpResult<DepartmentView> {
    let txn = db.begin().await?;
    if let Some(Some(p)) = req.parent_id {
        if p == id {
            return Err(Error::field(
                "parent_id",
                "self_reference",
                "a department cannot be its own parent",
            ));
        }
        ensure_exists::<department::Entity, _>(&txn, "parent_id", p).await?;
    }
    if let Some(Some(h)) = req.head_id {
        ensure_exists::<user::Entity, _>(&txn, "head_id", h).await?;
    }
    let updated = records::update::<department::Entity, _, _, Error>(
        &txn,
        &caller.actor(),
        id,
        if_match,
        |d| {
            if let Some(n) = &req.name {
                d.name = n.trim().to_owned();
            }
            if let Some(p) = req.parent_id {
                d.parent_id = p;
            }
            if let Some(h) = req.head_id {
                d.head_id = h;
            }
            Ok(())
        },
        public,
    )
    .await??;
    txn.commit().await?;
    Ok(DepartmentView::from(&updated))
}

/// Deletes a department (kept for the audit trail).
pub async fn delete_department(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
) -> OpResult<()> {
    let txn = db.begin().await?;
    records::soft_delete::<department::Entity, _>(&txn, &caller.actor(), id, if_match, public)
        .await?;
    txn.commit().await?;
    Ok(())
}
