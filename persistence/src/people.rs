//! ORG-2 users and ORG-3 departments.

use sea_orm::sea_query::{LikeExpr, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Select,
};
use uuid::Uuid;

use crate::entity::{department, user};
use crate::error::StoreResult;

pub async fn user_count<C: ConnectionTrait>(db: &C) -> StoreResult<u64> {
    Ok(user::Entity::find().count(db).await?)
}

/// Emails are stored lower-cased (`Email::parse`), so this is an exact match.
pub async fn find_user_by_email<C: ConnectionTrait>(
    db: &C,
    email: &str,
) -> StoreResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .filter(user::Column::DeletedAt.is_null())
        .one(db)
        .await?)
}

#[derive(Debug, Default)]
pub struct UserFilter {
    /// Case-insensitive part of the name or email.
    pub q: Option<String>,
    pub role: Option<String>,
    pub department_id: Option<Uuid>,
    pub active: Option<bool>,
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
}

pub fn users_query(f: &UserFilter) -> Select<user::Entity> {
    let mut q = user::Entity::find().filter(user::Column::DeletedAt.is_null());
    if let Some(text) = &f.q {
        // Emails are stored lower-case; names are matched as typed.
        q = q.filter(
            Condition::any()
                .add(contains(user::Column::Email, &text.to_lowercase()))
                .add(contains(user::Column::Name, text)),
        );
    }
    if let Some(role) = &f.role {
        q = q.filter(
            Condition::any()
                .add(user::Column::Roles.eq(role.clone()))
                .add(user::Column::Roles.like(format!("{role},%")))
                .add(user::Column::Roles.like(format!("%,{role}")))
                .add(user::Column::Roles.like(format!("%,{role},%"))),
        );
    }
    if let Some(d) = f.department_id {
        q = q.filter(user::Column::DepartmentId.eq(d));
    }
    if let Some(a) = f.active {
        q = q.filter(user::Column::Active.eq(a));
    }
    if let Some(t) = f.updated_since {
        q = q.filter(user::Column::UpdatedAt.gte(t));
    }
    q
}

#[derive(Debug, Default)]
pub struct DepartmentFilter {
    pub q: Option<String>,
    pub parent_id: Option<Uuid>,
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
}

pub fn departments_query(f: &DepartmentFilter) -> Select<department::Entity> {
    let mut q = department::Entity::find().filter(department::Column::DeletedAt.is_null());
    if let Some(text) = &f.q {
        q = q.filter(contains(department::Column::Name, text));
    }
    if let Some(p) = f.parent_id {
        q = q.filter(department::Column::ParentId.eq(p));
    }
    if let Some(t) = f.updated_since {
        q = q.filter(department::Column::UpdatedAt.gte(t));
    }
    q
}

/// The supervisor of a user: his own `supervisor_id`, else the head of his department
/// (unless he is that head, then the head of the parent department).
pub async fn supervisor_of<C: ConnectionTrait>(db: &C, user_id: Uuid) -> StoreResult<Option<Uuid>> {
    let Some(u) = user::Entity::find_by_id(user_id).one(db).await? else {
        return Ok(None);
    };
    if u.supervisor_id.is_some() {
        return Ok(u.supervisor_id);
    }
    let mut dept_id = u.department_id;
    // Bounded walk up the tree: a cycle in bad data must not hang a request.
    for _ in 0..32 {
        let Some(id) = dept_id else { return Ok(None) };
        let Some(d) = department::Entity::find_by_id(id).one(db).await? else {
            return Ok(None);
        };
        match d.head_id {
            Some(h) if h != user_id => return Ok(Some(h)),
            _ => dept_id = d.parent_id,
        }
    }
    Ok(None)
}

/// `column LIKE '%text%'` with the text taken literally.
pub fn contains<Col: ColumnTrait>(column: Col, text: &str) -> SimpleExpr {
    column.like(LikeExpr::new(format!("%{}%", escape_like(text))).escape('\\'))
}

/// `LIKE` treats `%` and `_` as wildcards; a search for them must find them literally.
pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The active users holding `role` (those a role task is announced to).
pub async fn users_with_role<C: ConnectionTrait>(db: &C, role: &str) -> StoreResult<Vec<Uuid>> {
    Ok(users_query(&UserFilter {
        role: Some(role.to_owned()),
        active: Some(true),
        ..UserFilter::default()
    })
    .all(db)
    .await?
    .into_iter()
    .map(|u| u.id)
    .collect())
}
