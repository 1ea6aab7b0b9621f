//! `/payments` (DOC-4): incoming money and its application to customer invoices.
//!
//! Applying (or un-applying) moves money between a payment and an invoice in one transaction
//! that also sets the invoice's status, recomputes the deal's payment percent and runs the
//! automation rules of that change (WF-PAY-1), with the audit records and notifications.
//!
//! Over-application is impossible by construction: the payment's `applied_minor` is raised by
//! a conditional `UPDATE … WHERE applied_minor + :amount <= amount_minor`, so two concurrent
//! applications of one payment cannot both pass. The invoice and the deal are written
//! compare-and-set on their versions; on PostgreSQL their rows are locked first (invoice, then
//! payment, then deal — always in that order), so concurrent payments to one invoice or deal
//! queue instead of failing, and a change from elsewhere still surfaces as a 409.
//!
//! The deal's payment percent is the sum paid on the deal's non-cancelled invoices divided by
//! the deal's amount, rounded down to hundredths of a percent and capped at 100 % (a deal of
//! amount zero counts as fully paid once anything is paid on it).

use crate::entity::{
    deal, invoice, order, organization, payment, payment_application, pipeline_stage,
};
use crate::journal::{self, Change, now};
use crate::notifications::{EntityRef, notify, notify_and_email};
use crate::pagination::{CursorValue, SortKey, fetch_page};
use crate::records::{self, lock_row};
use crate::{Actor, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use sdelka_domain::automation::{Action, PaymentPercentChange};
use sdelka_domain::customer_invoice::{
    InvoiceAction, InvoiceState, InvoiceStatus, decide, payment_percent_hundredths,
};
use sdelka_domain::money::{Money, Percent};
use sdelka_domain::requisites::Inn;
use sdelka_domain::role::Role;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::deals::clean;
use super::{Caller, Db, Error, ErrorCode, ListPage, ListParams, OpResult, ensure_exists, present};

use super::invoices::{
    journal_change, lines_of, race, record_transition, refusal, visible_invoice,
};
use super::products::{currency, non_negative, today};

/// Who registers and applies money: accountants, sales staff for their own deals, admins.
pub const MONEY_STAFF: &[Role] = &[
    Role::Admin,
    Role::Accountant,
    Role::Head,
    Role::SalesManager,
];

// ---------------------------------------------------------------------------------------------
// Wire types

/// Part of a payment applied to an invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationView {
    pub id: Uuid,
    pub invoice_id: Uuid,
    #[schema(value_type = String, example = "500.00")]
    pub amount: Money,
    pub applied_by: Option<Uuid>,
    pub applied_at: DateTime<Utc>,
    /// Set once un-applied (kept for the history).
    pub unapplied_by: Option<Uuid>,
    pub unapplied_at: Option<DateTime<Utc>>,
}

impl From<&payment_application::Model> for ApplicationView {
    fn from(a: &payment_application::Model) -> Self {
        ApplicationView {
            id: a.id,
            invoice_id: a.invoice_id,
            amount: Money::from_minor(a.amount_minor),
            applied_by: a.applied_by,
            applied_at: a.applied_at,
            unapplied_by: a.unapplied_by,
            unapplied_at: a.unapplied_at,
        }
    }
}

/// An incoming payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    pub id: Uuid,
    pub organization_id: Option<Uuid>,
    #[schema(example = "2026-12-29")]
    pub date: NaiveDate,
    #[schema(value_type = String, example = "1245.50")]
    pub amount: Money,
    #[schema(value_type = String, example = "1000.00")]
    pub applied_amount: Money,
    /// Not applied to any invoice (an overpayment stays here).
    #[schema(value_type = String, example = "245.50")]
    pub unapplied_amount: Money,
    #[schema(example = "RUB")]
    pub currency: String,
    pub payer_legal_entity_id: Option<Uuid>,
    pub payer_name: Option<String>,
    pub payer_inn: Option<String>,
    #[schema(example = "1542")]
    pub payment_order_number: Option<String>,
    pub purpose: Option<String>,
    pub applications: Vec<ApplicationView>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PaymentView {
    pub fn new(p: &payment::Model, apps: &[payment_application::Model]) -> Self {
        PaymentView {
            id: p.id,
            organization_id: p.organization_id,
            date: p.payment_date,
            amount: Money::from_minor(p.amount_minor),
            applied_amount: Money::from_minor(p.applied_minor),
            unapplied_amount: Money::from_minor(p.amount_minor - p.applied_minor),
            currency: p.currency.clone(),
            payer_legal_entity_id: p.payer_legal_entity_id,
            payer_name: p.payer_name.clone(),
            payer_inn: p.payer_inn.clone(),
            payment_order_number: p.payment_order_number.clone(),
            purpose: p.purpose.clone(),
            applications: apps
                .iter()
                .filter(|a| a.payment_id == p.id)
                .map(ApplicationView::from)
                .collect(),
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApplication {
    pub invoice_id: Uuid,
    /// Default: the smaller of what is unapplied on the payment and outstanding on the invoice.
    #[schema(value_type = Option<String>, example = "500.00")]
    pub amount: Option<Money>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPayment {
    /// Default: today.
    pub date: Option<NaiveDate>,
    #[schema(value_type = String, example = "1245.50")]
    pub amount: Money,
    /// Default `RUB`.
    pub currency: Option<String>,
    /// The receiving own organisation.
    pub organization_id: Option<Uuid>,
    pub payer_legal_entity_id: Option<Uuid>,
    #[validate(length(min = 1, max = 500))]
    pub payer_name: Option<String>,
    #[schema(value_type = Option<String>)]
    pub payer_inn: Option<Inn>,
    #[validate(length(min = 1, max = 50))]
    pub payment_order_number: Option<String>,
    #[validate(length(max = 2000))]
    pub purpose: Option<String>,
    /// Applied at once, in order, in the same transaction.
    #[serde(default)]
    #[validate(length(max = 100))]
    pub applications: Vec<NewApplication>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaymentListFilter {
    pub organization_id: Option<Uuid>,
    pub payer_legal_entity_id: Option<Uuid>,
    /// Payment date from (inclusive).
    pub date_from: Option<NaiveDate>,
    /// Payment date to (inclusive).
    pub date_to: Option<NaiveDate>,
    /// Only payments with money not yet applied.
    pub unapplied: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ApplicationPath {
    /// Payment id.
    pub id: Uuid,
    /// Application id.
    pub application_id: Uuid,
}

pub fn sorts() -> [SortKey<payment::Entity>; 2] {
    [
        SortKey {
            name: "created_at",
            column: payment::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: payment::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
    ]
}

pub async fn applications_of<C: ConnectionTrait>(
    db: &C,
    payment_ids: &[Uuid],
) -> OpResult<Vec<payment_application::Model>> {
    if payment_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(payment_application::Entity::find()
        .filter(payment_application::Column::PaymentId.is_in(payment_ids.iter().copied()))
        .order_by_asc(payment_application::Column::AppliedAt)
        .order_by_asc(payment_application::Column::Id)
        .all(db)
        .await
        .map_err(StoreError::from)?)
}

pub fn amount_minor(field: &str, value: Money) -> OpResult<i64> {
    let m = non_negative(field, value).map_err(|v| Error::validation(v.into()))?;
    let minor = m
        .to_minor()
        .map_err(|e| Error::field(field, "out_of_range", e.to_string()))?;
    if minor <= 0 {
        return Err(Error::field(
            field,
            "out_of_range",
            format!("{field} must be greater than zero"),
        ));
    }
    Ok(minor)
}

// Row locks (`lock_row`) are always taken invoice first, then payment, then order, then deal,
// so two money movements cannot deadlock.

pub fn payment_live_key(payment_id: Uuid, invoice_id: Uuid) -> String {
    format!("{payment_id}:{invoice_id}")
}

// ---------------------------------------------------------------------------------------------
// The money movement, shared by registration, application and un-application

/// Moves `amount` of `payment_id` onto an invoice, in the caller's transaction, and answers
/// the note the payment's journal entry carries. The invoice is journalled here; the payment
/// is journalled once by the operation, with its final representation.
pub async fn apply<
    C: ConnectionTrait + sea_orm::TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
>(
    txn: &C,
    caller: &Caller,
    payment_id: Uuid,
    req: &NewApplication,
) -> OpResult<String> {
    let actor = caller.actor();
    let scope = caller.visibility(txn).await?;
    lock_row(txn, "invoices", req.invoice_id).await?;
    let inv = match visible_invoice(txn, caller, &scope, req.invoice_id).await {
        Ok(i) => i,
        Err(e) if e.code == ErrorCode::NotFound => {
            return Err(Error::field(
                "invoice_id",
                "not_found",
                format!(
                    "invoice_id {} does not exist or is not visible to you",
                    req.invoice_id
                ),
            ));
        }
        Err(e) => return Err(e),
    };
    let pay = records::find::<payment::Entity, _>(txn, payment_id).await?;
    if pay.currency != inv.currency {
        return Err(Error::field(
            "invoice_id",
            "currency_mismatch",
            format!(
                "the payment is in {}, the invoice in {}",
                pay.currency, inv.currency
            ),
        ));
    }
    let status = super::invoices::status_of(&inv)?;
    let amount = match req.amount {
        Some(a) => amount_minor("amount", a)?,
        None => std::cmp::min(
            pay.amount_minor - pay.applied_minor,
            inv.total_minor - inv.paid_minor,
        ),
    };
    let next = decide(
        InvoiceState {
            status,
            total_minor: inv.total_minor,
            paid_minor: inv.paid_minor,
        },
        InvoiceAction::ApplyPayment,
        amount,
    )
    .map_err(refusal)?;

    // The guard against over-application: one conditional statement.
    let at = now();
    let res = payment::Entity::update_many()
        .col_expr(
            payment::Column::AppliedMinor,
            Expr::col(payment::Column::AppliedMinor).add(amount),
        )
        .col_expr(
            payment::Column::Version,
            Expr::col(payment::Column::Version).add(1),
        )
        .col_expr(payment::Column::UpdatedAt, Expr::value(at))
        .filter(payment::Column::Id.eq(payment_id))
        .filter(payment::Column::DeletedAt.is_null())
        .filter(
            Expr::col(payment::Column::AppliedMinor)
                .add(amount)
                .lte(Expr::col(payment::Column::AmountMinor)),
        )
        .exec(txn)
        .await
        .map_err(StoreError::from)?;
    if res.rows_affected == 0 {
        return Err(Error::field(
            "amount",
            "exceeds_unapplied",
            format!(
                "the payment has {} unapplied; {} cannot be applied",
                Money::from_minor(pay.amount_minor - pay.applied_minor),
                Money::from_minor(amount)
            ),
        ));
    }
    let application = payment_application::ActiveModel {
        id: Set(Uuid::now_v7()),
        payment_id: Set(payment_id),
        invoice_id: Set(inv.id),
        amount_minor: Set(amount),
        live_key: Set(Some(payment_live_key(payment_id, inv.id))),
        applied_by: Set(actor.user_id),
        applied_at: Set(at),
        unapplied_by: Set(None),
        unapplied_at: Set(None),
    }
    .insert(txn)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Duplicate(_) => Error::new(
            ErrorCode::AlreadyApplied,
            "this payment is already applied to this invoice; un-apply it first to change the amount",
        ),
        other => other.into(),
    })?;
    let saved = write_invoice_money(txn, &actor, &inv, next, "updated").await?;
    if next.status != status {
        record_transition(
            txn,
            &actor,
            inv.id,
            Some(status),
            next.status,
            InvoiceAction::ApplyPayment,
            Some(&format!("payment {payment_id}")),
        )
        .await?;
    }
    after_money_moved(txn, &actor, &saved, application.amount_minor).await?;
    Ok(format!("invoice {}", inv.id))
}

/// Takes an application back, in the caller's transaction, and answers the note the
/// payment's journal entry carries (the payment is journalled by the operation).
pub async fn unapply<
    C: ConnectionTrait + sea_orm::TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
>(
    txn: &C,
    caller: &Caller,
    payment_id: Uuid,
    application_id: Uuid,
) -> OpResult<String> {
    let actor = caller.actor();
    let app = payment_application::Entity::find_by_id(application_id)
        .one(txn)
        .await
        .map_err(StoreError::from)?
        .filter(|a| a.payment_id == payment_id && a.unapplied_at.is_none())
        .ok_or_else(Error::not_found)?;
    let scope = caller.visibility(txn).await?;
    lock_row(txn, "invoices", app.invoice_id).await?;
    let inv = visible_invoice(txn, caller, &scope, app.invoice_id).await?;
    let status = super::invoices::status_of(&inv)?;
    let next = decide(
        InvoiceState {
            status,
            total_minor: inv.total_minor,
            paid_minor: inv.paid_minor,
        },
        InvoiceAction::UnapplyPayment,
        app.amount_minor,
    )
    .map_err(refusal)?;
    let at = now();
    // Only one un-application of an application can win.
    let res = payment_application::Entity::update_many()
        .col_expr(
            payment_application::Column::LiveKey,
            Expr::value(Option::<String>::None),
        )
        .col_expr(payment_application::Column::UnappliedAt, Expr::value(at))
        .col_expr(
            payment_application::Column::UnappliedBy,
            Expr::value(actor.user_id),
        )
        .filter(payment_application::Column::Id.eq(application_id))
        .filter(payment_application::Column::UnappliedAt.is_null())
        .exec(txn)
        .await
        .map_err(StoreError::from)?;
    if res.rows_affected == 0 {
        return Err(Error::new(
            ErrorCode::Conflict,
            "the application was taken back by another request",
        ));
    }
    payment::Entity::update_many()
        .col_expr(
            payment::Column::AppliedMinor,
            Expr::col(payment::Column::AppliedMinor).sub(app.amount_minor),
        )
        .col_expr(
            payment::Column::Version,
            Expr::col(payment::Column::Version).add(1),
        )
        .col_expr(payment::Column::UpdatedAt, Expr::value(at))
        .filter(payment::Column::Id.eq(payment_id))
        .exec(txn)
        .await
        .map_err(StoreError::from)?;
    let saved = write_invoice_money(txn, &actor, &inv, next, "payment_unapplied").await?;
    if next.status != status {
        record_transition(
            txn,
            &actor,
            inv.id,
            Some(status),
            next.status,
            InvoiceAction::UnapplyPayment,
            Some(&format!("payment {payment_id}")),
        )
        .await?;
    }
    after_money_moved(txn, &actor, &saved, -app.amount_minor).await?;
    Ok(format!(
        "invoice {}, {}",
        inv.id,
        Money::from_minor(app.amount_minor)
    ))
}

/// Writes the invoice's paid amount and status under compare-and-set on its version (the row
/// is locked first on PostgreSQL) and journals it once, as `action`, with the invoice as its
/// `GET` answers it.
async fn write_invoice_money<
    C: ConnectionTrait + sea_orm::TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
>(
    txn: &C,
    actor: &Actor,
    inv: &invoice::Model,
    next: InvoiceState,
    action: &str,
) -> OpResult<invoice::Model> {
    let invoice_entity = sdelka_domain::process::EntityType::Invoice;
    let facts_before = super::processes::facts_of(txn, invoice_entity, inv.id).await?;
    let lines = lines_of(txn, inv.id).await?;
    let mut after = inv.clone();
    after.paid_minor = next.paid_minor;
    after.status = next.status.as_str().to_owned();
    after.version = inv.version + 1;
    after.updated_at = now();
    let res = invoice::Entity::update_many()
        .set(after.clone().into_active_model().reset_all())
        .filter(invoice::Column::Id.eq(inv.id))
        .filter(invoice::Column::Version.eq(inv.version))
        .filter(invoice::Column::DeletedAt.is_null())
        .exec(txn)
        .await
        .map_err(StoreError::from)?;
    if res.rows_affected == 0 {
        return Err(race(
            StoreError::StaleVersion {
                expected: inv.version,
                current: inv.version + 1,
            },
            false,
        ));
    }
    journal_change(txn, actor, inv, &after, &lines, action).await?;
    // A process of the invoice hears it become paid (or no longer paid).
    super::processes::on_entity_changed(txn, actor, invoice_entity, inv.id, &facts_before).await?;
    Ok(after)
}

/// The payment's journal entry for `action`: the payment before (none when created) and after,
/// as its `GET` answers it.
pub async fn journal_payment<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    before: Option<&PaymentView>,
    after: &PaymentView,
    action: &str,
    comment: Option<&str>,
) -> OpResult<()> {
    let b = before.map(present);
    let a = present(after);
    journal::record(
        db,
        actor,
        Change {
            entity_type: "payment",
            entity_id: after.id,
            action,
            before: b.as_ref(),
            after: Some(&a),
            comment,
        },
    )
    .await?;
    Ok(())
}

/// The condition on `payments` of those the caller may see (`None`: all): accountants and
/// admins see every payment; heads and sales managers those registered in their scope and
/// those applied to an invoice they may see (`visibility::payments_condition`).
pub async fn payment_scope<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
) -> OpResult<Option<sea_orm::sea_query::SimpleExpr>> {
    if super::invoices::sees_all_invoices(caller) {
        return Ok(None);
    }
    let scope = caller.visibility(db).await?;
    Ok(crate::visibility::payments_condition(&scope))
}

/// A payment the caller may see, or 404 — the same answer as for an unknown id. With
/// `history`, a deleted one too (its timeline stays readable).
pub async fn visible_payment<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
    history: bool,
) -> OpResult<payment::Model> {
    let mut q = payment::Entity::find().filter(payment::Column::Id.eq(id));
    if !history {
        q = q.filter(payment::Column::DeletedAt.is_null());
    }
    if let Some(c) = payment_scope(db, caller).await? {
        q = q.filter(c);
    }
    q.one(db)
        .await
        .map_err(StoreError::from)?
        .ok_or_else(Error::not_found)
}

/// The payment as its `GET` answers it, read in `db`.
async fn payment_view<C: ConnectionTrait>(db: &C, id: Uuid) -> OpResult<PaymentView> {
    let p = records::find::<payment::Entity, _>(db, id).await?;
    let apps = applications_of(db, &[p.id]).await?;
    Ok(PaymentView::new(&p, &apps))
}

/// Recomputes the deal's payment percent after money moved on one of its invoices, and runs
/// the automation rules of a changed percent.
pub async fn after_money_moved<
    C: ConnectionTrait + sea_orm::TransactionTrait<Transaction = sea_orm::DatabaseTransaction>,
>(
    txn: &C,
    actor: &Actor,
    inv: &invoice::Model,
    moved_minor: i64,
) -> OpResult<()> {
    tell_the_order(txn, actor, inv).await?;
    let Some(deal_id) = inv.deal_id else {
        return Ok(());
    };
    lock_row(txn, "deals", deal_id).await?;
    let d = match records::find::<deal::Entity, _>(txn, deal_id).await {
        Ok(d) => d,
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let invoices = invoice::Entity::find()
        .filter(invoice::Column::DealId.eq(deal_id))
        .filter(invoice::Column::DeletedAt.is_null())
        .filter(invoice::Column::Status.ne(InvoiceStatus::Cancelled.as_str()))
        .all(txn)
        .await
        .map_err(StoreError::from)?;
    let paid: i64 = invoices.iter().map(|i| i.paid_minor).sum();
    let before = d.payment_percent_hundredths;
    let after = payment_percent_hundredths(paid, d.amount_minor);
    if before == after {
        return Ok(());
    }
    let contacts = crate::sales::deal_contacts(txn, deal_id).await?;
    let facts_before =
        super::processes::facts_of(txn, sdelka_domain::process::EntityType::Deal, deal_id).await?;
    let d = records::update::<deal::Entity, _, _, Error>(
        txn,
        actor,
        deal_id,
        None,
        |d| {
            d.payment_percent_hundredths = after;
            Ok(())
        },
        super::deals::public_with(&contacts),
    )
    .await
    .map_err(|e| match e {
        StoreError::StaleVersion { .. } => Error::new(
            ErrorCode::Conflict,
            "the deal was changed by another request at the same time; retry",
        ),
        other => other.into(),
    })??;
    // A process waiting for the advance hears of it in the payment's transaction.
    super::processes::on_entity_changed(
        txn,
        actor,
        sdelka_domain::process::EntityType::Deal,
        deal_id,
        &facts_before,
    )
    .await?;
    run_payment_rules(
        txn,
        &d,
        inv,
        moved_minor,
        PaymentPercentChange {
            before_hundredths: before,
            after_hundredths: after,
        },
    )
    .await
}

/// The order number the watcher reports: the number of the order the invoice was made for,
/// else the deal's own order number, else «нет».
pub async fn order_number_for<C: ConnectionTrait>(
    txn: &C,
    inv: &invoice::Model,
    d: &deal::Model,
) -> OpResult<String> {
    if let Some(order_id) = inv.order_id
        && let Some(number) = order::Entity::find_by_id(order_id)
            .one(txn)
            .await
            .map_err(StoreError::from)?
            .and_then(|o| o.number)
    {
        return Ok(number);
    }
    Ok(d.order_number.clone().unwrap_or_else(|| "нет".to_owned()))
}

/// DOC-2: the money paid against an order is what its live invoices have received; when that
/// changes, the order hears of it in the same transaction (an advance received confirms it).
pub async fn tell_the_order<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    inv: &invoice::Model,
) -> OpResult<()> {
    let Some(order_id) = inv.order_id else {
        return Ok(());
    };
    lock_row(txn, "orders", order_id).await?;
    let paid: i64 = invoice::Entity::find()
        .filter(invoice::Column::OrderId.eq(order_id))
        .filter(invoice::Column::DeletedAt.is_null())
        .filter(invoice::Column::Status.ne(InvoiceStatus::Cancelled.as_str()))
        .all(txn)
        .await
        .map_err(StoreError::from)?
        .iter()
        .map(|i| i.paid_minor)
        .sum();
    super::orders::record_payment(txn, actor, order_id, paid).await
}

/// WF-PAY-1 and its kin: the enabled rules triggered by a deal's payment percent change.
pub async fn run_payment_rules<C: ConnectionTrait>(
    txn: &C,
    d: &deal::Model,
    inv: &invoice::Model,
    moved_minor: i64,
    change: PaymentPercentChange,
) -> OpResult<()> {
    let rules =
        crate::automation::enabled_rules(txn, "deal_payment_percent_changed", d.pipeline_id)
            .await?;
    if rules.is_empty() {
        return Ok(());
    }
    let stage = pipeline_stage::Entity::find_by_id(d.stage_id)
        .one(txn)
        .await
        .map_err(StoreError::from)?
        .map(|s| s.name)
        .unwrap_or_default();
    let percent = Percent::from_hundredths(change.after_hundredths)
        .map(|p| p.to_string())
        .unwrap_or_else(|_| change.after_hundredths.to_string());
    let order = order_number_for(txn, inv, d).await?;
    // Money taken back (a payment un-applied) is said as such, its amount positive.
    let withdrawn = moved_minor < 0;
    let title = if withdrawn {
        format!("Платёж отозван по сделке «{}»: {}%", d.title, percent)
    } else {
        format!("Оплата по сделке «{}»: {}%", d.title, percent)
    };
    let body = format!(
        "{}Сделка: {}\nСумма платежа: {} {}\nОплачено по сделке: {}%\nЗаказ: {}\nСчёт: {}\nСтадия сделки: {}",
        if withdrawn {
            "Платёж отозван\n"
        } else {
            ""
        },
        d.title,
        Money::from_minor(moved_minor.saturating_abs()),
        inv.currency,
        percent,
        order,
        inv.number.as_deref().unwrap_or("без номера"),
        stage,
    );
    let about = Some(EntityRef {
        entity_type: "deal",
        entity_id: d.id,
    });
    for rule in rules {
        if !rule.fires_on(&change) {
            continue;
        }
        for action in &rule.actions {
            let (to, email) = match action {
                Action::NotifySupervisor { email } => (
                    crate::people::supervisor_of(txn, d.responsible_id).await?,
                    *email,
                ),
                Action::NotifyResponsible { email } => (Some(d.responsible_id), *email),
                Action::NotifyUser { user_id, email } => (Some(*user_id), *email),
                // Refused for this trigger when the rule is saved.
                Action::BillTime { .. } => continue,
            };
            let Some(to) = to else { continue };
            if email {
                notify_and_email(txn, to, "deal_payment", &title, &body, about).await?;
            } else {
                notify(txn, to, "deal_payment", &title, &body, about).await?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Operations

/// The payments, a page at a time.
pub async fn list_payments(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
    f: PaymentListFilter,
) -> OpResult<ListPage<PaymentView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let mut q = payment::Entity::find().filter(payment::Column::DeletedAt.is_null());
    if let Some(c) = payment_scope(&db, caller).await? {
        q = q.filter(c);
    }
    if let Some(v) = f.organization_id {
        q = q.filter(payment::Column::OrganizationId.eq(v));
    }
    if let Some(v) = f.payer_legal_entity_id {
        q = q.filter(payment::Column::PayerLegalEntityId.eq(v));
    }
    if let Some(v) = f.date_from {
        q = q.filter(payment::Column::PaymentDate.gte(v));
    }
    if let Some(v) = f.date_to {
        q = q.filter(payment::Column::PaymentDate.lte(v));
    }
    match f.unapplied {
        Some(true) => {
            q = q.filter(
                Expr::col(payment::Column::AppliedMinor)
                    .lt(Expr::col(payment::Column::AmountMinor)),
            )
        }
        Some(false) => {
            q = q.filter(
                Expr::col(payment::Column::AppliedMinor)
                    .eq(Expr::col(payment::Column::AmountMinor)),
            )
        }
        None => {}
    }
    if let Some(t) = page.updated_since {
        q = q.filter(payment::Column::UpdatedAt.gte(t));
    }
    let page = fetch_page(&db, q, req, payment::Column::Id, |m| m.id).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|p| p.id).collect();
    let apps = applications_of(&db, &ids).await?;
    Ok(ListPage::of(page, |p| PaymentView::new(p, &apps)))
}

/// Registers an incoming payment and applies it at once, in order, to the invoices named, in
/// one transaction.
pub async fn register_payment(
    db: Db<'_>,
    caller: &Caller,
    req: RegisterPayment,
) -> OpResult<PaymentView> {
    let amount = amount_minor("amount", req.amount)?;
    let currency =
        currency("currency", req.currency.as_deref()).map_err(|v| Error::validation(v.into()))?;
    if req.payer_legal_entity_id.is_none() && clean(&req.payer_name).is_none() {
        return Err(Error::field(
            "payer_name",
            "required",
            "name the payer: payer_legal_entity_id or payer_name",
        ));
    }
    let txn = db.begin().await?;
    if let Some(o) = req.organization_id {
        ensure_exists::<organization::Entity, _>(&txn, "organization_id", o).await?;
    }
    if let Some(l) = req.payer_legal_entity_id {
        super::refs::billed_party(&txn, caller, "payer_legal_entity_id", l).await?;
    }
    let at = now();
    let model = payment::Model {
        id: Uuid::now_v7(),
        organization_id: req.organization_id,
        payment_date: req.date.unwrap_or_else(today),
        amount_minor: amount,
        applied_minor: 0,
        currency,
        payer_legal_entity_id: req.payer_legal_entity_id,
        payer_name: clean(&req.payer_name),
        payer_inn: req.payer_inn.as_ref().map(|i| i.as_str().to_owned()),
        payment_order_number: clean(&req.payment_order_number),
        purpose: clean(&req.purpose),
        created_by: caller.user_id,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    // Inserted first so the applications can move its money; journalled once, as it stands
    // after them.
    let id = model.id;
    payment::Entity::insert(model.into_active_model().reset_all())
        .exec_without_returning(&txn)
        .await?;
    for a in &req.applications {
        apply(&txn, caller, id, a).await?;
    }
    let view = payment_view(&txn, id).await?;
    journal_payment(&txn, &caller.actor(), None, &view, "created", None).await?;
    txn.commit().await?;
    Ok(view)
}

/// One payment with its applications.
pub async fn get_payment(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<PaymentView> {
    visible_payment(&db, caller, id, false).await?;
    payment_view(&db, id).await
}

/// Applies (part of) a payment to an invoice.
pub async fn apply_payment(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    req: NewApplication,
) -> OpResult<PaymentView> {
    let txn = db.begin().await?;
    visible_payment(&txn, caller, id, false).await?;
    let before = payment_view(&txn, id).await?;
    let note = apply(&txn, caller, id, &req).await?;
    let view = payment_view(&txn, id).await?;
    journal_payment(
        &txn,
        &caller.actor(),
        Some(&before),
        &view,
        "applied",
        Some(&note),
    )
    .await?;
    txn.commit().await?;
    Ok(view)
}

/// Takes an application of a payment back.
pub async fn unapply_payment(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    application_id: Uuid,
) -> OpResult<PaymentView> {
    let txn = db.begin().await?;
    visible_payment(&txn, caller, id, false).await?;
    let before = payment_view(&txn, id).await;
    let note = unapply(&txn, caller, id, application_id).await?;
    let view = payment_view(&txn, id).await?;
    journal_payment(
        &txn,
        &caller.actor(),
        before.ok().as_ref(),
        &view,
        "unapplied",
        Some(&note),
    )
    .await?;
    txn.commit().await?;
    Ok(view)
}
