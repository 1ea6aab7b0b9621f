//! ACT-4 and INT-2: every change leaves an audit record (field before/after) and a domain
//! event, written with the change in one transaction.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::entity::{audit_record, domain_event};
use crate::error::StoreResult;

/// Who acts, through which credential, in which request.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<Uuid>,
    pub api_token_id: Option<Uuid>,
    pub request_id: Option<String>,
}

impl Actor {
    /// The service itself (first-run seeding, workers).
    pub fn system() -> Self {
        Self::default()
    }
}

/// One change of one record.
pub struct Change<'a> {
    pub entity_type: &'static str,
    pub entity_id: Uuid,
    /// `created`, `updated`, `deleted`, or a workflow transition name.
    pub action: &'a str,
    /// The record as the API shows it before the change (`None` on create).
    pub before: Option<&'a Value>,
    /// The record as the API shows it after the change (`None` on delete).
    pub after: Option<&'a Value>,
    pub comment: Option<&'a str>,
}

/// Now, truncated to microseconds: what both backends store exactly, so a value read back
/// equals the value written.
pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// Field-level difference of two JSON snapshots: `{field: {"before": .., "after": ..}}`.
pub fn diff(before: Option<&Value>, after: Option<&Value>) -> Map<String, Value> {
    let empty = Map::new();
    let b = before.and_then(Value::as_object).unwrap_or(&empty);
    let a = after.and_then(Value::as_object).unwrap_or(&empty);
    let mut out = Map::new();
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        // Bookkeeping fields change on every write and say nothing to a reader.
        if matches!(k.as_str(), "version" | "updated_at" | "created_at") {
            continue;
        }
        let bv = b.get(k).unwrap_or(&Value::Null);
        let av = a.get(k).unwrap_or(&Value::Null);
        if bv != av {
            let mut pair = Map::new();
            pair.insert("before".into(), bv.clone());
            pair.insert("after".into(), av.clone());
            out.insert(k.clone(), Value::Object(pair));
        }
    }
    out
}

/// What a feed reader learns of a deleted record: its id and type, its last version and the
/// ids other systems know it by.
pub fn tombstone(entity_type: &str, id: Uuid, last: Option<&Value>) -> Value {
    let mut t = Map::new();
    t.insert("id".into(), Value::String(id.to_string()));
    t.insert("type".into(), Value::String(entity_type.to_owned()));
    t.insert("deleted".into(), Value::Bool(true));
    for key in ["version", "external_ids"] {
        if let Some(v) = last.and_then(|l| l.get(key)) {
            t.insert(key.into(), v.clone());
        }
    }
    Value::Object(t)
}

/// Writes the audit record and the domain event of `change`. Call inside the transaction that
/// makes the change.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    change: Change<'_>,
) -> StoreResult<()> {
    let object = match change.after {
        Some(after) => after.clone(),
        None => tombstone(change.entity_type, change.entity_id, change.before),
    };
    let changes = diff(change.before, change.after);
    write_audit(db, actor, &change, &changes).await?;
    write_event(db, actor, &change, &changes, object).await
}

/// Writes the audit record and the domain event of a change to a record's link or sub-record
/// that is journalled on its owner's timeline (a contact's link to a legal entity): the audit
/// entry is the owner's, the event carries `object` — the link as its list shows it, or, when
/// removed, the tombstone the caller builds.
pub async fn record_with_object<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    change: Change<'_>,
    object: Value,
) -> StoreResult<()> {
    let changes = diff(change.before, change.after);
    write_audit(db, actor, &change, &changes).await?;
    write_event(db, actor, &change, &changes, object).await
}

/// The audit entry of `change` on its record's timeline, without an event: for a write whose
/// event is about another record (a comment is its own record; it shows on the timeline of the
/// record commented on). Pair it with [`event`] in the same transaction.
pub async fn audit<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    change: &Change<'_>,
) -> StoreResult<()> {
    write_audit(db, actor, change, &diff(change.before, change.after)).await
}

async fn write_audit<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    change: &Change<'_>,
    changes: &Map<String, Value>,
) -> StoreResult<()> {
    audit_record::ActiveModel {
        id: Set(Uuid::now_v7()),
        entity_type: Set(change.entity_type.to_owned()),
        entity_id: Set(change.entity_id),
        action: Set(change.action.to_owned()),
        actor_id: Set(actor.user_id),
        changes: Set(Value::Object(changes.clone()).to_string()),
        comment: Set(change.comment.map(str::to_owned)),
        request_id: Set(actor.request_id.clone()),
        occurred_at: Set(now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The domain event of `change`, carrying `object` (the record's public representation or its
/// tombstone), the changed fields, the actor, the credential and the correlation id.
pub async fn event<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    change: &Change<'_>,
    object: Value,
) -> StoreResult<()> {
    write_event(
        db,
        actor,
        change,
        &diff(change.before, change.after),
        object,
    )
    .await
}

/// The responsible user of the record a change is about, as it stands after the change (before
/// it, for a delete).
fn responsible_of(change: &Change<'_>) -> Option<Uuid> {
    change
        .after
        .or(change.before)
        .and_then(|o| o.get("responsible_id"))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

async fn write_event<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    change: &Change<'_>,
    changes: &Map<String, Value>,
    object: Value,
) -> StoreResult<()> {
    let payload = serde_json::json!({
        "object": object,
        "changed_fields": changes.keys().collect::<Vec<_>>(),
        "changes": changes,
        "comment": change.comment,
        "actor": actor.user_id,
        "credential": actor.api_token_id.or(actor.user_id),
        "correlation_id": actor.request_id,
    });
    domain_event::ActiveModel {
        seq: sea_orm::NotSet,
        id: Set(Uuid::now_v7()),
        event_type: Set(format!("{}.{}", change.entity_type, change.action)),
        entity_type: Set(change.entity_type.to_owned()),
        entity_id: Set(change.entity_id),
        actor_id: Set(actor.user_id),
        api_token_id: Set(actor.api_token_id),
        correlation_id: Set(actor.request_id.clone()),
        payload: Set(payload.to_string()),
        occurred_at: Set(now()),
        position: Set(None),
        responsible_id: Set(responsible_of(change)),
    }
    .insert(db)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_reports_changed_fields_only() {
        let b = json!({"name": "A", "inn": "1", "version": 1});
        let a = json!({"name": "B", "inn": "1", "version": 2});
        let d = diff(Some(&b), Some(&a));
        assert_eq!(d.len(), 1);
        assert_eq!(d["name"], json!({"before": "A", "after": "B"}));
    }

    #[test]
    fn diff_of_creation_lists_every_field() {
        let a = json!({"name": "B", "inn": "1"});
        assert_eq!(diff(None, Some(&a)).len(), 2);
    }
}
