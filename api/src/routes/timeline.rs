//! `/{entity}/{id}/timeline`: the audit trail of one record (ACT-4), newest first.

use actix_web::{HttpResponse, get, web};
use sdelka_persistence::entity::audit_record;
use sdelka_persistence::pagination::{CursorValue, SortKey, fetch_page};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::lists::{ListPage, ListParams};
use crate::state::AppState;
#[allow(unused_imports)]
use sdelka_persistence::ops::timeline::*;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(timeline);
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
    sdelka_persistence::ops::access::ensure_visible(
        &state.store.conn,
        &caller,
        path.entity,
        path.id,
        true,
    )
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
