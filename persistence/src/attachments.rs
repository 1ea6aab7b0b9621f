//! ACT-3 file metadata: folders by record and by company.

use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, Select};
use uuid::Uuid;

use crate::entity::{activity, file};
use crate::visibility::Scope;

#[derive(Debug, Default)]
pub struct FileFilter {
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    /// The company folder: files attached to the company and files carrying it (a deal's).
    pub company_id: Option<Uuid>,
    pub document_type: Option<String>,
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
}

pub fn files_query(f: &FileFilter) -> Select<file::Entity> {
    use file::Column as C;
    let mut q = file::Entity::find().filter(C::DeletedAt.is_null());
    if let Some(t) = &f.entity_type {
        q = q.filter(C::EntityType.eq(t.clone()));
    }
    if let Some(id) = f.entity_id {
        q = q.filter(C::EntityId.eq(id));
    }
    if let Some(company) = f.company_id {
        q = q.filter(
            Condition::any().add(C::CompanyId.eq(company)).add(
                Condition::all()
                    .add(C::EntityType.eq("company"))
                    .add(C::EntityId.eq(company)),
            ),
        );
    }
    if let Some(d) = &f.document_type {
        q = q.filter(C::DocumentType.eq(d.clone()));
    }
    if let Some(t) = f.updated_since {
        q = q.filter(C::UpdatedAt.gte(t));
    }
    q
}

/// Hides files attached to activities outside the caller's scope.
pub fn visible_files(select: Select<file::Entity>, scope: &Scope) -> Select<file::Entity> {
    match scope.condition(activity::Column::ResponsibleId) {
        None => select,
        Some(c) => select.filter(
            Condition::any()
                .add(file::Column::EntityType.ne("activity"))
                .add(
                    file::Column::EntityId.in_subquery(
                        Query::select()
                            .column(activity::Column::Id)
                            .from(activity::Entity)
                            .cond_where(c)
                            .to_owned(),
                    ),
                ),
        ),
    }
}
