//! `/invoices` (DOC-3): customer invoices ("счёт на оплату").
//!
//! A draft is made from a deal's product rows or from rows given; it is editable until it is
//! issued, which takes a number from the organisation's numbering template (WF-NUM) in the
//! issuing transaction. A cancelled issued invoice keeps its number (a recorded void).
//! Payment statuses follow from the payments applied (`/payments`).
//!
//! Visibility follows the responsible user like deals (responsible / department / admin);
//! accountants see every invoice, as they register the money for all of them.

use crate::entity::{bank_account, deal, invoice, legal_entity, order, organization, product_row};
use crate::journal::{self, Change, now};
use crate::numbering::{NumberingRefusal, take_number};
use crate::orders::ORDER_ROWS;
use crate::pagination::{CursorValue, SortKey, fetch_page};
use crate::records::{self, lock_row};
use crate::sales::{DEAL_ROWS, note_invoice_number, row_copy, rows_of};
use crate::visibility::Scope;
use crate::{Actor, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use sdelka_domain::amount_in_words::rubles_in_words;
use sdelka_domain::customer_invoice::{
    InvoiceAction, InvoiceRefusal, InvoiceState, InvoiceStatus, decide,
};
use sdelka_domain::money::{Money, Percent, Quantity};
use sdelka_domain::product_row::UnitCode;
use sdelka_domain::role::Role;
use sdelka_domain::validation::{FieldViolation, Violations};
use sdelka_domain::vat::VatRate;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Select};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::deals::clean;
use super::dto::double_option;
use super::products::today;
use super::workflow::{self, Workflow};
use super::{Caller, Db, Error, ErrorCode, ListPage, ListParams, OpResult, ensure_exists, present};

use super::deals::{NewProductRow, priced_row};
use super::documents::{DocumentRowView, VatSubtotalView, row_public, vat_by_rate};

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
    workflow::stored("invoice", "status", i.id, &i.status)
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
    #[schema(value_type = Option<String>, example = "1")]
    pub quantity: Option<Quantity>,
    /// OKEI code, default `796` (шт).
    #[schema(value_type = Option<String>)]
    pub unit_code: Option<UnitCode>,
    #[validate(length(min = 1, max = 20))]
    pub unit_name: Option<String>,
    #[schema(value_type = String, example = "1020.90")]
    pub price: Money,
    #[schema(value_type = Option<String>)]
    pub discount_percent: Option<Percent>,
    #[schema(value_type = Option<String>)]
    pub discount_amount: Option<Money>,
    /// `22`, `20`, `10`, `0` or `none`, valid on the invoice's date; default: the product's rate,
    /// else the standard rate of the invoice's date.
    #[schema(value_type = Option<String>, example = "22")]
    pub vat_rate: Option<VatRate>,
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
    workflow::refused(r, |r| match r {
        InvoiceRefusal::Transition { .. } | InvoiceRefusal::Empty => {
            Error::new(ErrorCode::InvalidTransition, r.to_string())
        }
        InvoiceRefusal::Overpaid { .. } | InvoiceRefusal::Underpaid { .. } => {
            Error::field("amount", "exceeds_outstanding", r.to_string())
        }
    })
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
    workflow::record_transition(
        db,
        workflow::Transition::new(
            Workflow::CustomerInvoice,
            invoice_id,
            from.map(InvoiceStatus::as_str),
            to.as_str(),
            action.as_str(),
            now(),
        )
        .by(actor.user_id)
        .comment(comment),
    )
    .await?;
    Ok(())
}

pub async fn lines_of<C: ConnectionTrait>(db: &C, id: Uuid) -> OpResult<Vec<product_row::Model>> {
    Ok(rows_of(db, INVOICE, id).await?)
}

/// Prices the given lines into row models of the invoice dated `on`, with the row pricing every
/// sales document uses; every bad line is reported, its fields under `lines[i].`.
pub async fn priced_lines<C: ConnectionTrait>(
    txn: &C,
    invoice_id: Uuid,
    currency: &str,
    input: &[InvoiceLineInput],
    on: NaiveDate,
) -> OpResult<Vec<product_row::Model>> {
    let mut v = Violations::new();
    let mut out = Vec::with_capacity(input.len());
    for (i, l) in input.iter().enumerate() {
        let row = NewProductRow {
            product_id: l.product_id,
            name: Some(l.name.clone()),
            quantity: l.quantity,
            unit_code: l.unit_code.clone(),
            unit_name: l.unit_name.clone(),
            price: Some(l.price),
            discount_percent: l.discount_percent,
            discount_amount: l.discount_amount,
            vat_rate: l.vat_rate,
            vat_included: l.vat_included,
        };
        match priced_row(txn, &row, currency, INVOICE, invoice_id, on).await {
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
        saved.push(records::create::<product_row::Entity, _>(db, actor, l, row_public).await?);
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

/// The invoice's journal entry for a change written by hand (for callers outside this module
/// that change an invoice, e.g. payments): the invoice before and after as its `GET` answers
/// it, with its `lines`.
pub async fn journal_change<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    before: &invoice::Model,
    after: &invoice::Model,
    lines: &[product_row::Model],
    action: &str,
) -> OpResult<()> {
    let b = present(&InvoiceView::new(before, lines));
    let a = present(&InvoiceView::new(after, lines));
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

// ---------------------------------------------------------------------------------------------
// Operations

/// The invoices the caller may see (accountants and admins: all), a page at a time.
pub async fn list_invoices(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
    f: InvoiceListFilter,
) -> OpResult<ListPage<InvoiceView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let mut q: Select<invoice::Entity> =
        invoice::Entity::find().filter(invoice::Column::DeletedAt.is_null());
    if let Some(s) = &f.status {
        if InvoiceStatus::parse(s).is_none() {
            return Err(Error::field(
                "status",
                "invalid_choice",
                "status must be draft, issued, partially_paid, paid or cancelled",
            ));
        }
        q = q.filter(invoice::Column::Status.eq(s.clone()));
    }
    if let Some(v) = f.organization_id {
        q = q.filter(invoice::Column::OrganizationId.eq(v));
    }
    if let Some(v) = f.deal_id {
        q = q.filter(invoice::Column::DealId.eq(v));
    }
    if let Some(v) = f.buyer_legal_entity_id {
        q = q.filter(invoice::Column::BuyerLegalEntityId.eq(v));
    }
    if let Some(v) = f.responsible_id {
        q = q.filter(invoice::Column::ResponsibleId.eq(v));
    }
    if let Some(v) = &f.number {
        q = q.filter(invoice::Column::Number.eq(v.clone()));
    }
    if let Some(t) = page.updated_since {
        q = q.filter(invoice::Column::UpdatedAt.gte(t));
    }
    if !sees_all_invoices(caller) {
        let scope = caller.visibility(&db).await?;
        q = scope.apply(q, invoice::Column::ResponsibleId);
    }
    let page = fetch_page(&db, q, req, invoice::Column::Id, |m| m.id).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|i| i.id).collect();
    let rows = if ids.is_empty() {
        Vec::new()
    } else {
        product_row::Entity::find()
            .filter(product_row::Column::DocumentType.eq(INVOICE))
            .filter(product_row::Column::DocumentId.is_in(ids))
            .filter(product_row::Column::DeletedAt.is_null())
            .order_by_asc(product_row::Column::Id)
            .all(&db)
            .await?
    };
    Ok(ListPage::of(page, |i| {
        let lines: Vec<product_row::Model> = rows
            .iter()
            .filter(|r| r.document_id == i.id)
            .cloned()
            .collect();
        InvoiceView::new(i, &lines)
    }))
}

/// Creates a draft invoice (no number yet). With a deal (or an order) and no lines, the lines
/// are copied from its rows; the buyer defaults to the order's or deal's legal entity and the
/// responsible user to the deal's.
pub async fn create_invoice(
    db: Db<'_>,
    caller: &Caller,
    req: CreateInvoice,
) -> OpResult<InvoiceView> {
    let id = Uuid::now_v7();
    let actor = caller.actor();
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    ensure_exists::<organization::Entity, _>(&txn, "organization_id", req.organization_id).await?;
    let bank_account_id =
        check_bank_account(&txn, req.organization_id, req.bank_account_id).await?;
    // DOC-2 → DOC-3: an invoice for an order bills that order's deal, buyer and lines.
    let order = match req.order_id {
        Some(o) => match records::find::<order::Entity, _>(&txn, o).await {
            Ok(o) if scope.allows(Some(o.responsible_id)) => {
                if o.status == sdelka_domain::order::OrderStatus::Cancelled.as_str() {
                    return Err(Error::field(
                        "order_id",
                        "cancelled",
                        format!("order {} is cancelled and cannot be invoiced", o.id),
                    ));
                }
                if req.deal_id.is_some_and(|d| d != o.deal_id) {
                    return Err(Error::field(
                        "deal_id",
                        "mismatch",
                        format!("order {} belongs to deal {}", o.id, o.deal_id),
                    ));
                }
                Some(o)
            }
            Ok(_) | Err(StoreError::NotFound) => {
                return Err(Error::field(
                    "order_id",
                    "not_found",
                    format!("order_id {o} does not exist or is not visible to you"),
                ));
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let deal = match req.deal_id.or(order.as_ref().map(|o| o.deal_id)) {
        Some(d) => match records::find::<deal::Entity, _>(&txn, d).await {
            Ok(d) if scope.allows(Some(d.responsible_id)) => Some(d),
            Ok(_) | Err(StoreError::NotFound) => {
                return Err(Error::field(
                    "deal_id",
                    "not_found",
                    format!("deal_id {d} does not exist or is not visible to you"),
                ));
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let buyer = req
        .buyer_legal_entity_id
        .or(order.as_ref().and_then(|o| o.legal_entity_id))
        .or(deal.as_ref().and_then(|d| d.legal_entity_id))
        .ok_or_else(|| {
            Error::field(
                "buyer_legal_entity_id",
                "required",
                "name the buyer (or a deal with a legal entity)",
            )
        })?;
    // A buyer named in the request must be a client the caller sees (it prints with its
    // requisites); one that comes with the order or deal was checked there.
    match req.buyer_legal_entity_id {
        Some(b) => {
            super::refs::billed_party(&txn, caller, "buyer_legal_entity_id", b).await?;
        }
        None => {
            ensure_exists::<legal_entity::Entity, _>(&txn, "buyer_legal_entity_id", buyer).await?
        }
    }
    let currency = deal
        .as_ref()
        .map(|d| d.currency.clone())
        .unwrap_or_else(|| "RUB".to_owned());
    // CAT-2: the lines' VAT rates follow the invoice's date, copied ones too.
    let invoice_date = req.date.unwrap_or_else(today);
    let lines = match (&req.lines, &order, &deal) {
        (Some(l), _, _) => priced_lines(&txn, id, &currency, l, invoice_date).await?,
        (None, Some(o), _) => copied_lines(id, &rows_of(&txn, ORDER_ROWS, o.id).await?),
        (None, None, Some(d)) => copied_lines(id, &rows_of(&txn, DEAL_ROWS, d.id).await?),
        (None, None, None) => Vec::new(),
    };
    if req.lines.is_none() {
        super::vat::recheck_rows(&txn, &lines, "date", invoice_date).await?;
    }
    let (net, vat, total) = totals(&lines)?;
    let at = now();
    let model = invoice::Model {
        id,
        organization_id: req.organization_id,
        bank_account_id,
        buyer_legal_entity_id: buyer,
        deal_id: deal.as_ref().map(|d| d.id),
        order_id: order.as_ref().map(|o| o.id),
        responsible_id: deal
            .as_ref()
            .map(|d| d.responsible_id)
            .unwrap_or(caller.user_id),
        status: InvoiceStatus::Draft.as_str().to_owned(),
        number: None,
        numbering_template_id: None,
        numbering_period: None,
        numbering_counter: None,
        invoice_date,
        due_date: req.due_date,
        currency,
        net_minor: net,
        vat_minor: vat,
        total_minor: total,
        paid_minor: 0,
        comment: clean(&req.comment),
        issued_at: None,
        cancelled_at: None,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let saved = records::create::<invoice::Entity, _>(&txn, &actor, model, |m| {
        present(&InvoiceView::new(m, &lines))
    })
    .await?;
    let lines = write_lines(&txn, &actor, lines).await?;
    record_transition(
        &txn,
        &actor,
        id,
        None,
        InvoiceStatus::Draft,
        InvoiceAction::Edit,
        None,
    )
    .await?;
    super::processes::on_entity_created(
        &txn,
        &actor,
        sdelka_domain::process::EntityType::Invoice,
        saved.id,
    )
    .await?;
    txn.commit().await?;
    Ok(InvoiceView::new(&saved, &lines))
}

/// One invoice the caller may see.
pub async fn get_invoice(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<InvoiceView> {
    let scope = caller.visibility(&db).await?;
    let i = visible_invoice(&db, caller, &scope, id).await?;
    let lines = lines_of(&db, i.id).await?;
    Ok(InvoiceView::new(&i, &lines))
}

/// Changes a draft (buyer, dates, bank account, comment; `lines` replace all lines).
pub async fn update_invoice(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: UpdateInvoice,
) -> OpResult<InvoiceView> {
    let actor = caller.actor();
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let current = visible_invoice(&txn, caller, &scope, id).await?;
    let state_now = InvoiceState {
        status: status_of(&current)?,
        total_minor: current.total_minor,
        paid_minor: current.paid_minor,
    };
    decide(state_now, InvoiceAction::Edit, 0).map_err(refusal)?;
    if let Some(b) = req.buyer_legal_entity_id
        && b != current.buyer_legal_entity_id
    {
        super::refs::billed_party(&txn, caller, "buyer_legal_entity_id", b).await?;
    }
    let bank_account_id = match req.bank_account_id {
        Some(b) => check_bank_account(&txn, current.organization_id, Some(b)).await?,
        None => current.bank_account_id,
    };
    // CAT-2: new lines are priced for the invoice's (new) date; a new date alone checks the
    // lines already there.
    let invoice_date = req.date.unwrap_or(current.invoice_date);
    if req.lines.is_none() && invoice_date != current.invoice_date {
        let lines = lines_of(&txn, id).await?;
        super::vat::recheck_rows(&txn, &lines, "date", invoice_date).await?;
    }
    let new_lines = match &req.lines {
        Some(l) => {
            let priced = priced_lines(&txn, id, &current.currency, l, invoice_date).await?;
            for old in lines_of(&txn, id).await? {
                records::soft_delete::<product_row::Entity, _>(
                    &txn, &actor, old.id, None, row_public,
                )
                .await?;
            }
            Some(write_lines(&txn, &actor, priced).await?)
        }
        None => None,
    };
    let new_totals = new_lines.as_deref().map(totals).transpose()?;
    let lines = match new_lines {
        Some(l) => l,
        None => lines_of(&txn, id).await?,
    };
    let saved = records::update::<invoice::Entity, _, _, Error>(
        &txn,
        &actor,
        id,
        if_match.or(Some(current.version)),
        |i| {
            if let Some(b) = req.buyer_legal_entity_id {
                i.buyer_legal_entity_id = b;
            }
            i.bank_account_id = bank_account_id;
            if let Some(d) = req.date {
                i.invoice_date = d;
            }
            if let Some(d) = req.due_date {
                i.due_date = d;
            }
            if let Some(c) = &req.comment {
                i.comment = clean(c);
            }
            if let Some((net, vat, total)) = new_totals {
                i.net_minor = net;
                i.vat_minor = vat;
                i.total_minor = total;
                // Lines replaced: the version changes even if the sums happen not to.
                i.updated_at = now();
            }
            Ok(())
        },
        |m| present(&InvoiceView::new(m, &lines)),
    )
    .await
    .map_err(|e| race(e, if_match.is_some()))??;
    txn.commit().await?;
    Ok(InvoiceView::new(&saved, &lines))
}

/// Issues a draft: takes the next number of the organisation's `invoice` numbering template
/// for the invoice's date.
pub async fn issue_invoice(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: InvoiceActionRequest,
) -> OpResult<InvoiceView> {
    act(
        db,
        caller,
        id,
        if_match,
        clean(&req.comment),
        InvoiceAction::Issue,
    )
    .await
}

/// Cancels a draft or an issued invoice without payments; an issued invoice keeps its number
/// as a recorded void.
pub async fn cancel_invoice(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: InvoiceActionRequest,
) -> OpResult<InvoiceView> {
    act(
        db,
        caller,
        id,
        if_match,
        clean(&req.comment),
        InvoiceAction::Cancel,
    )
    .await
}

/// One status change of an invoice by a user (issue or cancel), as one compare-and-set with
/// its transition row. Issuing takes the number last before the write, so the counter row's
/// lock is held only until the commit that follows.
async fn act(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    comment: Option<String>,
    action: InvoiceAction,
) -> OpResult<InvoiceView> {
    let actor = caller.actor();
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let current = visible_invoice(&txn, caller, &scope, id).await?;
    let from = status_of(&current)?;
    let next = decide(
        InvoiceState {
            status: from,
            total_minor: current.total_minor,
            paid_minor: current.paid_minor,
        },
        action,
        0,
    )
    .map_err(refusal)?;
    let lines = lines_of(&txn, id).await?;
    if action == InvoiceAction::Issue
        && let Some(deal_id) = current.deal_id
    {
        // The deal is locked before the number is taken: the numbering counter, which every
        // issue of this organisation queues on, is then never held while waiting for the deal.
        lock_row(&txn, "deals", deal_id).await?;
    }
    let taken = match action {
        InvoiceAction::Issue => Some(
            take_number(&txn, current.organization_id, INVOICE, current.invoice_date)
                .await?
                .map_err(|r| match r {
                    NumberingRefusal::NoTemplate { .. } => {
                        Error::new(ErrorCode::NoNumberingTemplate, r.to_string())
                    }
                })?,
        ),
        InvoiceAction::Edit
        | InvoiceAction::Cancel
        | InvoiceAction::ApplyPayment
        | InvoiceAction::UnapplyPayment => None,
    };
    let at = now();
    let facts_before =
        super::processes::facts_of(&txn, sdelka_domain::process::EntityType::Invoice, id).await?;
    let saved = records::update::<invoice::Entity, _, _, Error>(
        &txn,
        &actor,
        id,
        Some(if_match.unwrap_or(current.version)),
        |i| {
            i.status = next.status.as_str().to_owned();
            if let Some(taken) = &taken {
                i.number = Some(taken.number.clone());
                i.numbering_template_id = Some(taken.template_id);
                i.numbering_period = Some(taken.period.clone());
                i.numbering_counter = Some(taken.counter);
                i.issued_at = Some(at);
            }
            if action == InvoiceAction::Cancel {
                i.cancelled_at = Some(at);
            }
            Ok(())
        },
        |m| present(&InvoiceView::new(m, &lines)),
    )
    .await
    .map_err(|e| race(e, if_match.is_some()))??;
    if let (Some(deal_id), Some(number)) = (saved.deal_id, &saved.number) {
        // DEAL-2: the deal lists the numbers of its live invoices; a void leaves the list.
        let listed = action != InvoiceAction::Cancel;
        note_invoice_number(&txn, &actor, deal_id, number, listed).await?;
    }
    record_transition(
        &txn,
        &actor,
        id,
        Some(from),
        next.status,
        action,
        comment.as_deref(),
    )
    .await?;
    // Its processes hear the new status; templates that start on it start.
    super::processes::on_entity_changed(
        &txn,
        &actor,
        sdelka_domain::process::EntityType::Invoice,
        id,
        &facts_before,
    )
    .await?;
    txn.commit().await?;
    Ok(InvoiceView::new(&saved, &lines))
}

/// What the printed form of an invoice shows: the invoice, its lines, the seller and its bank
/// account, the buyer.
pub struct InvoicePrint {
    pub invoice: invoice::Model,
    pub lines: Vec<product_row::Model>,
    pub seller: organization::Model,
    pub account: Option<bank_account::Model>,
    pub buyer: Option<legal_entity::Model>,
}

/// The data of the printed form of an invoice the caller may see.
pub async fn invoice_for_print(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<InvoicePrint> {
    let scope = caller.visibility(&db).await?;
    let i = visible_invoice(&db, caller, &scope, id).await?;
    let lines = lines_of(&db, i.id).await?;
    let seller = organization::Entity::find_by_id(i.organization_id)
        .one(&db)
        .await?
        .ok_or_else(Error::not_found)?;
    let account = match i.bank_account_id {
        Some(a) => bank_account::Entity::find_by_id(a).one(&db).await?,
        None => None,
    };
    let buyer = legal_entity::Entity::find_by_id(i.buyer_legal_entity_id)
        .one(&db)
        .await?;
    Ok(InvoicePrint {
        invoice: i,
        lines,
        seller,
        account,
        buyer,
    })
}
