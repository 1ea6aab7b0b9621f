//! What the sales documents made from a deal (quotes DOC-1, orders DOC-2) share: their rows as
//! the API shows them, totals with VAT per rate, and the checks of seller and buyer.

use crate::entity::{organization, product_row};
use chrono::{DateTime, NaiveDate, Utc};
use sdelka_domain::money::{Money, Percent, Quantity};
use sdelka_domain::product_row::{Discount, DocumentTotals, LineAmounts};
use sdelka_domain::vat::VatRate;
use sea_orm::ConnectionTrait;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::Caller;
use super::deals::{NewProductRow, priced_row, stored_discount};
use super::ensure_exists;
use super::{Error, OpResult};

/// A product row of a document, with its amounts (each rounded to kopecks per line).
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentRowView {
    pub id: Uuid,
    pub product_id: Option<Uuid>,
    #[schema(example = "Камера IP 4 Мп")]
    pub name: String,
    #[schema(value_type = String, example = "4.000")]
    pub quantity: Quantity,
    #[schema(example = "796")]
    pub unit_code: String,
    #[schema(example = "шт")]
    pub unit_name: String,
    #[schema(value_type = String, example = "12500.00")]
    pub price: Money,
    #[schema(value_type = Option<String>, example = "5.00")]
    pub discount_percent: Option<Percent>,
    #[schema(value_type = Option<String>)]
    pub discount_amount: Option<Money>,
    /// `22`, `20`, `10`, `0` or `none`.
    pub vat_rate: String,
    pub vat_rate_label: String,
    pub vat_included: bool,
    #[schema(value_type = String)]
    pub sum: Money,
    #[schema(value_type = String)]
    pub discount: Money,
    #[schema(value_type = String)]
    pub net: Money,
    #[schema(value_type = String)]
    pub vat: Money,
    #[schema(value_type = String)]
    pub total: Money,
}

impl From<&product_row::Model> for DocumentRowView {
    fn from(r: &product_row::Model) -> Self {
        let (discount_percent, discount_amount) = match stored_discount(r) {
            Some(Discount::Percent(p)) => (Some(p), None),
            Some(Discount::Amount(a)) => (None, Some(a)),
            None => (None, None),
        };
        DocumentRowView {
            id: r.id,
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
            vat_rate_label: label(&r.vat_rate),
            vat_included: r.vat_included,
            sum: Money::from_minor(r.sum_minor),
            discount: Money::from_minor(r.discount_minor),
            net: Money::from_minor(r.net_minor),
            vat: Money::from_minor(r.vat_minor),
            total: Money::from_minor(r.total_minor),
        }
    }
}

pub fn label(code: &str) -> String {
    VatRate::parse(code)
        .map(|v| v.label().to_owned())
        .unwrap_or_else(|_| code.to_owned())
}

/// The amounts of one VAT rate across the document.
#[derive(Debug, Serialize, ToSchema)]
pub struct VatSubtotalView {
    #[schema(example = "22")]
    pub vat_rate: String,
    #[schema(example = "22%")]
    pub vat_rate_label: String,
    #[schema(value_type = String, example = "50000.00")]
    pub net: Money,
    #[schema(value_type = String, example = "11000.00")]
    pub vat: Money,
    #[schema(value_type = String, example = "61000.00")]
    pub total: Money,
}

/// Totals per VAT rate of stored rows: sums of the rounded lines (DEAL-3), in the order 22,
/// 20, 10, 0, none.
pub fn vat_by_rate(rows: &[product_row::Model]) -> Vec<VatSubtotalView> {
    let lines: Vec<LineAmounts> = rows
        .iter()
        .filter_map(|r| {
            Some(LineAmounts {
                vat_rate: VatRate::parse(&r.vat_rate).ok()?,
                sum: Money::from_minor(r.sum_minor),
                discount: Money::from_minor(r.discount_minor),
                net: Money::from_minor(r.net_minor),
                vat: Money::from_minor(r.vat_minor),
                total: Money::from_minor(r.total_minor),
            })
        })
        .collect();
    DocumentTotals::of(&lines)
        .map(|t| {
            t.by_rate
                .into_iter()
                .map(|s| VatSubtotalView {
                    vat_rate: s.vat_rate.code().to_owned(),
                    vat_rate_label: s.vat_rate.label().to_owned(),
                    net: s.net,
                    vat: s.vat,
                    total: s.total,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Net, VAT and total of rows, or a 422 when they do not fit.
pub fn totals(rows: &[product_row::Model]) -> OpResult<(i64, i64, i64)> {
    crate::sales::totals_of(rows).ok_or_else(|| {
        Error::field(
            "rows",
            "out_of_range",
            "the document's total is too large to be stored exactly",
        )
    })
}

/// How many rows one document may have.
pub const MAX_ROWS: usize = 500;

/// Prices rows given in a request for a document dated `on` (the VAT rates follow it); a
/// refusal names the row (`rows[1].price`).
pub async fn priced_rows<C: ConnectionTrait>(
    txn: &C,
    rows: &[NewProductRow],
    currency: &str,
    document_type: &str,
    document_id: Uuid,
    on: NaiveDate,
) -> OpResult<Vec<product_row::Model>> {
    if rows.is_empty() || rows.len() > MAX_ROWS {
        return Err(Error::field(
            "rows",
            "length",
            format!("a document has 1 to {MAX_ROWS} rows"),
        ));
    }
    let mut out = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        match priced_row(txn, r, currency, document_type, document_id, on).await {
            Ok(row) => out.push(row),
            Err(mut e) => {
                for f in &mut e.errors {
                    f.field = format!("rows[{i}].{}", f.field);
                }
                return Err(e);
            }
        }
    }
    Ok(out)
}

/// The seller must be an own organisation; the buyer's legal entity and contact must be
/// records the caller may see. Each refusal is a 422 naming the field.
pub async fn check_parties<C: ConnectionTrait>(
    txn: &C,
    caller: &Caller,
    organization_id: Option<Uuid>,
    legal_entity_id: Option<Uuid>,
    contact_id: Option<Uuid>,
) -> OpResult<()> {
    if let Some(o) = organization_id {
        ensure_exists::<organization::Entity, _>(txn, "organization_id", o).await?;
    }
    if legal_entity_id.is_some() || contact_id.is_some() {
        let scope = caller.visibility(txn).await?;
        if let Some(id) = legal_entity_id {
            super::refs::legal_entity(txn, &scope, "legal_entity_id", id).await?;
        }
        if let Some(id) = contact_id {
            super::refs::contact(txn, &scope, "contact_id", id).await?;
        }
    }
    Ok(())
}

/// One recorded status change, as lists of transitions show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransitionView {
    pub action: String,
    pub from_status: String,
    pub to_status: String,
    pub actor_id: Option<Uuid>,
    pub comment: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

/// A document row's public representation: the item its document answers among its rows.
pub fn row_public(r: &product_row::Model) -> serde_json::Value {
    super::present(&DocumentRowView::from(r))
}

/// Copies rows as they are priced (amounts, VAT rate and all) onto another document made
/// today, each journalled as the row its document answers; a rate not valid today is a 422 on
/// `rows`.
pub async fn copy_rows<C: ConnectionTrait>(
    db: &C,
    actor: &crate::Actor,
    rows: &[product_row::Model],
    document_type: &str,
    document_id: Uuid,
) -> OpResult<Vec<product_row::Model>> {
    super::vat::recheck_rows(db, rows, "rows", super::products::today()).await?;
    let at = crate::journal::now();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let copy = crate::sales::row_copy(r, document_type, document_id, at);
        out.push(
            crate::records::create::<product_row::Entity, _>(db, actor, copy, row_public).await?,
        );
    }
    Ok(out)
}

/// Removes the live rows of a document (soft delete, journalled as rows).
pub async fn remove_rows<C: ConnectionTrait>(
    db: &C,
    actor: &crate::Actor,
    document_type: &str,
    document_id: Uuid,
) -> OpResult<()> {
    for r in crate::sales::rows_of(db, document_type, document_id).await? {
        crate::records::soft_delete::<product_row::Entity, _>(db, actor, r.id, None, row_public)
            .await?;
    }
    Ok(())
}
