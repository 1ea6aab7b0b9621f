//! `/automation-rules` (admins): rules as data — a trigger, conditions and actions, stored as
//! typed JSON validated by `domain::automation`, enabled per pipeline (none listed = all).
//! The deal payment watcher (WF-PAY-1) is seeded enabled with a fixed id.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_domain::automation::RuleBody;
use sdelka_persistence::entity::automation_rule;
use sdelka_persistence::journal::now;
use sdelka_persistence::pagination::fetch_page;
use sdelka_persistence::records;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::Admin;
use crate::error::{ApiError, ApiResult};
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::routes::{created, versioned};
use crate::state::AppState;
#[allow(unused_imports)]
use sdelka_persistence::ops::automation_rules::*;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_rules)
        .service(create_rule)
        .service(get_rule)
        .service(update_rule)
        .service(delete_rule);
}

/// Lists automation rules (admin).
#[utoipa::path(
    tag = "workflows",
    params(ListParams, AutomationRuleFilter),
    responses((status = 200, description = "A page of rules", body = ListPage<AutomationRuleView>))
)]
#[get("/automation-rules")]
pub async fn list_rules(
    state: web::Data<AppState>,
    _admin: Admin,
    page: web::Query<ListParams>,
    filter: web::Query<AutomationRuleFilter>,
) -> ApiResult<HttpResponse> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let mut q =
        automation_rule::Entity::find().filter(automation_rule::Column::DeletedAt.is_null());
    if let Some(e) = filter.enabled {
        q = q.filter(automation_rule::Column::Enabled.eq(e));
    }
    if let Some(t) = &filter.trigger_type {
        q = q.filter(automation_rule::Column::TriggerType.eq(t.clone()));
    }
    if let Some(t) = page.updated_since {
        q = q.filter(automation_rule::Column::UpdatedAt.gte(t));
    }
    let page = fetch_page(
        &state.store.conn,
        q,
        req,
        automation_rule::Column::Id,
        |m| m.id,
    )
    .await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, |r| AutomationRuleView::from(r))))
}

/// Creates an automation rule (admin). Trigger, conditions and actions are checked against the
/// known types; each problem names its field.
#[utoipa::path(
    tag = "workflows",
    request_body(content = CreateAutomationRule, example = json!({"name": "Оплата 100 % — сообщить менеджеру", "trigger": {"type": "deal_payment_percent_changed"}, "conditions": [{"type": "payment_percent_at_least", "hundredths": 10000}], "actions": [{"type": "notify_responsible", "email": true}]})),
    responses(
        (status = 201, description = "Created", body = AutomationRuleView),
        (status = 422, description = "Invalid rule", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/automation-rules")]
pub async fn create_rule(
    state: web::Data<AppState>,
    admin: Admin,
    body: JsonBody<CreateAutomationRule>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let parsed = RuleBody::parse(&req.trigger, &req.conditions, &req.actions)
        .map_err(ApiError::validation)?;
    let at = now();
    let model = automation_rule::Model {
        id: Uuid::now_v7(),
        name: req.name.trim().to_owned(),
        trigger_type: parsed.trigger.kind().to_owned(),
        trigger: req.trigger.to_string(),
        conditions: req.conditions.to_string(),
        actions: req.actions.to_string(),
        pipeline_ids: pipelines_text(&req.pipeline_ids),
        enabled: req.enabled.unwrap_or(true),
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let txn = state.store.begin().await?;
    let saved = records::create::<automation_rule::Entity, _>(
        &txn,
        &admin.actor(),
        model,
        records::snapshot,
    )
    .await?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/automation-rules/{}", saved.id),
        saved.version,
        &AutomationRuleView::from(&saved),
    ))
}

/// Reads one automation rule (admin).
#[utoipa::path(
    tag = "workflows",
    params(("id" = Uuid, Path, description = "Rule id")),
    responses((status = 200, description = "The rule", body = AutomationRuleView))
)]
#[get("/automation-rules/{id}")]
pub async fn get_rule(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let r = records::find::<automation_rule::Entity, _>(&state.store.conn, id.into_inner()).await?;
    Ok(versioned(
        StatusCode::OK,
        r.version,
        &AutomationRuleView::from(&r),
    ))
}

/// Changes an automation rule (admin), e.g. `{"enabled": false}` to switch it off.
#[utoipa::path(
    tag = "workflows",
    params(("id" = Uuid, Path, description = "Rule id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body(content = UpdateAutomationRule, example = json!({"enabled": false})),
    responses((status = 200, description = "Updated", body = AutomationRuleView))
)]
#[patch("/automation-rules/{id}")]
pub async fn update_rule(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateAutomationRule>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let req = body.0;
    let txn = state.store.begin().await?;
    let current = records::find::<automation_rule::Entity, _>(&txn, id).await?;
    let json = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    let trigger = req
        .trigger
        .clone()
        .unwrap_or_else(|| json(&current.trigger));
    let conditions = req
        .conditions
        .clone()
        .unwrap_or_else(|| json(&current.conditions));
    let actions = req
        .actions
        .clone()
        .unwrap_or_else(|| json(&current.actions));
    let parsed = RuleBody::parse(&trigger, &conditions, &actions).map_err(ApiError::validation)?;
    let saved = records::update::<automation_rule::Entity, _, _, ApiError>(
        &txn,
        &admin.actor(),
        id,
        if_match.0,
        |r| {
            if let Some(n) = &req.name {
                r.name = n.trim().to_owned();
            }
            r.trigger_type = parsed.trigger.kind().to_owned();
            r.trigger = trigger.to_string();
            r.conditions = conditions.to_string();
            r.actions = actions.to_string();
            if let Some(p) = &req.pipeline_ids {
                r.pipeline_ids = pipelines_text(p);
            }
            if let Some(e) = req.enabled {
                r.enabled = e;
            }
            Ok(())
        },
        records::snapshot,
    )
    .await??;
    txn.commit().await?;
    Ok(versioned(
        StatusCode::OK,
        saved.version,
        &AutomationRuleView::from(&saved),
    ))
}

/// Deletes an automation rule (admin; kept for the audit trail).
#[utoipa::path(
    tag = "workflows",
    params(("id" = Uuid, Path, description = "Rule id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/automation-rules/{id}")]
pub async fn delete_rule(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    let txn = state.store.begin().await?;
    records::soft_delete::<automation_rule::Entity, _>(
        &txn,
        &admin.actor(),
        id.into_inner(),
        if_match.0,
        records::snapshot,
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
