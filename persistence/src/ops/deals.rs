//! `/deals` (DEAL-2) with their stage history and product rows (DEAL-3).
//!
//! Visibility follows the responsible user: a sales manager sees his own deals, a department
//! head those of his department, an admin all; any other deal is answered 404, in lists too.
//! Changing deals needs `admin`, `head` or `sales_manager`.
//!
//! The amount of a deal with product rows is the sum of the rows' totals, recomputed in the
//! transaction that changes a row; a manual amount is only accepted while there are no rows.
//! Company, legal entity and contacts are stored as ids without checks: the clients area
//! (CRM-1..3) owns those records.

use std::collections::BTreeSet;

use crate::entity::{deal, pipeline, pipeline_stage, product, product_row};
use crate::journal::now;
use crate::pagination::{CursorValue, SortKey, fetch_page};
use crate::records;
use crate::sales::{
    DEAL_ROWS, DealFilter, close_date_sort, contacts_of_deals, deal_contacts, deal_search_text,
    deals_query, default_pipeline, record_stage_change, rows_of, set_deal_contacts, stage_history,
    stages_by_ids, stages_of,
};
use crate::visibility::Scope;
use crate::{Actor, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use sdelka_domain::deal::{StageKind, check_stage_entry, seconds_in_stage};
use sdelka_domain::money::{Money, Percent, Quantity};
use sdelka_domain::process::EntityType;
use sdelka_domain::product_row::{Discount, ProductLine, UnitCode};
use sdelka_domain::validation::{FieldViolation, RuleBroken, Violations};
use sdelka_domain::vat::VatRate;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::dto::double_option;
use super::{Caller, Db, Error, ListPage, ListParams, OpResult, present};

use super::pipelines::kind_of;
use super::products::{currency, non_negative, today};

// ---------------------------------------------------------------------------------------------
// Wire types

/// A deal.
#[derive(Debug, Serialize, ToSchema)]
pub struct DealView {
    pub id: Uuid,
    #[schema(example = "Видеонаблюдение для ТСЖ «Берёзка»")]
    pub title: String,
    pub pipeline_id: Uuid,
    pub stage_id: Uuid,
    /// When the deal entered its current stage.
    pub stage_changed_at: DateTime<Utc>,
    pub company_id: Option<Uuid>,
    pub legal_entity_id: Option<Uuid>,
    pub contact_ids: Vec<Uuid>,
    pub responsible_id: Uuid,
    #[schema(example = "RUB")]
    pub currency: String,
    /// The sum of the product rows' totals, or the manual amount when there are no rows.
    #[schema(value_type = String, example = "125000.00")]
    pub amount: Money,
    pub expected_close_date: Option<NaiveDate>,
    pub loss_reason: Option<String>,
    pub order_number: Option<String>,
    /// Numbers of the deal's invoices: an issued invoice's number is added, a cancelled one's
    /// removed; numbers entered here by hand (e.g. from another system) stay as written.
    pub invoice_numbers: Vec<String>,
    /// Paid ÷ amount in percent, kept up to date by payments; read-only here.
    #[schema(value_type = String, example = "0.00")]
    pub payment_percent: String,
    pub source: Option<String>,
    pub external_id: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn json_list<T: serde::de::DeserializeOwned>(s: &str) -> Vec<T> {
    serde_json::from_str(s).unwrap_or_default()
}

pub fn json_text<T: Serialize>(v: &[T]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".to_owned())
}

impl DealView {
    /// The deal as the API shows it, with its contacts (`deal_contacts`).
    pub fn new(d: &deal::Model, contact_ids: Vec<Uuid>) -> Self {
        DealView {
            id: d.id,
            title: d.title.clone(),
            pipeline_id: d.pipeline_id,
            stage_id: d.stage_id,
            stage_changed_at: d.stage_changed_at,
            company_id: d.company_id,
            legal_entity_id: d.legal_entity_id,
            contact_ids,
            responsible_id: d.responsible_id,
            currency: d.currency.clone(),
            amount: Money::from_minor(d.amount_minor),
            expected_close_date: d.expected_close_date,
            loss_reason: d.loss_reason.clone(),
            order_number: d.order_number.clone(),
            invoice_numbers: json_list(&d.invoice_numbers),
            payment_percent: Percent::from_hundredths(d.payment_percent_hundredths)
                .map(|p| p.to_string())
                .unwrap_or_else(|_| "0.00".to_owned()),
            source: d.source.clone(),
            external_id: d.external_id.clone(),
            version: d.version,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDeal {
    #[validate(length(min = 1, max = 500, message = "title must be 1 to 500 characters"))]
    #[schema(example = "Видеонаблюдение для ТСЖ «Берёзка»")]
    pub title: String,
    /// Default: the default pipeline ("Продажи").
    pub pipeline_id: Option<Uuid>,
    /// Must belong to the pipeline. Default: the pipeline's first `open` stage.
    pub stage_id: Option<Uuid>,
    pub company_id: Option<Uuid>,
    pub legal_entity_id: Option<Uuid>,
    #[serde(default)]
    #[validate(length(max = 100))]
    pub contact_ids: Vec<Uuid>,
    /// Default: the caller. Must be a user whose deals the caller may see.
    pub responsible_id: Option<Uuid>,
    /// ISO 4217, default `RUB`.
    pub currency: Option<String>,
    /// Manual amount (decimal string); once the deal has product rows the amount is theirs.
    #[schema(value_type = Option<String>, example = "125000.00")]
    pub amount: Option<Money>,
    pub expected_close_date: Option<NaiveDate>,
    /// Required when the stage is of kind `lost`.
    #[validate(length(max = 2000))]
    pub loss_reason: Option<String>,
    #[validate(length(max = 100))]
    pub order_number: Option<String>,
    #[serde(default)]
    #[validate(length(max = 100))]
    pub invoice_numbers: Vec<String>,
    #[validate(length(max = 200))]
    pub source: Option<String>,
    #[validate(length(min = 1, max = 255))]
    pub external_id: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDeal {
    #[validate(length(min = 1, max = 500, message = "title must be 1 to 500 characters"))]
    pub title: Option<String>,
    /// Moving to another pipeline without `stage_id` puts the deal in its first open stage.
    pub pipeline_id: Option<Uuid>,
    /// A stage of the (new) pipeline; a `lost` stage needs `loss_reason`.
    pub stage_id: Option<Uuid>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub company_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub legal_entity_id: Option<Option<Uuid>>,
    #[validate(length(max = 100))]
    pub contact_ids: Option<Vec<Uuid>>,
    pub responsible_id: Option<Uuid>,
    pub currency: Option<String>,
    /// Manual amount; refused (422) while the deal has product rows.
    #[schema(value_type = Option<String>)]
    pub amount: Option<Money>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub expected_close_date: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub loss_reason: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub order_number: Option<Option<String>>,
    #[validate(length(max = 100))]
    pub invoice_numbers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub source: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DealListFilter {
    /// Case-insensitive part of the title (Cyrillic included).
    pub q: Option<String>,
    pub pipeline_id: Option<Uuid>,
    pub stage_id: Option<Uuid>,
    pub responsible_id: Option<Uuid>,
    pub company_id: Option<Uuid>,
    /// Smallest amount, inclusive (decimal string).
    #[param(example = "1000.00")]
    pub amount_min: Option<String>,
    /// Largest amount, inclusive (decimal string).
    pub amount_max: Option<String>,
    /// Expected close date from (inclusive); deals without a date are left out.
    pub close_date_from: Option<NaiveDate>,
    /// Expected close date to (inclusive).
    pub close_date_to: Option<NaiveDate>,
}

/// One stage change of a deal.
#[derive(Debug, Serialize, ToSchema)]
pub struct StageHistoryEntry {
    pub id: Uuid,
    /// Absent for the stage the deal was created in.
    pub from_stage_id: Option<Uuid>,
    pub to_stage_id: Uuid,
    pub to_stage_name: Option<String>,
    pub to_stage_kind: Option<String>,
    pub actor_id: Option<Uuid>,
    pub changed_at: DateTime<Utc>,
    /// When the deal left `to_stage`; absent while it is still there.
    pub left_at: Option<DateTime<Utc>>,
    /// Time spent in `to_stage` (until now for the current stage).
    pub seconds_in_stage: i64,
}

/// A product row with its computed amounts (each rounded to kopecks per line).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductRowView {
    pub id: Uuid,
    pub deal_id: Uuid,
    pub product_id: Option<Uuid>,
    #[schema(example = "Монтаж видеонаблюдения")]
    pub name: String,
    /// Decimal string, three decimals.
    #[schema(value_type = String, example = "1.500")]
    pub quantity: Quantity,
    #[schema(example = "356")]
    pub unit_code: String,
    #[schema(example = "ч")]
    pub unit_name: String,
    #[schema(value_type = String, example = "1500.00")]
    pub price: Money,
    /// Discount as given, when a percentage.
    #[schema(value_type = Option<String>, example = "10.00")]
    pub discount_percent: Option<Percent>,
    /// Discount as given, when an amount.
    #[schema(value_type = Option<String>)]
    pub discount_amount: Option<Money>,
    /// `22`, `20`, `10`, `0` or `none`.
    pub vat_rate: String,
    /// `22%` … `без НДС`.
    pub vat_rate_label: String,
    /// Whether `price` includes VAT.
    pub vat_included: bool,
    /// Quantity × price.
    #[schema(value_type = String)]
    pub sum: Money,
    /// The discount in money.
    #[schema(value_type = String)]
    pub discount: Money,
    /// Amount without VAT.
    #[schema(value_type = String)]
    pub net: Money,
    #[schema(value_type = String)]
    pub vat: Money,
    /// `net + vat`.
    #[schema(value_type = String)]
    pub total: Money,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&product_row::Model> for ProductRowView {
    fn from(r: &product_row::Model) -> Self {
        let (discount_percent, discount_amount) = match stored_discount(r) {
            Some(Discount::Percent(p)) => (Some(p), None),
            Some(Discount::Amount(a)) => (None, Some(a)),
            None => (None, None),
        };
        ProductRowView {
            id: r.id,
            deal_id: r.document_id,
            product_id: r.product_id,
            name: r.name.clone(),
            quantity: Quantity::from_thousandths(r.quantity_thousandths)
                .unwrap_or_else(|_| Quantity::one()),
            unit_code: r.unit_code.clone(),
            unit_name: r.unit_name.clone(),
            price: Money::from_minor(r.price_minor),
            discount_percent,
            discount_amount,
            vat_rate: r.vat_rate.clone(),
            vat_rate_label: VatRate::parse(&r.vat_rate)
                .map(|v| v.label().to_owned())
                .unwrap_or_else(|_| r.vat_rate.clone()),
            vat_included: r.vat_included,
            sum: Money::from_minor(r.sum_minor),
            discount: Money::from_minor(r.discount_minor),
            net: Money::from_minor(r.net_minor),
            vat: Money::from_minor(r.vat_minor),
            total: Money::from_minor(r.total_minor),
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new product row. With `product_id`, name, unit, price and VAT rate default to the
/// product's; without it, `name` and `price` are required.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProductRow {
    pub product_id: Option<Uuid>,
    #[validate(length(min = 1, max = 500, message = "name must be 1 to 500 characters"))]
    pub name: Option<String>,
    /// Decimal string, up to 3 decimals, greater than zero; default `1`.
    #[schema(value_type = Option<String>, example = "1.5")]
    pub quantity: Option<Quantity>,
    #[schema(value_type = Option<String>, example = "356")]
    pub unit_code: Option<UnitCode>,
    #[validate(length(min = 1, max = 20))]
    #[schema(example = "ч")]
    pub unit_name: Option<String>,
    /// Decimal string, at most 2 decimals.
    #[schema(value_type = Option<String>, example = "1500.00")]
    pub price: Option<Money>,
    /// 0–100, at most 2 decimals. Not together with `discount_amount`.
    #[schema(value_type = Option<String>, example = "10")]
    pub discount_percent: Option<Percent>,
    /// At most the line sum. Not together with `discount_percent`.
    #[schema(value_type = Option<String>)]
    pub discount_amount: Option<Money>,
    /// `22`, `20`, `10`, `0` or `none`; must be valid today (22 % from 2026, 20 % before).
    #[schema(value_type = Option<String>, example = "22")]
    pub vat_rate: Option<VatRate>,
    /// Whether `price` includes VAT (default false: VAT on top).
    pub vat_included: Option<bool>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProductRow {
    #[validate(length(min = 1, max = 500, message = "name must be 1 to 500 characters"))]
    pub name: Option<String>,
    #[schema(value_type = Option<String>)]
    pub quantity: Option<Quantity>,
    #[schema(value_type = Option<String>)]
    pub unit_code: Option<UnitCode>,
    #[validate(length(min = 1, max = 20))]
    pub unit_name: Option<String>,
    #[schema(value_type = Option<String>)]
    pub price: Option<Money>,
    /// Sets a percentage discount (replacing an amount); `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub discount_percent: Option<Option<Percent>>,
    /// Sets an amount discount (replacing a percentage); `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub discount_amount: Option<Option<Money>>,
    #[schema(value_type = Option<String>)]
    pub vat_rate: Option<VatRate>,
    pub vat_included: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProductRowPath {
    /// Deal id.
    pub id: Uuid,
    /// Product row id.
    pub row_id: Uuid,
}

// ---------------------------------------------------------------------------------------------
// Rules applied by several handlers

pub fn sorts() -> [SortKey<deal::Entity>; 4] {
    [
        SortKey {
            name: "created_at",
            column: deal::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: deal::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
        SortKey {
            name: "amount",
            column: deal::Column::AmountMinor,
            key: |m| CursorValue::Int(m.amount_minor),
        },
        SortKey {
            name: "expected_close_date",
            column: deal::Column::CloseDateSort,
            key: |m| CursorValue::Text(m.close_date_sort.clone()),
        },
    ]
}

pub fn violation<E: RuleBroken>(field: &str, e: E) -> FieldViolation {
    FieldViolation::new(field, e.code(), format!("{field}: {e}"))
}

/// An amount of the body in kopecks; it must not be negative.
pub fn amount_minor(field: &str, value: Money) -> Result<i64, Error> {
    non_negative(field, value)
        .map_err(|v| Error::validation(v.into()))?
        .to_minor()
        .map_err(|e| Error::validation(violation(field, e).into()))
}

/// An amount of a query string (filters are not JSON bodies and are parsed here).
fn query_amount_minor(field: &str, value: &str) -> Result<i64, Error> {
    let m = Money::parse(value).map_err(|e| Error::validation(violation(field, e).into()))?;
    amount_minor(field, m)
}

/// A deal the caller may see, or 404.
pub async fn visible_deal<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    id: Uuid,
) -> OpResult<deal::Model> {
    let d = records::find::<deal::Entity, _>(db, id).await?;
    if !scope.allows(Some(d.responsible_id)) {
        return Err(Error::not_found());
    }
    Ok(d)
}

/// The responsible user must exist and be one whose deals the caller may see: handing a deal
/// to someone outside one's scope would make it vanish from one's own lists.
pub async fn check_responsible<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    id: Uuid,
) -> OpResult<()> {
    super::refs::responsible(db, scope, "responsible_id", id).await
}

/// The client a new deal names: its company, legal entity (one of that company's) and
/// contacts must be records the caller may see.
pub async fn check_parties<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    company_id: Option<Uuid>,
    legal_entity_id: Option<Uuid>,
    contact_ids: &[Uuid],
) -> OpResult<()> {
    if let Some(c) = company_id {
        super::refs::company(db, scope, "company_id", c).await?;
    }
    if let Some(l) = legal_entity_id {
        super::refs::legal_entity_of(db, scope, "legal_entity_id", l, company_id).await?;
    }
    super::refs::contacts(db, scope, "contact_ids", contact_ids).await
}

/// Resolves the pipeline and stage a deal should stand in.
pub async fn resolve_stage<C: ConnectionTrait>(
    db: &C,
    pipeline_id: Option<Uuid>,
    stage_id: Option<Uuid>,
) -> OpResult<(pipeline::Model, pipeline_stage::Model)> {
    let p = match pipeline_id {
        Some(id) => match records::find::<pipeline::Entity, _>(db, id).await {
            Ok(p) => p,
            Err(StoreError::NotFound) => {
                return Err(Error::field(
                    "pipeline_id",
                    "not_found",
                    format!("pipeline_id {id} does not exist"),
                ));
            }
            Err(e) => return Err(e.into()),
        },
        None => default_pipeline(db).await?.ok_or_else(|| {
            Error::field(
                "pipeline_id",
                "required",
                "there is no default pipeline; name one",
            )
        })?,
    };
    let stages = stages_of(db, &[p.id]).await?;
    let stage = match stage_id {
        Some(sid) => stages.into_iter().find(|s| s.id == sid).ok_or_else(|| {
            Error::field(
                "stage_id",
                "not_in_pipeline",
                format!(
                    "stage_id {sid} is not a stage of pipeline {} «{}»",
                    p.id, p.name
                ),
            )
        })?,
        None => stages
            .into_iter()
            .find(|s| kind_of(s) == StageKind::Open)
            .ok_or_else(|| {
                Error::field(
                    "stage_id",
                    "required",
                    "the pipeline has no open stage; name a stage",
                )
            })?,
    };
    Ok((p, stage))
}

pub fn stage_entry(stage: &pipeline_stage::Model, loss_reason: Option<&str>) -> OpResult<()> {
    check_stage_entry(super::pipelines::stored_kind(stage)?, loss_reason)
        .map_err(|v| Error::validation(v.into()))
}

pub fn clean(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// Makes the deal's amount the sum of its rows and bumps its version, in the caller's
/// transaction.
pub async fn refresh_deal_amount<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    deal_id: Uuid,
) -> OpResult<deal::Model> {
    let rows = rows_of(db, DEAL_ROWS, deal_id).await?;
    let total = Money::sum(rows.iter().map(|r| Money::from_minor(r.total_minor)))
        .and_then(Money::to_minor)
        .map_err(|e| {
            Error::field(
                "price",
                "out_of_range",
                format!("the deal's total would be too large: {e}"),
            )
        })?;
    let contacts = deal_contacts(db, deal_id).await?;
    let updated = records::update::<deal::Entity, _, _, Error>(
        db,
        actor,
        deal_id,
        None,
        |d| {
            d.amount_minor = total;
            d.rows_revision += 1;
            Ok(())
        },
        public_with(&contacts),
    )
    .await??;
    Ok(updated)
}

pub fn stored_discount(r: &product_row::Model) -> Option<Discount> {
    match (r.discount_kind.as_deref(), r.discount_value) {
        (Some("percent"), Some(v)) => Percent::from_hundredths(v).ok().map(Discount::Percent),
        (Some("amount"), Some(v)) => Some(Discount::Amount(Money::from_minor(v))),
        _ => None,
    }
}

pub fn discount_from(
    percent: Option<Percent>,
    amount: Option<Money>,
    v: &mut Violations,
) -> Option<Discount> {
    match (percent, amount) {
        (Some(_), Some(_)) => {
            v.push(FieldViolation::new(
                "discount_amount",
                "conflicting_fields",
                "give either discount_percent or discount_amount, not both",
            ));
            None
        }
        (Some(p), None) => Some(Discount::Percent(p)),
        (None, Some(a)) => match non_negative("discount_amount", a) {
            Ok(a) => Some(Discount::Amount(a)),
            Err(e) => {
                v.push(e);
                None
            }
        },
        (None, None) => None,
    }
}

/// Prices a line and writes its amounts into the row model.
pub fn price_row(
    row: &mut product_row::Model,
    quantity: Quantity,
    price: Money,
    discount: Option<Discount>,
    vat_rate: VatRate,
    vat_included: bool,
) -> OpResult<()> {
    let line = ProductLine::new(quantity, price, discount, vat_rate, vat_included)
        .map_err(|e| Error::validation(e.violation().into()))?;
    let a = line
        .amounts()
        .map_err(|e| Error::validation(e.violation().into()))?;
    let minor = |m: Money| {
        m.to_minor()
            .map_err(|e| Error::validation(violation("price", e).into()))
    };
    row.quantity_thousandths = quantity.to_thousandths();
    row.price_minor = minor(price)?;
    (row.discount_kind, row.discount_value) = match discount {
        Some(Discount::Percent(p)) => (Some("percent".into()), Some(p.to_hundredths())),
        Some(Discount::Amount(m)) => (Some("amount".into()), Some(minor(m)?)),
        None => (None, None),
    };
    row.vat_rate = vat_rate.code().to_owned();
    row.vat_included = vat_included;
    row.sum_minor = minor(a.sum)?;
    row.discount_minor = minor(a.discount)?;
    row.net_minor = minor(a.net)?;
    row.vat_minor = minor(a.vat)?;
    row.total_minor = minor(a.total)?;
    Ok(())
}

/// The date the VAT rates of a deal's rows follow: its expected close date, or today.
pub fn deal_vat_date(d: &deal::Model) -> NaiveDate {
    d.expected_close_date.unwrap_or_else(today)
}

/// What a new deal is made of, already parsed (the API's create and a lead's conversion).
pub struct NewDeal {
    pub title: String,
    pub pipeline_id: Option<Uuid>,
    pub stage_id: Option<Uuid>,
    pub company_id: Option<Uuid>,
    pub legal_entity_id: Option<Uuid>,
    pub contact_ids: Vec<Uuid>,
    pub responsible_id: Option<Uuid>,
    pub currency: String,
    pub amount_minor: i64,
    pub expected_close_date: Option<NaiveDate>,
    pub loss_reason: Option<String>,
    pub order_number: Option<String>,
    pub invoice_numbers: Vec<String>,
    pub source: Option<String>,
    pub external_id: Option<String>,
}

/// Stores a new deal in its first (or the given) stage and records that stage entry; call
/// inside the caller's transaction.
pub async fn open_deal<
    C: ConnectionTrait + sea_orm::TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
>(
    txn: &C,
    caller: &Caller,
    req: NewDeal,
) -> OpResult<deal::Model> {
    let title = req.title;
    let actor = caller.actor();
    let scope = caller.visibility(txn).await?;
    let responsible_id = req.responsible_id.unwrap_or(caller.user_id);
    check_responsible(txn, &scope, responsible_id).await?;
    let (pipeline, stage) = resolve_stage(txn, req.pipeline_id, req.stage_id).await?;
    let loss_reason = clean(&req.loss_reason);
    stage_entry(&stage, loss_reason.as_deref())?;
    let at = now();
    let contact_ids: Vec<Uuid> = req
        .contact_ids
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let model = deal::Model {
        id: Uuid::now_v7(),
        search_text: deal_search_text(&title),
        title,
        pipeline_id: pipeline.id,
        stage_id: stage.id,
        stage_changed_at: at,
        company_id: req.company_id,
        legal_entity_id: req.legal_entity_id,
        responsible_id,
        currency: req.currency,
        amount_minor: req.amount_minor,
        expected_close_date: req.expected_close_date,
        close_date_sort: close_date_sort(req.expected_close_date),
        loss_reason,
        order_number: clean(&req.order_number),
        invoice_numbers: json_text(&req.invoice_numbers),
        payment_percent_hundredths: 0,
        source: clean(&req.source),
        external_id: req.external_id,
        rows_revision: 0,
        contacts_revision: 0,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    check_parties(
        txn,
        &scope,
        req.company_id,
        req.legal_entity_id,
        &contact_ids,
    )
    .await?;
    let saved =
        records::create::<deal::Entity, _>(txn, &actor, model, public_with(&contact_ids)).await?;
    set_deal_contacts(txn, saved.id, &contact_ids).await?;
    record_stage_change(txn, saved.id, None, stage.id, actor.user_id, at).await?;
    // The deal's default process starts with it and hands out its first tasks.
    super::processes::on_entity_created(txn, &actor, EntityType::Deal, saved.id).await?;
    Ok(saved)
}

/// A new product row of a sales document dated `on`, priced and checked but not yet stored.
/// With `product_id`, name, unit, price and VAT rate default to the product's. The VAT rate
/// must be valid on `on`, and defaults from it. Shared by deals and the documents made from
/// them (quotes, orders, invoices).
pub async fn priced_row<C: ConnectionTrait>(
    txn: &C,
    req: &NewProductRow,
    currency: &str,
    document_type: &str,
    document_id: Uuid,
    on: NaiveDate,
) -> OpResult<product_row::Model> {
    let product = match req.product_id {
        Some(pid) => match records::find::<product::Entity, _>(txn, pid).await {
            Ok(p) => Some(p),
            Err(StoreError::NotFound) => {
                return Err(Error::field(
                    "product_id",
                    "not_found",
                    format!("product_id {pid} does not exist"),
                ));
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };

    let mut v = Violations::new();
    let name = clean(&req.name).or_else(|| product.as_ref().map(|p| p.name.clone()));
    if name.is_none() {
        v.push(FieldViolation::new(
            "name",
            "required",
            "name is required for a row without product_id",
        ));
    }
    let quantity = Some(req.quantity.unwrap_or_else(Quantity::one));
    let unit_code = match (&req.unit_code, &product) {
        (Some(c), _) => Some(c.as_str().to_owned()),
        (None, Some(p)) => Some(p.unit_code.clone()),
        (None, None) => Some("796".to_owned()),
    };
    let unit_name = clean(&req.unit_name)
        .or_else(|| {
            product
                .as_ref()
                .filter(|_| req.unit_code.is_none())
                .map(|p| p.unit_name.clone())
        })
        .unwrap_or_else(|| "шт".to_owned());
    let price = match (&req.price, &product) {
        (Some(p), _) => non_negative("price", *p).map_err(|e| v.push(e)).ok(),
        (None, Some(p)) if p.currency == currency => Some(Money::from_minor(p.base_price_minor)),
        (None, Some(p)) => {
            v.push(FieldViolation::new(
                "price",
                "required",
                format!(
                    "the product is priced in {}, the document in {}: give the price",
                    p.currency, currency
                ),
            ));
            None
        }
        (None, None) => {
            v.push(FieldViolation::new(
                "price",
                "required",
                "price is required for a row without product_id",
            ));
            None
        }
    };
    let discount = discount_from(req.discount_percent, req.discount_amount, &mut v);
    let schedule = super::vat::schedule(txn).await?;
    let vat_rate = match (&req.vat_rate, &product) {
        (Some(r), _) => Some(*r),
        (None, p) => {
            let product_rate = p.as_ref().and_then(|p| VatRate::parse(&p.vat_rate).ok());
            Some(super::vat::default_rate(
                &schedule,
                "vat_rate",
                product_rate,
                on,
            )?)
        }
    };
    let (Some(name), Some(quantity), Some(unit_code), Some(price), Some(vat_rate), true) =
        (name, quantity, unit_code, price, vat_rate, v.is_empty())
    else {
        return Err(v.into());
    };
    let vat_rate = super::vat::check(&schedule, "vat_rate", vat_rate, on)?;
    let at = now();
    let mut row = product_row::Model {
        id: Uuid::now_v7(),
        document_type: document_type.to_owned(),
        document_id,
        product_id: product.as_ref().map(|p| p.id),
        name,
        quantity_thousandths: 0,
        unit_code,
        unit_name,
        price_minor: 0,
        discount_kind: None,
        discount_value: None,
        vat_rate: String::new(),
        vat_included: false,
        sum_minor: 0,
        discount_minor: 0,
        net_minor: 0,
        vat_minor: 0,
        total_minor: 0,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    price_row(
        &mut row,
        quantity,
        price,
        discount,
        vat_rate,
        req.vat_included.unwrap_or(false),
    )?;
    Ok(row)
}

pub async fn row_of_deal<C: ConnectionTrait>(
    db: &C,
    deal_id: Uuid,
    row_id: Uuid,
) -> OpResult<product_row::Model> {
    let row = records::find::<product_row::Entity, _>(db, row_id).await?;
    if row.document_type != DEAL_ROWS || row.document_id != deal_id {
        return Err(Error::not_found());
    }
    Ok(row)
}

// ---------------------------------------------------------------------------------------------
// Operations

/// The presenter of a deal whose contacts are `contacts`.
pub fn public_with(contacts: &[Uuid]) -> impl Fn(&deal::Model) -> serde_json::Value + '_ {
    move |d| present(&DealView::new(d, contacts.to_vec()))
}

/// A deal's view, its contacts read in `db`.
pub async fn view_of<C: ConnectionTrait>(db: &C, d: &deal::Model) -> OpResult<DealView> {
    Ok(DealView::new(d, deal_contacts(db, d.id).await?))
}

fn row_public(r: &product_row::Model) -> serde_json::Value {
    present(&ProductRowView::from(r))
}

/// The deals the caller may see, a page at a time.
pub async fn list_deals(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
    f: DealListFilter,
) -> OpResult<ListPage<DealView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let amount_min = f
        .amount_min
        .as_deref()
        .map(|a| query_amount_minor("amount_min", a))
        .transpose()?;
    let amount_max = f
        .amount_max
        .as_deref()
        .map(|a| query_amount_minor("amount_max", a))
        .transpose()?;
    let scope = caller.visibility(&db).await?;
    let query = scope.apply(
        deals_query(&DealFilter {
            q: f.q.clone(),
            pipeline_id: f.pipeline_id,
            stage_id: f.stage_id,
            responsible_id: f.responsible_id,
            company_id: f.company_id,
            amount_min,
            amount_max,
            close_date_from: f.close_date_from,
            close_date_to: f.close_date_to,
            updated_since: page.updated_since,
        }),
        deal::Column::ResponsibleId,
    );
    let query = crate::search::narrow(query, &db, "deals", f.q.as_deref()).await?;
    let page = fetch_page(&db, query, req, deal::Column::Id, |m| m.id).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|d| d.id).collect();
    let contacts = contacts_of_deals(&db, &ids).await?;
    Ok(ListPage::of(page, |m| {
        DealView::new(m, contacts.get(&m.id).cloned().unwrap_or_default())
    }))
}

/// Opens a deal: in the default pipeline unless one is named, in its first open stage unless
/// a stage is named; the caller is responsible unless he names another he sees.
pub async fn create_deal(db: Db<'_>, caller: &Caller, req: CreateDeal) -> OpResult<DealView> {
    let title = req.title.trim().to_owned();
    if title.is_empty() {
        return Err(Error::field("title", "required", "title must not be blank"));
    }
    let currency =
        currency("currency", req.currency.as_deref()).map_err(|v| Error::validation(v.into()))?;
    let amount = match req.amount {
        Some(a) => amount_minor("amount", a)?,
        None => 0,
    };
    let txn = db.begin().await?;
    let saved = open_deal(
        &txn,
        caller,
        NewDeal {
            title,
            pipeline_id: req.pipeline_id,
            stage_id: req.stage_id,
            company_id: req.company_id,
            legal_entity_id: req.legal_entity_id,
            contact_ids: req.contact_ids,
            responsible_id: req.responsible_id,
            currency,
            amount_minor: amount,
            expected_close_date: req.expected_close_date,
            loss_reason: req.loss_reason,
            order_number: req.order_number,
            invoice_numbers: req.invoice_numbers,
            source: req.source,
            external_id: req.external_id,
        },
    )
    .await?;
    let view = view_of(&txn, &saved).await?;
    txn.commit().await?;
    Ok(view)
}

/// One deal the caller may see.
pub async fn get_deal(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<DealView> {
    let scope = caller.visibility(&db).await?;
    let d = visible_deal(&db, &scope, id).await?;
    view_of(&db, &d).await
}

/// Changes a deal as one compare-and-set on its version. A stage change is recorded in the
/// stage history; a `lost` stage needs a loss reason; a manual amount is refused while the
/// deal has product rows.
pub async fn update_deal(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: UpdateDeal,
) -> OpResult<DealView> {
    let actor = caller.actor();
    let mut v = Violations::new();
    if req.title.as_deref().is_some_and(|t| t.trim().is_empty()) {
        v.push(FieldViolation::new(
            "title",
            "required",
            "title must not be blank",
        ));
    }
    let currency = req
        .currency
        .as_deref()
        .map(|c| currency("currency", Some(c)))
        .transpose()
        .map_err(|e| v.push(e))
        .ok()
        .flatten();
    if !v.is_empty() {
        return Err(v.into());
    }
    let amount = req.amount.map(|a| amount_minor("amount", a)).transpose()?;

    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let current = visible_deal(&txn, &scope, id).await?;
    if let Some(r) = req.responsible_id
        && r != current.responsible_id
    {
        check_responsible(&txn, &scope, r).await?;
    }
    if amount.is_some() && !rows_of(&txn, DEAL_ROWS, id).await?.is_empty() {
        return Err(Error::field(
            "amount",
            "computed_from_rows",
            "the deal has product rows: its amount is their sum; change the rows instead",
        ));
    }
    // CAT-2: the rows' VAT rates follow the deal's date; a new date checks them again.
    if let Some(e) = req.expected_close_date
        && e != current.expected_close_date
    {
        let on = e.unwrap_or_else(today);
        let rows = rows_of(&txn, DEAL_ROWS, id).await?;
        super::vat::recheck_rows(&txn, &rows, "expected_close_date", on).await?;
    }
    // Where the deal will stand: a new pipeline without a stage means its first open stage.
    let target = match (req.pipeline_id, req.stage_id) {
        (None, None) => None,
        (Some(p), None) if p == current.pipeline_id => None,
        (Some(p), s) => Some(resolve_stage(&txn, Some(p), s).await?),
        (None, Some(s)) => Some(resolve_stage(&txn, Some(current.pipeline_id), Some(s)).await?),
    };
    let loss_reason = match &req.loss_reason {
        Some(r) => clean(r),
        None => current.loss_reason.clone(),
    };
    let moved_to = match &target {
        Some((_, stage)) if stage.id != current.stage_id => {
            stage_entry(stage, loss_reason.as_deref())?;
            Some(stage.id)
        }
        _ => None,
    };
    let at = now();
    let old_contacts = deal_contacts(&txn, id).await?;
    let new_contacts: Option<Vec<Uuid>> = req.contact_ids.as_ref().map(|c| {
        c.iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    });
    // Only what the request names is checked (a colleague's contact already on the deal
    // stays), and the legal entity against the company the deal will have.
    if let Some(Some(c)) = req.company_id
        && Some(c) != current.company_id
    {
        super::refs::company(&txn, &scope, "company_id", c).await?;
    }
    let company_after = req.company_id.unwrap_or(current.company_id);
    match req.legal_entity_id {
        Some(Some(l)) if Some(l) != current.legal_entity_id => {
            super::refs::legal_entity_of(&txn, &scope, "legal_entity_id", l, company_after).await?;
        }
        _ => {
            if let (Some(l), Some(c)) = (
                req.legal_entity_id.unwrap_or(current.legal_entity_id),
                company_after,
            ) && req.company_id.is_some()
            {
                let le = records::find::<crate::entity::legal_entity::Entity, _>(&txn, l).await;
                if le.is_ok_and(|le| le.company_id != c) {
                    return Err(Error::field(
                        "legal_entity_id",
                        "not_of_company",
                        format!("legal entity {l} is not one of company {c}"),
                    ));
                }
            }
        }
    }
    if let Some(n) = &new_contacts {
        let added: Vec<Uuid> = n
            .iter()
            .copied()
            .filter(|c| !old_contacts.contains(c))
            .collect();
        for (i, c) in n.iter().enumerate() {
            if added.contains(c) {
                super::refs::contact(&txn, &scope, &format!("contact_ids[{i}]"), *c).await?;
            }
        }
    }
    let read_version = current.version;
    let facts_before = super::processes::facts_of(&txn, EntityType::Deal, id).await?;
    let updated = records::update::<deal::Entity, _, _, Error>(
        &txn,
        &actor,
        id,
        if_match,
        |d| {
            if let Some(t) = &req.title {
                d.title = t.trim().to_owned();
                d.search_text = deal_search_text(&d.title);
            }
            if let Some((p, s)) = &target {
                d.pipeline_id = p.id;
                d.stage_id = s.id;
            }
            if moved_to.is_some() {
                d.stage_changed_at = at;
            }
            if let Some(c) = req.company_id {
                d.company_id = c;
            }
            if let Some(l) = req.legal_entity_id {
                d.legal_entity_id = l;
            }
            if new_contacts.as_ref().is_some_and(|n| *n != old_contacts) {
                d.contacts_revision += 1;
            }
            if let Some(r) = req.responsible_id {
                d.responsible_id = r;
            }
            if let Some(c) = &currency {
                d.currency = c.clone();
            }
            if let Some(a) = amount {
                d.amount_minor = a;
            }
            if let Some(e) = req.expected_close_date {
                d.expected_close_date = e;
                d.close_date_sort = close_date_sort(e);
            }
            d.loss_reason = loss_reason.clone();
            if let Some(o) = &req.order_number {
                d.order_number = clean(o);
            }
            if let Some(i) = &req.invoice_numbers {
                d.invoice_numbers = json_text(i);
            }
            if let Some(s) = &req.source {
                d.source = clean(s);
            }
            if let Some(e) = &req.external_id {
                d.external_id = e.clone();
            }
            Ok(())
        },
        |d| {
            // The record as read shows the old contacts; the written one the new.
            let contacts = match &new_contacts {
                Some(n) if d.version != read_version => n.clone(),
                _ => old_contacts.clone(),
            };
            present(&DealView::new(d, contacts))
        },
    )
    .await??;
    if let Some(n) = &new_contacts
        && *n != old_contacts
    {
        set_deal_contacts(&txn, id, n).await?;
    }
    if let Some(to) = moved_to {
        record_stage_change(&txn, id, Some(current.stage_id), to, actor.user_id, at).await?;
    }
    super::processes::on_entity_changed(&txn, &actor, EntityType::Deal, id, &facts_before).await?;
    let view = view_of(&txn, &updated).await?;
    txn.commit().await?;
    Ok(view)
}

/// Deletes a deal (kept for the audit trail).
pub async fn delete_deal(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
) -> OpResult<()> {
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    visible_deal(&txn, &scope, id).await?;
    let contacts = deal_contacts(&txn, id).await?;
    records::soft_delete::<deal::Entity, _>(
        &txn,
        &caller.actor(),
        id,
        if_match,
        public_with(&contacts),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The stages a deal went through, oldest first, with the time spent in each (the last entry
/// is the current stage, counted until now).
pub async fn deal_stage_history(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
) -> OpResult<Vec<StageHistoryEntry>> {
    let scope = caller.visibility(&db).await?;
    let d = visible_deal(&db, &scope, id).await?;
    let changes = stage_history(&db, d.id).await?;
    let ids: Vec<Uuid> = changes
        .iter()
        .map(|c| c.to_stage_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let stages = stages_by_ids(&db, &ids).await?;
    let at = now();
    Ok(changes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let left_at = changes.get(i + 1).map(|n| n.changed_at);
            let stage = stages.iter().find(|s| s.id == c.to_stage_id);
            StageHistoryEntry {
                id: c.id,
                from_stage_id: c.from_stage_id,
                to_stage_id: c.to_stage_id,
                to_stage_name: stage.map(|s| s.name.clone()),
                to_stage_kind: stage.map(|s| kind_of(s).as_str().to_owned()),
                actor_id: c.actor_id,
                changed_at: c.changed_at,
                left_at,
                seconds_in_stage: seconds_in_stage(c.changed_at, left_at, at),
            }
        })
        .collect())
}

/// The product rows of a deal the caller may see, in the order they were added.
pub async fn list_product_rows(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
) -> OpResult<Vec<ProductRowView>> {
    let scope = caller.visibility(&db).await?;
    let d = visible_deal(&db, &scope, id).await?;
    let rows = rows_of(&db, DEAL_ROWS, d.id).await?;
    Ok(rows.iter().map(ProductRowView::from).collect())
}

/// Adds a product row; the deal's amount becomes the sum of its rows in the same transaction.
pub async fn add_product_row(
    db: Db<'_>,
    caller: &Caller,
    deal_id: Uuid,
    req: NewProductRow,
) -> OpResult<ProductRowView> {
    let actor = caller.actor();
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let d = visible_deal(&txn, &scope, deal_id).await?;
    let saved = add_deal_row(&txn, &actor, &d, &req).await?;
    txn.commit().await?;
    Ok(ProductRowView::from(&saved))
}

/// Adds a product row to a deal in the caller's transaction, journalled, and makes the deal's
/// amount the sum of its rows (what `POST /deals/{id}/product-rows` does, and task billing).
pub async fn add_deal_row<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    d: &deal::Model,
    req: &NewProductRow,
) -> OpResult<product_row::Model> {
    let row = priced_row(txn, req, &d.currency, DEAL_ROWS, d.id, deal_vat_date(d)).await?;
    let saved = records::create::<product_row::Entity, _>(txn, actor, row, row_public).await?;
    refresh_deal_amount(txn, actor, d.id).await?;
    Ok(saved)
}

/// Changes a product row and recomputes it and the deal's amount in one transaction.
pub async fn update_product_row(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    row_id: Uuid,
    if_match: Option<i32>,
    req: UpdateProductRow,
) -> OpResult<ProductRowView> {
    let actor = caller.actor();
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let deal = visible_deal(&txn, &scope, id).await?;
    let current = row_of_deal(&txn, id, row_id).await?;
    let saved = change_deal_row(&txn, &actor, &deal, &current, if_match, &req).await?;
    txn.commit().await?;
    Ok(ProductRowView::from(&saved))
}

/// Changes a product row of a deal in the caller's transaction as one compare-and-set,
/// reprices it and makes the deal's amount the sum of its rows (what
/// `PATCH /deals/{id}/product-rows/{row_id}` does, and task billing).
pub async fn change_deal_row<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    deal: &deal::Model,
    current: &product_row::Model,
    if_match: Option<i32>,
    req: &UpdateProductRow,
) -> OpResult<product_row::Model> {
    let (id, row_id) = (deal.id, current.id);
    let mut v = Violations::new();
    let quantity = match req.quantity {
        Some(q) => Some(q),
        None => Quantity::from_thousandths(current.quantity_thousandths).ok(),
    };
    let price = match req.price {
        Some(p) => non_negative("price", p).map_err(|e| v.push(e)).ok(),
        None => Some(Money::from_minor(current.price_minor)),
    };
    let discount = match (&req.discount_percent, &req.discount_amount) {
        (None, None) => stored_discount(current),
        (p, a) => discount_from(p.flatten(), a.flatten(), &mut v),
    };
    let vat_rate = Some(req.vat_rate);
    let unit_code = match &req.unit_code {
        Some(c) => Some(c.as_str().to_owned()),
        None => Some(current.unit_code.clone()),
    };
    if req.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        v.push(FieldViolation::new(
            "name",
            "required",
            "name must not be blank",
        ));
    }
    let (Some(quantity), Some(price), Some(vat_rate), Some(unit_code), true) =
        (quantity, price, vat_rate, unit_code, v.is_empty())
    else {
        return Err(v.into());
    };
    // A newly given rate must be valid on the deal's date; an unchanged one stays what it was
    // priced with.
    let vat_rate = match vat_rate {
        Some(r) => {
            let schedule = super::vat::schedule(txn).await?;
            super::vat::check(&schedule, "vat_rate", r, deal_vat_date(deal))?
        }
        None => VatRate::parse(&current.vat_rate)
            .map_err(|e| Error::validation(violation("vat_rate", e).into()))?,
    };
    let vat_included = req.vat_included.unwrap_or(current.vat_included);
    let saved = records::update::<product_row::Entity, _, _, Error>(
        txn,
        actor,
        row_id,
        if_match,
        |r| {
            if let Some(n) = &req.name {
                r.name = n.trim().to_owned();
            }
            r.unit_code = unit_code.clone();
            if let Some(u) = &req.unit_name {
                r.unit_name = u.trim().to_owned();
            }
            price_row(r, quantity, price, discount, vat_rate, vat_included)
        },
        row_public,
    )
    .await??;
    refresh_deal_amount(txn, actor, id).await?;
    Ok(saved)
}

/// Removes a product row; the deal's amount becomes the sum of the remaining rows.
pub async fn delete_product_row(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    row_id: Uuid,
    if_match: Option<i32>,
) -> OpResult<()> {
    let actor = caller.actor();
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    visible_deal(&txn, &scope, id).await?;
    row_of_deal(&txn, id, row_id).await?;
    records::soft_delete::<product_row::Entity, _>(&txn, &actor, row_id, if_match, row_public)
        .await?;
    refresh_deal_amount(&txn, &actor, id).await?;
    txn.commit().await?;
    Ok(())
}
