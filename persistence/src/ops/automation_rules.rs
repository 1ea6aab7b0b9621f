//! `/automation-rules` (admins): rules as data — a trigger, conditions and actions, stored as
//! typed JSON validated by `domain::automation`, enabled per pipeline (none listed = all).
//! The deal payment watcher (WF-PAY-1) is seeded enabled with a fixed id.

use crate::entity::automation_rule;
use crate::pagination::{CursorValue, SortKey};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::dto::double_option;

/// An automation rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct AutomationRuleView {
    pub id: Uuid,
    #[schema(example = "Контроль оплаты сделки")]
    pub name: String,
    /// `{"type": "deal_payment_percent_changed"}`.
    #[schema(value_type = Object, example = json!({"type": "deal_payment_percent_changed"}))]
    pub trigger: Value,
    /// All must hold, e.g. `[{"type": "payment_percent_at_least", "hundredths": 5000}]`.
    #[schema(value_type = Vec<Object>, example = json!([]))]
    pub conditions: Value,
    /// e.g. `[{"type": "notify_supervisor", "email": true}]`.
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
    #[serde(default = "empty_list")]
    #[schema(value_type = Vec<Object>)]
    pub conditions: Value,
    #[schema(value_type = Vec<Object>)]
    pub actions: Value,
    pub pipeline_ids: Option<Vec<Uuid>>,
    /// Default true.
    pub enabled: Option<bool>,
}

pub fn empty_list() -> Value {
    Value::Array(Vec::new())
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAutomationRule {
    #[validate(length(min = 1, max = 200))]
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub trigger: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub conditions: Option<Value>,
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
