//! `/numbering-templates` (WF-NUM-1): per own organisation and document type, how document
//! numbers are spelled and when their counter starts again. Anyone signed in may read them and
//! preview the next number; only admins change them.

use crate::StoreError;
use crate::entity::{numbering_template, organization};
use crate::journal::now;
use crate::numbering::{DOCUMENT_TYPES, live_key, parse_reset, preview, templates_query};
use crate::pagination::{CursorValue, SortKey, fetch_page};
use crate::records;
use chrono::{DateTime, NaiveDate, Utc};
use sdelka_domain::numbering::NumberingTemplate;
use sdelka_domain::validation::{FieldViolation, RuleBroken, Violations};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{Caller, Db, Error, ErrorCode, ListPage, ListParams, OpResult, ensure_exists, present};

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

fn public(t: &numbering_template::Model) -> serde_json::Value {
    present(&NumberingTemplateView::from(t))
}

/// The numbering templates, a page at a time.
pub async fn list_templates(
    db: Db<'_>,
    _caller: &Caller,
    page: &ListParams,
    filter: NumberingTemplateFilter,
) -> OpResult<ListPage<NumberingTemplateView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let query = templates_query(
        filter.organization_id,
        filter.document_type.as_deref(),
        page.updated_since,
    );
    let page = fetch_page(&db, query, req, numbering_template::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |m| NumberingTemplateView::from(m)))
}

/// Creates the numbering template of an own organisation for a document type; one live
/// template per organisation and type.
pub async fn create_template(
    db: Db<'_>,
    caller: &Caller,
    req: CreateNumberingTemplate,
) -> OpResult<NumberingTemplateView> {
    let mut v = Violations::new();
    if !DOCUMENT_TYPES.contains(&req.document_type.as_str()) {
        v.push(FieldViolation::new(
            "document_type",
            "invalid_choice",
            format!("document_type must be one of {}", DOCUMENT_TYPES.join(", ")),
        ));
    }
    let template = check_template(&req.template, &mut v);
    let reset = check_reset(req.reset.as_deref().unwrap_or("yearly"), &mut v);
    let (Some(template), Some(reset), true) = (template, reset, v.is_empty()) else {
        return Err(v.into());
    };
    let txn = db.begin().await?;
    ensure_exists::<organization::Entity, _>(&txn, "organization_id", req.organization_id).await?;
    let at = now();
    let model = numbering_template::Model {
        id: Uuid::now_v7(),
        organization_id: req.organization_id,
        live_key: Some(live_key(req.organization_id, &req.document_type)),
        document_type: req.document_type,
        template,
        reset,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let saved =
        records::create::<numbering_template::Entity, _>(&txn, &caller.actor(), model, public)
            .await
            .map_err(duplicate)?;
    txn.commit().await?;
    Ok(NumberingTemplateView::from(&saved))
}

/// One numbering template.
pub async fn get_template(
    db: Db<'_>,
    _caller: &Caller,
    id: Uuid,
) -> OpResult<NumberingTemplateView> {
    let t = records::find::<numbering_template::Entity, _>(&db, id).await?;
    Ok(NumberingTemplateView::from(&t))
}

/// Changes a numbering template; numbers already taken stay.
pub async fn update_template(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: UpdateNumberingTemplate,
) -> OpResult<NumberingTemplateView> {
    let mut v = Violations::new();
    let template = req.template.as_deref().map(|t| check_template(t, &mut v));
    let reset = req.reset.as_deref().map(|r| check_reset(r, &mut v));
    if !v.is_empty() {
        return Err(v.into());
    }
    let txn = db.begin().await?;
    let saved = records::update::<numbering_template::Entity, _, _, Error>(
        &txn,
        &caller.actor(),
        id,
        if_match,
        |t| {
            if let Some(Some(s)) = &template {
                t.template = s.clone();
            }
            if let Some(Some(r)) = &reset {
                t.reset = r.clone();
            }
            Ok(())
        },
        public,
    )
    .await??;
    txn.commit().await?;
    Ok(NumberingTemplateView::from(&saved))
}

/// Deletes a numbering template. Numbers already taken stay on their documents; its
/// (organisation, type) slot is freed in the same transaction, so a new template for the same
/// type may then be created. The journal holds one entry: the deletion.
pub async fn delete_template(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
) -> OpResult<()> {
    let txn = db.begin().await?;
    records::soft_delete::<numbering_template::Entity, _>(
        &txn,
        &caller.actor(),
        id,
        if_match,
        public,
    )
    .await?;
    // The slot key is not part of the public representation: freeing it is no change a
    // reader of the journal would see.
    numbering_template::Entity::update_many()
        .col_expr(
            numbering_template::Column::LiveKey,
            Expr::value(Option::<String>::None),
        )
        .filter(numbering_template::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// The number the next document of this date (default today) would get, without taking it.
pub async fn preview_number(
    db: Db<'_>,
    _caller: &Caller,
    id: Uuid,
    req: PreviewRequest,
) -> OpResult<PreviewView> {
    let t = records::find::<numbering_template::Entity, _>(&db, id).await?;
    let date = req.date.unwrap_or_else(|| Utc::now().date_naive());
    let p = preview(&db, &t, date).await?;
    Ok(PreviewView {
        number: p.number,
        period: p.period,
        counter: p.counter,
    })
}
