//! `/invoices` (DOC-3): customer invoices ("счёт на оплату").
//!
//! A draft is made from a deal's product rows or from rows given; it is editable until it is
//! issued, which takes a number from the organisation's numbering template (WF-NUM) in the
//! issuing transaction. A cancelled issued invoice keeps its number (a recorded void).
//! Payment statuses follow from the payments applied (`/payments`).
//!
//! Visibility follows the responsible user like deals (responsible / department / admin);
//! accountants see every invoice, as they register the money for all of them.

use crate::entity::{invoice, invoice_transition, product_row};
use crate::journal::{self, Change, now};
use crate::pagination::{CursorValue, SortKey};
use crate::records::{self, snapshot};
use crate::sales::{row_copy, rows_of};
use crate::visibility::Scope;
use crate::{Actor, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use sdelka_domain::amount_in_words::rubles_in_words;
use sdelka_domain::customer_invoice::{InvoiceAction, InvoiceRefusal, InvoiceStatus};
use sdelka_domain::money::Money;
use sdelka_domain::role::Role;
use sdelka_domain::validation::{FieldViolation, Violations};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::Caller;
use super::dto::double_option;
use super::{Error, ErrorCode, OpResult};

use super::deals::{NewProductRow, priced_row};
use super::documents::{DocumentRowView, VatSubtotalView, vat_by_rate};

/// The document type of invoice rows in `product_rows` and of invoice numbering templates.
pub const INVOICE: &str = "invoice";

// ---------------------------------------------------------------------------------------------
// Wire types

/// A customer invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceView {
    pub id: Uuid,
    /// `draft`, `issued`, `partially_paid`, `paid` or `cancelled`.
    #[schema(example = "issued")]
    pub status: String,
    /// Actions the current status allows.
    pub allowed_actions: Vec<String>,
    /// Absent on drafts; kept on a cancelled invoice (void).
    #[schema(example = "СЧ-RM/2612-00042")]
    pub number: Option<String>,
    pub organization_id: Uuid,
    pub bank_account_id: Option<Uuid>,
    pub buyer_legal_entity_id: Uuid,
    pub deal_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub responsible_id: Uuid,
    #[schema(example = "2026-12-28")]
    pub date: NaiveDate,
    pub due_date: Option<NaiveDate>,
    #[schema(example = "RUB")]
    pub currency: String,
    #[schema(value_type = String, example = "1020.90")]
    pub net: Money,
    #[schema(value_type = String, example = "224.60")]
    pub vat: Money,
    #[schema(value_type = String, example = "1245.50")]
    pub total: Money,
    #[schema(example = "одна тысяча двести сорок пять рублей 50 копеек")]
    pub total_in_words: String,
    #[schema(value_type = String, example = "0.00")]
    pub paid: Money,
    #[schema(value_type = String, example = "1245.50")]
    pub outstanding: Money,
    pub vat_by_rate: Vec<VatSubtotalView>,
    /// Rows, totals and VAT as on deals and quotes (DEAL-3).
    pub lines: Vec<DocumentRowView>,
    pub comment: Option<String>,
    pub issued_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn status_of(i: &invoice::Model) -> OpResult<InvoiceStatus> {
    InvoiceStatus::parse(&i.status)
        .ok_or_else(|| Error::internal(format!("invoice {} has status {}", i.id, i.status)))
}

impl InvoiceView {
    pub fn new(i: &invoice::Model, lines: &[product_row::Model]) -> Self {
        let status = InvoiceStatus::parse(&i.status).unwrap_or(InvoiceStatus::Draft);
        InvoiceView {
            id: i.id,
            status: i.status.clone(),
            allowed_actions: status
                .allowed()
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect(),
            number: i.number.clone(),
            organization_id: i.organization_id,
            bank_account_id: i.bank_account_id,
            buyer_legal_entity_id: i.buyer_legal_entity_id,
            deal_id: i.deal_id,
            order_id: i.order_id,
            responsible_id: i.responsible_id,
            date: i.invoice_date,
            due_date: i.due_date,
            currency: i.currency.clone(),
            net: Money::from_minor(i.net_minor),
            vat: Money::from_minor(i.vat_minor),
            total: Money::from_minor(i.total_minor),
            total_in_words: rubles_in_words(i.total_minor),
            paid: Money::from_minor(i.paid_minor),
            outstanding: Money::from_minor(outstanding(i)),
            vat_by_rate: vat_by_rate(lines),
            lines: lines.iter().map(DocumentRowView::from).collect(),
            comment: i.comment.clone(),
            issued_at: i.issued_at,
            cancelled_at: i.cancelled_at,
            version: i.version,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

/// What is still to be paid: nothing on drafts and cancelled invoices.
pub fn outstanding(i: &invoice::Model) -> i64 {
    match InvoiceStatus::parse(&i.status) {
        Some(s) if s.awaits_payment() => i.total_minor - i.paid_minor,
        _ => 0,
    }
}

/// A line given with the invoice. Without `product_id`, `name` and `price` are required.
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceLineInput {
    pub product_id: Option<Uuid>,
    #[validate(length(min = 1, max = 500, message = "name must be 1 to 500 characters"))]
    #[schema(example = "Монтаж видеонаблюдения")]
    pub name: String,
    /// Decimal string, up to 3 decimals, default `1`.
    #[schema(example = "1")]
    pub quantity: Option<String>,
    /// OKEI code, default `796` (шт).
    pub unit_code: Option<String>,
    #[validate(length(min = 1, max = 20))]
    pub unit_name: Option<String>,
    #[schema(example = "1020.90")]
    pub price: String,
    pub discount_percent: Option<String>,
    pub discount_amount: Option<String>,
    /// `22`, `20`, `10`, `0` or `none`; default: the standard rate today.
    #[schema(example = "22")]
    pub vat_rate: Option<String>,
    pub vat_included: Option<bool>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvoice {
    /// The seller: an own organisation.
    pub organization_id: Uuid,
    /// The seller's account printed on the form; default: its primary (or first) account.
    pub bank_account_id: Option<Uuid>,
    /// Default: the deal's legal entity.
    pub buyer_legal_entity_id: Option<Uuid>,
    /// Lines are copied from this deal's product rows when `lines` and `order_id` are absent.
    pub deal_id: Option<Uuid>,
    /// The order this invoice bills (DOC-2): its deal, buyer and lines are the defaults, and
    /// money paid on the invoice counts towards the order's advance.
    pub order_id: Option<Uuid>,
    /// Default: today. Its period decides the number series.
    pub date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    #[validate(length(max = 200))]
    pub lines: Option<Vec<InvoiceLineInput>>,
    #[validate(length(max = 2000))]
    pub comment: Option<String>,
}

/// Changes a draft; `lines`, when given, replace all lines.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInvoice {
    pub buyer_legal_entity_id: Option<Uuid>,
    pub bank_account_id: Option<Uuid>,
    pub date: Option<NaiveDate>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub due_date: Option<Option<NaiveDate>>,
    #[validate(length(max = 200))]
    pub lines: Option<Vec<InvoiceLineInput>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub comment: Option<Option<String>>,
}

#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceActionRequest {
    #[validate(length(max = 2000))]
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvoiceListFilter {
    pub status: Option<String>,
    pub organization_id: Option<Uuid>,
    pub deal_id: Option<Uuid>,
    pub buyer_legal_entity_id: Option<Uuid>,
    pub responsible_id: Option<Uuid>,
    pub number: Option<String>,
}

pub fn sorts() -> [SortKey<invoice::Entity>; 3] {
    [
        SortKey {
            name: "created_at",
            column: invoice::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: invoice::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
        SortKey {
            name: "total",
            column: invoice::Column::TotalMinor,
            key: |m| CursorValue::Int(m.total_minor),
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// Shared rules

/// Accountants handle every invoice's money; everyone else sees by responsible user.
pub fn sees_all_invoices(caller: &Caller) -> bool {
    caller.has(Role::Accountant) || caller.is_admin()
}

/// An invoice the caller may see, or 404.
pub async fn visible_invoice<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    scope: &Scope,
    id: Uuid,
) -> OpResult<invoice::Model> {
    let i = records::find::<invoice::Entity, _>(db, id).await?;
    if !sees_all_invoices(caller) && !scope.allows(Some(i.responsible_id)) {
        return Err(Error::not_found());
    }
    Ok(i)
}

pub fn refusal(r: InvoiceRefusal) -> Error {
    match r {
        InvoiceRefusal::Transition { .. } | InvoiceRefusal::Empty => {
            Error::new(ErrorCode::InvalidTransition, r.to_string())
        }
        InvoiceRefusal::Overpaid { .. } | InvoiceRefusal::Underpaid { .. } => {
            Error::field("amount", "exceeds_outstanding", r.to_string())
        }
    }
}

/// A race lost to another writer is a 409 for a caller that sent no `If-Match`.
pub fn race(e: StoreError, sent_if_match: bool) -> Error {
    match e {
        StoreError::StaleVersion { .. } if !sent_if_match => Error::new(
            ErrorCode::Conflict,
            "the invoice was changed by another request at the same time; read it and retry",
        ),
        other => other.into(),
    }
}

/// Writes a status transition row; call in the transaction of the change.
pub async fn record_transition<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    invoice_id: Uuid,
    from: Option<InvoiceStatus>,
    to: InvoiceStatus,
    action: InvoiceAction,
    comment: Option<&str>,
) -> OpResult<()> {
    invoice_transition::ActiveModel {
        id: Set(Uuid::now_v7()),
        invoice_id: Set(invoice_id),
        from_status: Set(from.map(|s| s.as_str().to_owned())),
        to_status: Set(to.as_str().to_owned()),
        action: Set(action.as_str().to_owned()),
        actor_id: Set(actor.user_id),
        comment: Set(comment.map(str::to_owned)),
        at: Set(now()),
    }
    .insert(db)
    .await
    .map_err(StoreError::from)?;
    Ok(())
}

pub async fn lines_of<C: ConnectionTrait>(db: &C, id: Uuid) -> OpResult<Vec<product_row::Model>> {
    Ok(rows_of(db, INVOICE, id).await?)
}

/// Prices the given lines into row models of the invoice, with the row pricing every sales
/// document uses; every bad line is reported, its fields under `lines[i].`.
pub async fn priced_lines<C: ConnectionTrait>(
    txn: &C,
    invoice_id: Uuid,
    currency: &str,
    input: &[InvoiceLineInput],
) -> OpResult<Vec<product_row::Model>> {
    let mut v = Violations::new();
    let mut out = Vec::with_capacity(input.len());
    for (i, l) in input.iter().enumerate() {
        let row = NewProductRow {
            product_id: l.product_id,
            name: Some(l.name.clone()),
            quantity: l.quantity.clone(),
            unit_code: l.unit_code.clone(),
            unit_name: l.unit_name.clone(),
            price: Some(l.price.clone()),
            discount_percent: l.discount_percent.clone(),
            discount_amount: l.discount_amount.clone(),
            vat_rate: l.vat_rate.clone(),
            vat_included: l.vat_included,
        };
        match priced_row(txn, &row, currency, INVOICE, invoice_id).await {
            Ok(r) => out.push(r),
            Err(e) if !e.errors.is_empty() => {
                for x in e.errors {
                    v.push(FieldViolation::new(
                        format!("lines[{i}].{}", x.field),
                        x.code,
                        x.message,
                    ));
                }
            }
            Err(e) => return Err(e),
        }
    }
    if !v.is_empty() {
        return Err(v.into());
    }
    Ok(out)
}

/// A deal's or order's rows as invoice lines, priced as they were there.
pub fn copied_lines(invoice_id: Uuid, rows: &[product_row::Model]) -> Vec<product_row::Model> {
    let at = now();
    rows.iter()
        .map(|r| row_copy(r, INVOICE, invoice_id, at))
        .collect()
}

pub fn totals(lines: &[product_row::Model]) -> OpResult<(i64, i64, i64)> {
    crate::sales::totals_of(lines).ok_or_else(|| {
        Error::field(
            "lines",
            "out_of_range",
            "the invoice's total would be too large",
        )
    })
}

pub async fn check_bank_account<C: ConnectionTrait>(
    db: &C,
    organization_id: Uuid,
    id: Option<Uuid>,
) -> OpResult<Option<Uuid>> {
    let accounts = crate::organizations::bank_accounts(db, organization_id).await?;
    match id {
        Some(id) => {
            if accounts.iter().any(|a| a.id == id) {
                Ok(Some(id))
            } else {
                Err(Error::field(
                    "bank_account_id",
                    "not_found",
                    format!("bank_account_id {id} is not an account of the organisation"),
                ))
            }
        }
        None => Ok(accounts
            .iter()
            .find(|a| a.is_primary)
            .or(accounts.first())
            .map(|a| a.id)),
    }
}

pub async fn write_lines<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    lines: Vec<product_row::Model>,
) -> OpResult<Vec<product_row::Model>> {
    let mut saved = Vec::with_capacity(lines.len());
    for l in lines {
        saved.push(
            records::create::<product_row::Entity, _>(db, actor, l, records::snapshot).await?,
        );
    }
    Ok(saved)
}

/// Which rendering of the printed form a request asks for.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PrintQuery {
    /// `html` (default) or `pdf`; without it, `Accept: application/pdf` asks for the PDF.
    #[param(value_type = Option<PrintFormat>, inline)]
    pub format: Option<String>,
}

/// A rendering of the printed form.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum PrintFormat {
    Html,
    Pdf,
}

/// The invoice's audit record of its current snapshot (for callers outside this module that
/// change an invoice, e.g. payments).
pub async fn journal_change<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    before: &invoice::Model,
    after: &invoice::Model,
    action: &str,
) -> OpResult<()> {
    let b = snapshot(before);
    let a = snapshot(after);
    journal::record(
        db,
        actor,
        Change {
            entity_type: "invoice",
            entity_id: after.id,
            action,
            before: Some(&b),
            after: Some(&a),
            comment: None,
        },
    )
    .await?;
    Ok(())
}
