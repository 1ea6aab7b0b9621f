//! `/orders` (DOC-2): the client's order, from an accepted quote (the accepted version's rows)
//! or straight from a deal (the deal's rows).
//!
//! Status, by the pure state machine `sdelka_domain::order`: draft → `confirm-terms` →
//! awaiting_advance → (the advance payment arrives) → confirmed → `complete` → completed; or
//! `cancel` (with a reason) before completion. "Confirming obligations = the advance arrived":
//! no person confirms an order — the payments area calls
//! `sdelka_persistence::orders::record_payment` in its transaction whenever the money applied
//! to the order's invoices changes. Visibility and permissions are those of deals.

use crate::entity::{order, product_row};
use crate::orders::ORDER_ROWS;
use crate::pagination::{CursorValue, SortKey};
use crate::records;
use crate::sales::rows_of;
use crate::visibility::Scope;
use chrono::{DateTime, Utc};
use sdelka_domain::money::{Money, Percent};
use sdelka_domain::order::{OrderRefusal, OrderStatus};
use sdelka_domain::validation::RuleBroken;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{Error, ErrorCode, OpResult};

use super::documents::{DocumentRowView, VatSubtotalView, vat_by_rate};
use super::products::money_field;

/// An order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub id: Uuid,
    /// Given by the numbering templates (WF-NUM) when the terms are confirmed; `null` before.
    pub number: Option<String>,
    #[schema(example = "Видеонаблюдение для ТСЖ «Берёзка»")]
    pub title: String,
    pub deal_id: Uuid,
    /// The quote the order was made from, and which of its versions (the accepted one).
    pub quote_id: Option<Uuid>,
    pub quote_version: Option<i32>,
    pub organization_id: Uuid,
    pub legal_entity_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub responsible_id: Uuid,
    #[schema(example = "RUB")]
    pub currency: String,
    /// `draft`, `awaiting_advance`, `confirmed`, `completed` or `cancelled`.
    #[schema(example = "awaiting_advance")]
    pub status: String,
    /// Manual actions the status allows: `confirm-terms`, `complete`, `cancel`.
    pub allowed_actions: Vec<String>,
    #[schema(value_type = String, example = "50000.00")]
    pub net: Money,
    #[schema(value_type = String, example = "11000.00")]
    pub vat: Money,
    #[schema(value_type = String, example = "61000.00")]
    pub total: Money,
    /// What the client pays before the order is confirmed.
    #[schema(value_type = String, example = "18300.00")]
    pub advance_amount: Money,
    /// Set when the advance was asked as a share of the total.
    #[schema(value_type = Option<String>, example = "30.00")]
    pub advance_percent: Option<Percent>,
    /// Paid against the order so far, as the payments area reports it.
    #[schema(value_type = String, example = "0.00")]
    pub paid_amount: Money,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&order::Model> for OrderView {
    fn from(o: &order::Model) -> Self {
        OrderView {
            id: o.id,
            number: o.number.clone(),
            title: o.title.clone(),
            deal_id: o.deal_id,
            quote_id: o.quote_id,
            quote_version: o.quote_version,
            organization_id: o.organization_id,
            legal_entity_id: o.legal_entity_id,
            contact_id: o.contact_id,
            responsible_id: o.responsible_id,
            currency: o.currency.clone(),
            status: o.status.clone(),
            allowed_actions: OrderStatus::parse(&o.status)
                .map(|s| s.allowed().iter().map(|a| a.as_str().to_owned()).collect())
                .unwrap_or_default(),
            net: Money::from_minor(o.net_minor),
            vat: Money::from_minor(o.vat_minor),
            total: Money::from_minor(o.total_minor),
            advance_amount: Money::from_minor(o.advance_minor),
            advance_percent: o
                .advance_percent_hundredths
                .and_then(|h| Percent::from_hundredths(h).ok()),
            paid_amount: Money::from_minor(o.paid_minor),
            confirmed_at: o.confirmed_at,
            cancel_reason: o.cancel_reason.clone(),
            version: o.version,
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// An order with its rows and VAT subtotals.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDetail {
    #[serde(flatten)]
    pub order: OrderView,
    pub rows: Vec<DocumentRowView>,
    pub vat_by_rate: Vec<VatSubtotalView>,
}

/// A new order: from an accepted quote (`quote_id`) or from a deal (`deal_id`), not both.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    /// An accepted quote: the order copies its accepted version's rows, seller and buyer.
    pub quote_id: Option<Uuid>,
    /// A deal: the order copies its product rows.
    pub deal_id: Option<Uuid>,
    /// The seller; required with `deal_id`, taken from the quote otherwise.
    pub organization_id: Option<Uuid>,
    /// Default: the quote's, or the deal's.
    pub legal_entity_id: Option<Uuid>,
    /// Default: the quote's, or the deal's first contact.
    pub contact_id: Option<Uuid>,
    #[validate(length(min = 1, max = 500, message = "title must be 1 to 500 characters"))]
    pub title: Option<String>,
    /// The advance as money (at most the total). Default: the whole total.
    #[schema(example = "18300.00")]
    pub advance_amount: Option<String>,
    /// The advance as a percent of the total (0–100), rounded to kopecks. Not with
    /// `advance_amount`.
    #[schema(example = "30")]
    pub advance_percent: Option<String>,
}

/// What an action on an order may carry.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderActionRequest {
    /// `cancel`: why (required).
    #[validate(length(max = 2000))]
    #[schema(example = "Клиент отказался от заказа")]
    pub reason: Option<String>,
    /// A note for the timeline.
    #[validate(length(max = 2000))]
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderListFilter {
    pub deal_id: Option<Uuid>,
    pub quote_id: Option<Uuid>,
    pub status: Option<String>,
    pub responsible_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OrderActionPath {
    /// Order id.
    pub id: Uuid,
    /// `confirm-terms`, `complete` or `cancel`.
    pub action: String,
}

pub fn sorts() -> [SortKey<order::Entity>; 3] {
    [
        SortKey {
            name: "created_at",
            column: order::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: order::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
        SortKey {
            name: "total",
            column: order::Column::TotalMinor,
            key: |m| CursorValue::Int(m.total_minor),
        },
    ]
}

pub fn refusal(r: OrderRefusal) -> Error {
    match r {
        OrderRefusal::WrongState { .. } => Error::new(ErrorCode::InvalidTransition, r.to_string()),
        OrderRefusal::ReasonRequired => Error::field("reason", r.code(), r.to_string()),
    }
}

pub fn raced() -> Error {
    Error::new(
        ErrorCode::Conflict,
        "the order was changed by another request at the same moment; read it again",
    )
}

pub async fn visible_order<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    id: Uuid,
) -> OpResult<order::Model> {
    let o = records::find::<order::Entity, _>(db, id).await?;
    if !scope.allows(Some(o.responsible_id)) {
        return Err(Error::not_found());
    }
    Ok(o)
}

pub fn clean(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

pub async fn detail<C: ConnectionTrait>(db: &C, o: &order::Model) -> OpResult<OrderDetail> {
    let rows = rows_of(db, ORDER_ROWS, o.id).await?;
    Ok(detail_of(o, &rows))
}

pub fn detail_of(o: &order::Model, rows: &[product_row::Model]) -> OrderDetail {
    OrderDetail {
        order: OrderView::from(o),
        vat_by_rate: vat_by_rate(rows),
        rows: rows.iter().map(DocumentRowView::from).collect(),
    }
}

/// The advance as given: kopecks, or hundredths of a percent.
pub fn advance_fields(
    amount: Option<&str>,
    percent: Option<&str>,
) -> OpResult<(Option<i64>, Option<i64>)> {
    let amount = amount
        .map(|a| {
            money_field("advance_amount", a)
                .map_err(|v| Error::validation(v.into()))
                .and_then(|m| {
                    m.to_minor()
                        .map_err(|e| Error::field("advance_amount", e.code(), e.to_string()))
                })
        })
        .transpose()?;
    let percent = percent
        .map(|p| {
            Percent::parse(p)
                .map(|p| p.to_hundredths())
                .map_err(|e| Error::field("advance_percent", e.code(), e.to_string()))
        })
        .transpose()?;
    Ok((amount, percent))
}

/// Changes to a draft order.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrder {
    #[validate(length(min = 1, max = 500, message = "title must be 1 to 500 characters"))]
    pub title: Option<String>,
    pub legal_entity_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    /// A new advance as money (at most the total). Not with `advance_percent`.
    #[schema(example = "20000.00")]
    pub advance_amount: Option<String>,
    /// A new advance as a percent of the total.
    #[schema(example = "50")]
    pub advance_percent: Option<String>,
}
