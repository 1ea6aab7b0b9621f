//! What companies, legal entities and contacts (CRM-1..3) share on the wire: external ids,
//! duplicate warnings, the responsible user, and their visibility on the timeline.

use sdelka_domain::validation::{FieldViolation, Violations};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use super::{Caller, Error, OpResult};
use crate::clients::ExternalRef;
use crate::visibility::Scope;

/// A record's id in another system, e.g. a 1C GUID. Unique per record type and source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalId {
    /// The other system; lower-cased, no `:`.
    #[validate(length(min = 1, max = 50, message = "source must be 1 to 50 characters"))]
    #[schema(example = "1c")]
    pub source: String,
    #[validate(length(min = 1, max = 255, message = "id must be 1 to 255 characters"))]
    #[schema(example = "6f1c2a9e-3b0d-11ee-be56-0242ac120002")]
    pub id: String,
}

/// A hint that the record just written may duplicate one the caller can see. The write
/// succeeded; the integrator decides whether to merge.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DuplicateWarning {
    /// Always `possible_duplicate`.
    #[schema(example = "possible_duplicate")]
    pub code: &'static str,
    /// What matched: `inn_kpp`, `emails` or `phones`.
    #[schema(example = "inn_kpp")]
    pub field: String,
    pub existing_id: Uuid,
}

impl DuplicateWarning {
    pub fn new(field: &str, existing_id: Uuid) -> Self {
        DuplicateWarning {
            code: "possible_duplicate",
            field: field.to_owned(),
            existing_id,
        }
    }
}

/// Normalises external ids (trimmed, source lower-cased) and refuses one that could not be
/// looked up again (`:` in the source) or is given twice.
pub fn external_refs(ids: &[ExternalId], v: &mut Violations) -> Vec<ExternalRef> {
    let mut out: Vec<ExternalRef> = Vec::with_capacity(ids.len());
    for (i, e) in ids.iter().enumerate() {
        let source = e.source.trim().to_lowercase();
        let id = e.id.trim().to_owned();
        if source.is_empty() || source.contains(':') || id.is_empty() {
            v.push(FieldViolation::new(
                format!("external_ids[{i}]"),
                "invalid_format",
                "an external id needs a source without ':' and a non-blank id",
            ));
            continue;
        }
        if out.iter().any(|o| o.source == source && o.id == id) {
            v.push(FieldViolation::new(
                format!("external_ids[{i}]"),
                "duplicate_value",
                "the same external id is given twice",
            ));
            continue;
        }
        out.push(ExternalRef { source, id });
    }
    out
}

pub fn external_ids_json(refs: &[ExternalRef]) -> serde_json::Value {
    serde_json::Value::Array(
        refs.iter()
            .map(|r| serde_json::json!({"source": r.source, "id": r.id}))
            .collect(),
    )
}

pub fn external_ids_of(json: &serde_json::Value) -> Vec<ExternalId> {
    serde_json::from_value(json.clone()).unwrap_or_default()
}

pub fn strings_of(json: &serde_json::Value) -> Vec<String> {
    serde_json::from_value(json.clone()).unwrap_or_default()
}

/// The `external_id=source:id` list filter.
pub fn external_filter(raw: Option<&str>) -> OpResult<Option<ExternalRef>> {
    let Some(raw) = raw else { return Ok(None) };
    match raw.split_once(':') {
        Some((source, id)) if !source.trim().is_empty() && !id.trim().is_empty() => {
            Ok(Some(ExternalRef {
                source: source.trim().to_lowercase(),
                id: id.trim().to_owned(),
            }))
        }
        _ => Err(Error::field(
            "external_id",
            "invalid_format",
            "external_id is `source:id`, e.g. 1c:6f1c2a9e-3b0d-11ee-be56-0242ac120002",
        )),
    }
}

/// The responsible user of a new or reassigned record: the caller unless another is named,
/// and only someone whose records the caller sees — a manager cannot hand a client to a
/// stranger and lose sight of it.
pub async fn responsible(
    db: &impl sea_orm::ConnectionTrait,
    caller: &Caller,
    scope: &Scope,
    requested: Option<Uuid>,
) -> OpResult<Uuid> {
    let Some(id) = requested else {
        return Ok(caller.user_id);
    };
    super::refs::responsible(db, scope, "responsible_id", id).await?;
    Ok(id)
}
