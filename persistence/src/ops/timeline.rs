//! `/{entity}/{id}/timeline`: the audit trail of one record (ACT-4), newest first.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Caller, Db, Error, ListPage, ListParams, OpResult};
use crate::entity::audit_record;
use crate::pagination::{CursorValue, SortKey, fetch_page};

/// Record types that have a timeline.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TimelineEntity {
    Users,
    Departments,
    Organizations,
    Companies,
    LegalEntities,
    Contacts,
    // Sales
    Products,
    Pipelines,
    Deals,
    // Work area, and the owner types its activities, comments and files refer to.
    Activities,
    CalendarEvents,
    Files,
    Leads,
    Invoices,
    Contracts,
    // Sales documents
    Quotes,
    Orders,
    Payments,
    // Approvals (SPEC §3, WF-INV)
    SupplierInvoices,
    Tasks,
}

impl TimelineEntity {
    pub fn record_type(self) -> &'static str {
        match self {
            TimelineEntity::Users => "user",
            TimelineEntity::Departments => "department",
            TimelineEntity::Organizations => "organization",
            TimelineEntity::Companies => "company",
            TimelineEntity::LegalEntities => "legal_entity",
            TimelineEntity::Contacts => "contact",
            TimelineEntity::Products => "product",
            TimelineEntity::Pipelines => "pipeline",
            TimelineEntity::Deals => "deal",
            TimelineEntity::Activities => "activity",
            TimelineEntity::CalendarEvents => "calendar_event",
            TimelineEntity::Files => "file",
            TimelineEntity::Leads => "lead",
            TimelineEntity::Invoices => "invoice",
            TimelineEntity::Contracts => "contract",
            TimelineEntity::Quotes => "quote",
            TimelineEntity::Orders => "order",
            TimelineEntity::Payments => "payment",
            TimelineEntity::SupplierInvoices => "supplier_invoice",
            TimelineEntity::Tasks => "task",
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    pub id: Uuid,
    /// `created`, `updated`, `deleted` or a workflow transition.
    pub action: String,
    pub actor_id: Option<Uuid>,
    /// `{field: {"before": …, "after": …}}`.
    #[schema(value_type = Object)]
    pub changes: serde_json::Value,
    pub comment: Option<String>,
    pub request_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TimelinePath {
    /// Record type.
    #[param(inline)]
    pub entity: TimelineEntity,
    pub id: Uuid,
}

fn entry_of(a: &audit_record::Model) -> TimelineEntry {
    TimelineEntry {
        id: a.id,
        action: a.action.clone(),
        actor_id: a.actor_id,
        changes: serde_json::from_str(&a.changes).unwrap_or(serde_json::Value::Null),
        comment: a.comment.clone(),
        request_id: a.request_id.clone(),
        occurred_at: a.occurred_at,
    }
}

/// The change history of one record the caller may see, newest first by default. Every record
/// has at least its creation entry: an empty first page means there is no such record.
pub async fn list_timeline(
    db: Db<'_>,
    caller: &Caller,
    path: TimelinePath,
    page: &ListParams,
) -> OpResult<ListPage<TimelineEntry>> {
    super::access::ensure_visible(&db, caller, path.entity, path.id, true).await?;
    let sorts = [SortKey::<audit_record::Entity> {
        name: "occurred_at",
        column: audit_record::Column::OccurredAt,
        key: |m| CursorValue::Time(m.occurred_at),
    }];
    let first_page = page.cursor.is_none();
    let req = page.page_request(&sorts, "-occurred_at")?;
    let query = audit_record::Entity::find()
        .filter(audit_record::Column::EntityType.eq(path.entity.record_type()))
        .filter(audit_record::Column::EntityId.eq(path.id));
    let page = fetch_page(&db, query, req, audit_record::Column::Id, |m| m.id).await?;
    if first_page && page.items.is_empty() {
        return Err(Error::not_found());
    }
    Ok(ListPage::of(page, entry_of))
}
