//! `/numbering-templates` (WF-NUM-1): per own organisation and document type, how document
//! numbers are spelled and when their counter starts again. Anyone signed in may read them and
//! preview the next number; only admins change them.

use crate::StoreError;
use crate::entity::numbering_template;
use crate::numbering::parse_reset;
use crate::pagination::{CursorValue, SortKey};
use chrono::{DateTime, NaiveDate, Utc};
use sdelka_domain::numbering::NumberingTemplate;
use sdelka_domain::validation::{FieldViolation, RuleBroken, Violations};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{Error, ErrorCode};

/// A numbering template.
#[derive(Debug, Serialize, ToSchema)]
pub struct NumberingTemplateView {
    pub id: Uuid,
    pub organization_id: Uuid,
    /// `invoice`, `quote`, `order`, `contract`, `act`, `supplier_invoice`, `shipment`.
    #[schema(example = "invoice")]
    pub document_type: String,
    /// Literal text with `{YYYY}`, `{YY}`, `{Q}`, `{MM}`, `{DD}`, `{ORG}` and one `{N:width}`.
    #[schema(example = "СЧ-{ORG}/{YY}{MM}-{N:5}")]
    pub template: String,
    /// `never`, `yearly`, `quarterly`, `monthly` or `daily`; the period is the document's date.
    #[schema(example = "yearly")]
    pub reset: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&numbering_template::Model> for NumberingTemplateView {
    fn from(t: &numbering_template::Model) -> Self {
        NumberingTemplateView {
            id: t.id,
            organization_id: t.organization_id,
            document_type: t.document_type.clone(),
            template: t.template.clone(),
            reset: t.reset.clone(),
            version: t.version,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNumberingTemplate {
    pub organization_id: Uuid,
    #[schema(example = "invoice")]
    pub document_type: String,
    #[schema(example = "СЧ-{ORG}/{YY}{MM}-{N:5}")]
    pub template: String,
    /// Default `yearly`.
    #[schema(example = "yearly")]
    pub reset: Option<String>,
}

/// Changing a template changes the numbers taken from then on; numbers already taken stay.
/// A new `reset` starts counting in the new periods (old counters are kept).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateNumberingTemplate {
    pub template: Option<String>,
    pub reset: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NumberingTemplateFilter {
    pub organization_id: Option<Uuid>,
    pub document_type: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// The document's date (its period decides the series). Default: today.
    #[schema(example = "2026-12-28")]
    pub date: Option<NaiveDate>,
}

/// The next number, not taken.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewView {
    #[schema(example = "СЧ-RM/2612-00042")]
    pub number: String,
    /// The counter series, e.g. `2026`, `2026-Q4`, `2026-12`.
    #[schema(example = "2026")]
    pub period: String,
    #[schema(example = 42)]
    pub counter: i64,
}

pub fn sorts() -> [SortKey<numbering_template::Entity>; 2] {
    [
        SortKey {
            name: "created_at",
            column: numbering_template::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: numbering_template::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
    ]
}

pub fn check_template(template: &str, v: &mut Violations) -> Option<String> {
    match NumberingTemplate::parse(template.trim()) {
        Ok(_) => Some(template.trim().to_owned()),
        Err(e) => {
            v.push(FieldViolation::new(
                "template",
                e.code(),
                format!("template: {e}"),
            ));
            None
        }
    }
}

pub fn check_reset(reset: &str, v: &mut Violations) -> Option<String> {
    match parse_reset(reset) {
        Some(r) => Some(r.as_str().to_owned()),
        None => {
            v.push(FieldViolation::new(
                "reset",
                "invalid_choice",
                "reset must be never, yearly, quarterly, monthly or daily",
            ));
            None
        }
    }
}

pub fn duplicate(e: StoreError) -> Error {
    match e {
        StoreError::Duplicate(_) => Error::new(
            ErrorCode::Duplicate,
            "this organisation already has a numbering template for this document type; change that one",
        ),
        other => other.into(),
    }
}
