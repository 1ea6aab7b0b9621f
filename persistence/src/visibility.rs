//! Record visibility (API-6): a sales manager sees the records he is responsible for, a
//! department head those of everyone in the departments he heads (and their sub-departments),
//! an admin everything. A record outside the caller's scope is answered as if it did not exist.

use std::collections::BTreeSet;

use sea_orm::sea_query::{ExprTrait, Query, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::{department, invoice, payment, payment_application, user};
use crate::error::StoreResult;

/// Whose records a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Everything,
    /// Records whose responsible user is one of these.
    ResponsibleAmong(BTreeSet<Uuid>),
}

impl Scope {
    /// The condition on a `responsible_id` column.
    pub fn condition<C: ColumnTrait>(&self, responsible: C) -> Option<SimpleExpr> {
        match self {
            Scope::Everything => None,
            Scope::ResponsibleAmong(ids) => Some(responsible.is_in(ids.iter().copied())),
        }
    }

    pub fn allows(&self, responsible: Option<Uuid>) -> bool {
        match self {
            Scope::Everything => true,
            Scope::ResponsibleAmong(ids) => responsible.is_some_and(|r| ids.contains(&r)),
        }
    }

    /// Narrows a query to the scope.
    pub fn apply<E: EntityTrait>(
        &self,
        select: sea_orm::Select<E>,
        responsible: E::Column,
    ) -> sea_orm::Select<E> {
        match self.condition(responsible) {
            Some(c) => select.filter(c),
            None => select,
        }
    }
}

/// The payments a scope covers (OWASP API1): those registered by someone in it, and those
/// applied to an invoice it covers. `None`: every payment. Accountants and admins see all
/// money whatever their scope; the caller decides that before asking.
pub fn payments_condition(scope: &Scope) -> Option<SimpleExpr> {
    let registered = scope.condition(payment::Column::CreatedBy)?;
    let invoices = scope.condition(invoice::Column::ResponsibleId)?;
    let visible_invoices = Query::select()
        .column(invoice::Column::Id)
        .from(invoice::Entity)
        .and_where(invoice::Column::DeletedAt.is_null())
        .and_where(invoices)
        .to_owned();
    let applied = Query::select()
        .column(payment_application::Column::PaymentId)
        .from(payment_application::Entity)
        .and_where(payment_application::Column::UnappliedAt.is_null())
        .and_where(payment_application::Column::InvoiceId.in_subquery(visible_invoices))
        .to_owned();
    Some(registered.or(payment::Column::Id.in_subquery(applied)))
}

/// The scope of `user_id`: everything for admins; for everyone else himself plus, for the
/// head of departments, every member of those departments and of their sub-departments.
pub async fn scope_of<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    is_admin: bool,
) -> StoreResult<Scope> {
    if is_admin {
        return Ok(Scope::Everything);
    }
    let mut visible = BTreeSet::from([user_id]);
    let departments = department::Entity::find()
        .filter(department::Column::DeletedAt.is_null())
        .all(db)
        .await?;
    let mut headed: BTreeSet<Uuid> = departments
        .iter()
        .filter(|d| d.head_id == Some(user_id))
        .map(|d| d.id)
        .collect();
    // Sub-departments belong to the head of the parent too; bounded against cycles.
    for _ in 0..32 {
        let more: Vec<Uuid> = departments
            .iter()
            .filter(|d| d.parent_id.is_some_and(|p| headed.contains(&p)) && !headed.contains(&d.id))
            .map(|d| d.id)
            .collect();
        if more.is_empty() {
            break;
        }
        headed.extend(more);
    }
    if !headed.is_empty() {
        let members = user::Entity::find()
            .filter(user::Column::DepartmentId.is_in(headed.iter().copied()))
            .all(db)
            .await?;
        visible.extend(members.iter().map(|u| u.id));
        visible.extend(
            departments
                .iter()
                .filter(|d| headed.contains(&d.id))
                .filter_map(|d| d.head_id),
        );
    }
    // Explicit subordinates (supervisor_id) are visible to their supervisor as well.
    let subordinates = user::Entity::find()
        .filter(user::Column::SupervisorId.eq(user_id))
        .all(db)
        .await?;
    visible.extend(subordinates.iter().map(|u| u.id));
    Ok(Scope::ResponsibleAmong(visible))
}
