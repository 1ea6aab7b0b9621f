//! `/{entity}/{id}/timeline`: the audit trail of one record (ACT-4), newest first.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TimelinePath {
    /// Record type.
    #[param(inline)]
    pub entity: TimelineEntity,
    pub id: Uuid,
}
