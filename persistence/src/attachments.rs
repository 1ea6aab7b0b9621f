//! ACT-3 file metadata: folders by record and by company.

use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, Select};
use uuid::Uuid;

use crate::entity::{activity, company, contact, deal, file, lead};
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

/// Shows only files whose record the caller may see (as `access::ensure_visible` does for one).
pub fn visible_files(select: Select<file::Entity>, scope: &Scope) -> Select<file::Entity> {
    /// Files of `kind` whose record is in the caller's scope.
    fn owned<E: EntityTrait>(
        scope: &Scope,
        kind: &str,
        id: E::Column,
        responsible: E::Column,
    ) -> Condition {
        let mut records = Query::select();
        records.column(id).from(E::default());
        if let Some(c) = scope.condition(responsible) {
            records.cond_where(c);
        }
        Condition::all()
            .add(file::Column::EntityType.eq(kind))
            .add(file::Column::EntityId.in_subquery(records.to_owned()))
    }
    if matches!(scope, Scope::Everything) {
        return select;
    }
    select.filter(
        Condition::any()
            // Own organisations are shared reference data.
            .add(file::Column::EntityType.eq("organization"))
            .add(owned::<activity::Entity>(
                scope,
                "activity",
                activity::Column::Id,
                activity::Column::ResponsibleId,
            ))
            .add(owned::<deal::Entity>(
                scope,
                "deal",
                deal::Column::Id,
                deal::Column::ResponsibleId,
            ))
            .add(owned::<lead::Entity>(
                scope,
                "lead",
                lead::Column::Id,
                lead::Column::ResponsibleId,
            ))
            .add(owned::<company::Entity>(
                scope,
                "company",
                company::Column::Id,
                company::Column::ResponsibleId,
            ))
            .add(owned::<contact::Entity>(
                scope,
                "contact",
                contact::Column::Id,
                contact::Column::ResponsibleId,
            )),
    )
}
