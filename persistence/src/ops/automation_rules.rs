//! `/automation-rules` (admins): rules as data — a trigger, conditions and actions, stored as
//! typed JSON validated by `domain::automation`, enabled per pipeline (none listed = all).
//! The deal payment watcher (WF-PAY-1) is seeded enabled with a fixed id.

use crate::entity::automation_rule;
use crate::journal::now;
use crate::pagination::{CursorValue, SortKey, fetch_page};
use crate::records;
use chrono::{DateTime, Utc};
use sdelka_domain::automation::RuleBody;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::dto::double_option;
use super::{Caller, Db, Error, ListPage, ListParams, OpResult, present};

/// An automation rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct AutomationRuleView {
    pub id: Uuid,
    #[schema(example = "Контроль оплаты сделки")]
    pub name: String,
    /// `{"type": "deal_payment_percent_changed"}` or `{"type": "task_completed"}` (task
    /// billing, WF-BILL-1).
    #[schema(value_type = Object, example = json!({"type": "deal_payment_percent_changed"}))]
    pub trigger: Value,
    /// All must hold, e.g. `[{"type": "payment_percent_at_least", "hundredths": 5000}]`.
    #[schema(value_type = Vec<Object>, example = json!([]))]
    pub conditions: Value,
    /// e.g. `[{"type": "notify_supervisor", "email": true}]`, or for `task_completed`
    /// `[{"type": "bill_time", "mode": "add_as_product", "hourly_rate": "1500.00",
    /// "notify_responsible": true}]` (modes `update_first_row`, `add_as_product`, `add_as_row`).
    #[schema(value_type = Vec<Object>, example = json!([{"type": "notify_supervisor", "email": true}]))]
    pub actions: Value,
    /// Absent: every pipeline.
    pub pipeline_ids: Option<Vec<Uuid>>,
    pub enabled: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&automation_rule::Model> for AutomationRuleView {
    fn from(r: &automation_rule::Model) -> Self {
        let json = |s: &str| serde_json::from_str(s).unwrap_or(Value::Null);
        AutomationRuleView {
            id: r.id,
            name: r.name.clone(),
            trigger: json(&r.trigger),
            conditions: json(&r.conditions),
            actions: json(&r.actions),
            pipeline_ids: r
                .pipeline_ids
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok()),
            enabled: r.enabled,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAutomationRule {
    #[validate(length(min = 1, max = 200))]
    pub name: String,
    #[schema(value_type = Object)]
    pub trigger: Value,
    #[serde(default = "empty_list", deserialize_with = "list_of_objects")]
    #[schema(value_type = Vec<Object>)]
    pub conditions: Value,
    #[serde(deserialize_with = "list_of_objects")]
    #[schema(value_type = Vec<Object>)]
    pub actions: Value,
    pub pipeline_ids: Option<Vec<Uuid>>,
    /// Default true.
    pub enabled: Option<bool>,
}

pub fn empty_list() -> Value {
    Value::Array(Vec::new())
}

/// Conditions and actions are lists of objects: anything else (`[null]`, a string) is refused
/// while the body is read, at the element's path, before the rule's own checks.
fn list_of_objects<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    let items = Vec::<serde_json::Map<String, Value>>::deserialize(d)?;
    Ok(Value::Array(items.into_iter().map(Value::Object).collect()))
}

fn optional_list_of_objects<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Value>, D::Error> {
    let items = Option::<Vec<serde_json::Map<String, Value>>>::deserialize(d)?;
    Ok(items.map(|items| Value::Array(items.into_iter().map(Value::Object).collect())))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAutomationRule {
    #[validate(length(min = 1, max = 200))]
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub trigger: Option<Value>,
    #[serde(default, deserialize_with = "optional_list_of_objects")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub conditions: Option<Value>,
    #[serde(default, deserialize_with = "optional_list_of_objects")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub actions: Option<Value>,
    /// `null`: every pipeline.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<Uuid>>)]
    pub pipeline_ids: Option<Option<Vec<Uuid>>>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AutomationRuleFilter {
    pub enabled: Option<bool>,
    /// Trigger type, e.g. `deal_payment_percent_changed`.
    pub trigger_type: Option<String>,
}

pub fn sorts() -> [SortKey<automation_rule::Entity>; 2] {
    [
        SortKey {
            name: "created_at",
            column: automation_rule::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: automation_rule::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
    ]
}

pub fn pipelines_text(ids: &Option<Vec<Uuid>>) -> Option<String> {
    ids.as_ref()
        .map(|ids| serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()))
}

fn public(r: &automation_rule::Model) -> Value {
    present(&AutomationRuleView::from(r))
}

/// The automation rules, a page at a time.
pub async fn list_rules(
    db: Db<'_>,
    _caller: &Caller,
    page: &ListParams,
    filter: AutomationRuleFilter,
) -> OpResult<ListPage<AutomationRuleView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let mut q =
        automation_rule::Entity::find().filter(automation_rule::Column::DeletedAt.is_null());
    if let Some(e) = filter.enabled {
        q = q.filter(automation_rule::Column::Enabled.eq(e));
    }
    if let Some(t) = filter.trigger_type {
        q = q.filter(automation_rule::Column::TriggerType.eq(t));
    }
    if let Some(t) = page.updated_since {
        q = q.filter(automation_rule::Column::UpdatedAt.gte(t));
    }
    let page = fetch_page(&db, q, req, automation_rule::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |r| AutomationRuleView::from(r)))
}

/// Creates an automation rule; trigger, conditions and actions are checked against the known
/// types, each problem naming its field.
pub async fn create_rule(
    db: Db<'_>,
    caller: &Caller,
    req: CreateAutomationRule,
) -> OpResult<AutomationRuleView> {
    let parsed =
        RuleBody::parse(&req.trigger, &req.conditions, &req.actions).map_err(Error::validation)?;
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
    let txn = db.begin().await?;
    let saved =
        records::create::<automation_rule::Entity, _>(&txn, &caller.actor(), model, public).await?;
    txn.commit().await?;
    Ok(AutomationRuleView::from(&saved))
}

/// One automation rule.
pub async fn get_rule(db: Db<'_>, _caller: &Caller, id: Uuid) -> OpResult<AutomationRuleView> {
    let r = records::find::<automation_rule::Entity, _>(&db, id).await?;
    Ok(AutomationRuleView::from(&r))
}

/// Changes an automation rule as one compare-and-set; the resulting trigger, conditions and
/// actions are checked as a whole.
pub async fn update_rule(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: UpdateAutomationRule,
) -> OpResult<AutomationRuleView> {
    let txn = db.begin().await?;
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
    let parsed = RuleBody::parse(&trigger, &conditions, &actions).map_err(Error::validation)?;
    let saved = records::update::<automation_rule::Entity, _, _, Error>(
        &txn,
        &caller.actor(),
        id,
        if_match,
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
        public,
    )
    .await??;
    txn.commit().await?;
    Ok(AutomationRuleView::from(&saved))
}

/// Deletes an automation rule (kept for the audit trail).
pub async fn delete_rule(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
) -> OpResult<()> {
    let txn = db.begin().await?;
    records::soft_delete::<automation_rule::Entity, _>(&txn, &caller.actor(), id, if_match, public)
        .await?;
    txn.commit().await?;
    Ok(())
}
