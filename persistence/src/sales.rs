//! Sales: catalog queries (CAT-1), pipelines and stages (DEAL-1), deals and their stage history
//! (DEAL-2), product rows of sales documents (DEAL-3).

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Select, Set,
};
use uuid::Uuid;

use crate::entity::{deal, deal_stage_change, pipeline, pipeline_stage, product, product_row};
use crate::error::{StoreError, StoreResult};
use crate::journal::Actor;
use crate::people::contains;
use crate::records;

/// The document type of deal rows in `product_rows`.
pub const DEAL_ROWS: &str = "deal";

/// What find-or-create compares: the name with outer whitespace removed (case kept: "Монтаж"
/// and "монтаж" may well be two services in a price list).
pub fn product_name_key(name: &str) -> String {
    name.trim().to_owned()
}

pub fn product_search_text(name: &str, sku: Option<&str>) -> String {
    format!("{} {}", name, sku.unwrap_or_default()).to_lowercase()
}

#[derive(Debug, Default)]
pub struct ProductFilter {
    pub q: Option<String>,
    pub section: Option<String>,
    pub active: Option<bool>,
    pub sku: Option<String>,
    pub updated_since: Option<DateTime<Utc>>,
}

pub fn products_query(f: &ProductFilter) -> Select<product::Entity> {
    let mut q = product::Entity::find().filter(product::Column::DeletedAt.is_null());
    if let Some(text) = &f.q {
        q = q.filter(contains(product::Column::SearchText, &text.to_lowercase()));
    }
    if let Some(s) = &f.section {
        q = q.filter(product::Column::Section.eq(s.clone()));
    }
    if let Some(a) = f.active {
        q = q.filter(product::Column::Active.eq(a));
    }
    if let Some(s) = &f.sku {
        q = q.filter(product::Column::Sku.eq(s.clone()));
    }
    if let Some(t) = f.updated_since {
        q = q.filter(product::Column::UpdatedAt.gte(t));
    }
    q
}

/// The live product with exactly this (trimmed) name.
pub async fn product_by_name<C: ConnectionTrait>(
    db: &C,
    name: &str,
) -> StoreResult<Option<product::Model>> {
    Ok(product::Entity::find()
        .filter(product::Column::NameKey.eq(product_name_key(name)))
        .filter(product::Column::DeletedAt.is_null())
        .one(db)
        .await?)
}

/// Frees the name of a product about to be deleted, so that a new product may take it.
pub async fn release_product_name<C: ConnectionTrait>(db: &C, id: Uuid) -> StoreResult<()> {
    product::Entity::update_many()
        .col_expr(
            product::Column::NameKey,
            Expr::value(Option::<String>::None),
        )
        .filter(product::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub fn pipelines_query(updated_since: Option<DateTime<Utc>>) -> Select<pipeline::Entity> {
    let mut q = pipeline::Entity::find().filter(pipeline::Column::DeletedAt.is_null());
    if let Some(t) = updated_since {
        q = q.filter(pipeline::Column::UpdatedAt.gte(t));
    }
    q
}

/// Live stages of the given pipelines, in pipeline order (`sort`, then id).
pub async fn stages_of<C: ConnectionTrait>(
    db: &C,
    pipeline_ids: &[Uuid],
) -> StoreResult<Vec<pipeline_stage::Model>> {
    if pipeline_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(pipeline_stage::Entity::find()
        .filter(pipeline_stage::Column::PipelineId.is_in(pipeline_ids.iter().copied()))
        .filter(pipeline_stage::Column::DeletedAt.is_null())
        .order_by_asc(pipeline_stage::Column::Sort)
        .order_by_asc(pipeline_stage::Column::Id)
        .all(db)
        .await?)
}

/// The pipeline deals go to when none is named.
pub async fn default_pipeline<C: ConnectionTrait>(db: &C) -> StoreResult<Option<pipeline::Model>> {
    Ok(pipeline::Entity::find()
        .filter(pipeline::Column::DeletedAt.is_null())
        .filter(pipeline::Column::IsDefault.eq(true))
        .order_by_asc(pipeline::Column::Sort)
        .order_by_asc(pipeline::Column::Id)
        .one(db)
        .await?)
}

/// Live deals standing in a stage (a stage in use cannot be deleted).
pub async fn deals_in_stage<C: ConnectionTrait>(db: &C, stage_id: Uuid) -> StoreResult<u64> {
    Ok(deal::Entity::find()
        .filter(deal::Column::StageId.eq(stage_id))
        .filter(deal::Column::DeletedAt.is_null())
        .count(db)
        .await?)
}

pub async fn deals_in_pipeline<C: ConnectionTrait>(db: &C, pipeline_id: Uuid) -> StoreResult<u64> {
    Ok(deal::Entity::find()
        .filter(deal::Column::PipelineId.eq(pipeline_id))
        .filter(deal::Column::DeletedAt.is_null())
        .count(db)
        .await?)
}

#[derive(Debug, Default)]
pub struct DealFilter {
    pub q: Option<String>,
    pub pipeline_id: Option<Uuid>,
    pub stage_id: Option<Uuid>,
    pub responsible_id: Option<Uuid>,
    pub company_id: Option<Uuid>,
    /// Kopecks, inclusive.
    pub amount_min: Option<i64>,
    pub amount_max: Option<i64>,
    pub close_date_from: Option<NaiveDate>,
    pub close_date_to: Option<NaiveDate>,
    pub updated_since: Option<DateTime<Utc>>,
}

pub fn deal_search_text(title: &str) -> String {
    title.to_lowercase()
}

/// `YYYY-MM-DD`, or a date after every real one for deals without an expected close date.
pub fn close_date_sort(d: Option<NaiveDate>) -> String {
    d.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "9999-12-31".to_owned())
}

pub fn deals_query(f: &DealFilter) -> Select<deal::Entity> {
    let mut q = deal::Entity::find().filter(deal::Column::DeletedAt.is_null());
    if let Some(text) = &f.q {
        q = q.filter(contains(deal::Column::SearchText, &text.to_lowercase()));
    }
    if let Some(v) = f.pipeline_id {
        q = q.filter(deal::Column::PipelineId.eq(v));
    }
    if let Some(v) = f.stage_id {
        q = q.filter(deal::Column::StageId.eq(v));
    }
    if let Some(v) = f.responsible_id {
        q = q.filter(deal::Column::ResponsibleId.eq(v));
    }
    if let Some(v) = f.company_id {
        q = q.filter(deal::Column::CompanyId.eq(v));
    }
    if let Some(v) = f.amount_min {
        q = q.filter(deal::Column::AmountMinor.gte(v));
    }
    if let Some(v) = f.amount_max {
        q = q.filter(deal::Column::AmountMinor.lte(v));
    }
    // Through the text sort key: the same comparison on both backends, and dateless deals
    // (9999-12-31) fall outside any real range.
    if let Some(d) = f.close_date_from {
        q = q.filter(deal::Column::CloseDateSort.gte(close_date_sort(Some(d))));
    }
    if let Some(d) = f.close_date_to {
        q = q.filter(deal::Column::CloseDateSort.lte(close_date_sort(Some(d))));
    }
    if let Some(t) = f.updated_since {
        q = q.filter(deal::Column::UpdatedAt.gte(t));
    }
    q
}

/// Writes one stage change of a deal; call in the transaction that moves it.
pub async fn record_stage_change<C: ConnectionTrait>(
    db: &C,
    deal_id: Uuid,
    from: Option<Uuid>,
    to: Uuid,
    actor: Option<Uuid>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    deal_stage_change::ActiveModel {
        id: Set(Uuid::now_v7()),
        deal_id: Set(deal_id),
        from_stage_id: Set(from),
        to_stage_id: Set(to),
        actor_id: Set(actor),
        changed_at: Set(at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The stage history of a deal, oldest first.
pub async fn stage_history<C: ConnectionTrait>(
    db: &C,
    deal_id: Uuid,
) -> StoreResult<Vec<deal_stage_change::Model>> {
    Ok(deal_stage_change::Entity::find()
        .filter(deal_stage_change::Column::DealId.eq(deal_id))
        .order_by_asc(deal_stage_change::Column::ChangedAt)
        .order_by_asc(deal_stage_change::Column::Id)
        .all(db)
        .await?)
}

/// Live product rows of a document, in the order they were added.
pub async fn rows_of<C: ConnectionTrait>(
    db: &C,
    document_type: &str,
    document_id: Uuid,
) -> StoreResult<Vec<product_row::Model>> {
    Ok(product_row::Entity::find()
        .filter(product_row::Column::DocumentType.eq(document_type))
        .filter(product_row::Column::DocumentId.eq(document_id))
        .filter(product_row::Column::DeletedAt.is_null())
        .order_by_asc(product_row::Column::Id)
        .all(db)
        .await?)
}

/// Stages by id, deleted ones included (a deal's history may name a stage deleted since).
pub async fn stages_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> StoreResult<Vec<pipeline_stage::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(pipeline_stage::Entity::find()
        .filter(pipeline_stage::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?)
}

/// Net, VAT and total of stored rows: sums of their rounded line amounts (DEAL-3). `None` when
/// a sum does not fit in kopecks.
pub fn totals_of(rows: &[product_row::Model]) -> Option<(i64, i64, i64)> {
    rows.iter().try_fold((0i64, 0i64, 0i64), |(n, v, t), r| {
        Some((
            n.checked_add(r.net_minor)?,
            v.checked_add(r.vat_minor)?,
            t.checked_add(r.total_minor)?,
        ))
    })
}

/// A row as priced (amounts, VAT rate and all), ready to be stored on another document: a copy
/// keeps what the client was offered, even if a VAT rate has changed since.
pub fn row_copy(
    r: &product_row::Model,
    document_type: &str,
    document_id: Uuid,
    at: DateTime<Utc>,
) -> product_row::Model {
    product_row::Model {
        id: Uuid::now_v7(),
        document_type: document_type.to_owned(),
        document_id,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
        ..r.clone()
    }
}

/// DEAL-2: a deal lists the numbers of its invoices. An invoice's number is added when the
/// invoice is issued and removed when it is cancelled; numbers typed in by users or imported
/// from elsewhere are left alone. A deleted deal is not touched.
///
/// The deal's row is locked here, so concurrent issues and cancellations for one deal queue
/// instead of losing a compare-and-set. An issue should take that lock earlier, before the
/// invoice's number, so that the numbering counter is never held while waiting for the deal.
pub async fn note_invoice_number<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    deal_id: Uuid,
    number: &str,
    listed: bool,
) -> StoreResult<()> {
    records::lock_row(db, "deals", deal_id).await?;
    let contacts = deal_contacts(db, deal_id).await?;
    let edited = records::update::<deal::Entity, _, _, std::convert::Infallible>(
        db,
        actor,
        deal_id,
        None,
        |d| {
            let mut numbers: Vec<String> =
                serde_json::from_str(&d.invoice_numbers).unwrap_or_default();
            let at = numbers.iter().position(|n| n == number);
            match (listed, at) {
                (true, None) => numbers.push(number.to_owned()),
                (false, Some(i)) => {
                    numbers.remove(i);
                }
                (true, Some(_)) | (false, None) => return Ok(()),
            }
            d.invoice_numbers = serde_json::to_string(&numbers).unwrap_or_else(|_| "[]".into());
            Ok(())
        },
        crate::ops::deals::public_with(&contacts),
    )
    .await;
    match edited {
        Ok(_) | Err(StoreError::NotFound) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The contacts of a deal, in the order they were given.
pub async fn deal_contacts<C: ConnectionTrait>(db: &C, deal_id: Uuid) -> StoreResult<Vec<Uuid>> {
    use crate::entity::deal_contact;
    Ok(deal_contact::Entity::find()
        .filter(deal_contact::Column::DealId.eq(deal_id))
        .order_by_asc(deal_contact::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|c| c.contact_id)
        .collect())
}

/// The contacts of each of `deal_ids`, in one query (a page of a list).
pub async fn contacts_of_deals<C: ConnectionTrait>(
    db: &C,
    deal_ids: &[Uuid],
) -> StoreResult<std::collections::HashMap<Uuid, Vec<Uuid>>> {
    use crate::entity::deal_contact;
    let mut out: std::collections::HashMap<Uuid, Vec<Uuid>> = Default::default();
    if deal_ids.is_empty() {
        return Ok(out);
    }
    let rows = deal_contact::Entity::find()
        .filter(deal_contact::Column::DealId.is_in(deal_ids.iter().copied()))
        .order_by_asc(deal_contact::Column::DealId)
        .order_by_asc(deal_contact::Column::Position)
        .all(db)
        .await?;
    for r in rows {
        out.entry(r.deal_id).or_default().push(r.contact_id);
    }
    Ok(out)
}

/// Replaces the contacts of a deal; call inside the deal's transaction.
pub async fn set_deal_contacts<C: ConnectionTrait>(
    db: &C,
    deal_id: Uuid,
    contact_ids: &[Uuid],
) -> StoreResult<()> {
    use crate::entity::deal_contact;
    use sea_orm::{ActiveModelTrait, Set};
    deal_contact::Entity::delete_many()
        .filter(deal_contact::Column::DealId.eq(deal_id))
        .exec(db)
        .await?;
    for (position, contact_id) in contact_ids.iter().enumerate() {
        deal_contact::ActiveModel {
            deal_id: Set(deal_id),
            contact_id: Set(*contact_id),
            position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}
