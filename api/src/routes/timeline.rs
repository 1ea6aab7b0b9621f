//! `/{entity}/{id}/timeline`: the audit trail of one record (ACT-4), newest first.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use sdelka_persistence::entity::audit_record;
use sdelka_persistence::pagination::{CursorValue, SortKey, fetch_page};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::lists::{ListPage, ListParams};
use crate::state::AppState;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(timeline);
}

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

/// The change history of one record: who changed which field from what to what, and when.
#[utoipa::path(
    tag = "timeline",
    params(TimelinePath, ListParams),
    responses((status = 200, description = "Timeline, newest first by default", body = ListPage<TimelineEntry>))
)]
#[get("/{entity}/{id}/timeline")]
pub async fn timeline(
    state: web::Data<AppState>,
    caller: Principal,
    path: web::Path<TimelinePath>,
    page: web::Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let path = path.into_inner();
    crate::routes::access::ensure_visible(&state.store.conn, &caller, path.entity, path.id, true)
        .await?;
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
    let page = fetch_page(
        &state.store.conn,
        query,
        req,
        audit_record::Column::Id,
        |m| m.id,
    )
    .await?;
    // Every record has at least its creation entry: an empty first page means no such record.
    if first_page && page.items.is_empty() {
        return Err(ApiError::not_found());
    }
    Ok(HttpResponse::Ok().json(ListPage {
        items: page
            .items
            .into_iter()
            .map(|a| TimelineEntry {
                id: a.id,
                action: a.action,
                actor_id: a.actor_id,
                changes: serde_json::from_str(&a.changes).unwrap_or(serde_json::Value::Null),
                comment: a.comment,
                request_id: a.request_id,
                occurred_at: a.occurred_at,
            })
            .collect::<Vec<_>>(),
        next_cursor: page.next_cursor,
        total: page.total,
    }))
}
