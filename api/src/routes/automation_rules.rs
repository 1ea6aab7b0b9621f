//! `/automation-rules` (admins): rules as data — a trigger, conditions and actions, stored as
//! typed JSON validated by `domain::automation`, enabled per pipeline (none listed = all).
//! The deal payment watcher (WF-PAY-1) is seeded enabled with a fixed id.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_persistence::ops::automation_rules::{
    self as ops, AutomationRuleFilter, AutomationRuleView, CreateAutomationRule,
    UpdateAutomationRule,
};
use uuid::Uuid;

use crate::auth::Admin;
use crate::error::ApiResult;
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::negotiate::list_answer;
use crate::routes::{created, versioned};
use crate::state::AppState;
use actix_web::HttpRequest;
use sdelka_persistence::ops::Caller;

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
    admin: Admin,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<AutomationRuleFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&admin);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_rules(state.db(), &caller, &page, filter).await }
        },
    )
    .await
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
    let r = ops::create_rule(state.db(), &admin, body.0).await?;
    Ok(created(
        format!("/api/v1/automation-rules/{}", r.id),
        r.version,
        &r,
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
    admin: Admin,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let r = ops::get_rule(state.db(), &admin, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, r.version, &r))
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
    let r = ops::update_rule(state.db(), &admin, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, r.version, &r))
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
    ops::delete_rule(state.db(), &admin, id.into_inner(), if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
