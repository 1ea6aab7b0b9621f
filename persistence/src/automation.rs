//! Automation rules as stored data: which enabled rules a trigger wakes for a deal's pipeline,
//! each read back into the domain's typed rule. Every trigger point asks here, so the rule
//! model's storage (JSON columns, pipeline list) is known in one place.

use sdelka_domain::automation::RuleBody;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entity::automation_rule::{Column, Entity};
use crate::error::StoreResult;

/// The enabled, live rules of `trigger_type` that apply to `pipeline_id` (a rule without a
/// pipeline list applies to all), oldest first. A stored rule that no longer parses is
/// skipped with a warning rather than failing the change that triggered it.
pub async fn enabled_rules<C: ConnectionTrait>(
    db: &C,
    trigger_type: &str,
    pipeline_id: Uuid,
) -> StoreResult<Vec<RuleBody>> {
    let stored = Entity::find()
        .filter(Column::TriggerType.eq(trigger_type))
        .filter(Column::Enabled.eq(true))
        .filter(Column::DeletedAt.is_null())
        .order_by_asc(Column::CreatedAt)
        .all(db)
        .await?;
    let mut rules = Vec::with_capacity(stored.len());
    for r in stored {
        if let Some(ids) = &r.pipeline_ids {
            let ids: Vec<Uuid> = serde_json::from_str(ids).unwrap_or_default();
            if !ids.contains(&pipeline_id) {
                continue;
            }
        }
        let parsed = (|| {
            let t = serde_json::from_str(&r.trigger).ok()?;
            let c = serde_json::from_str(&r.conditions).ok()?;
            let a = serde_json::from_str(&r.actions).ok()?;
            RuleBody::parse(&t, &c, &a).ok()
        })();
        match parsed {
            Some(rule) => rules.push(rule),
            None => tracing::warn!(rule = %r.id, "automation rule does not parse; skipped"),
        }
    }
    Ok(rules)
}
