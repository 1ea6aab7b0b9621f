//! `/bank-statements` (INT-1C-2): a `1CClientBankExchange` statement in, its incoming money as
//! payments, each matched to the customer invoice it pays.
//!
//! One import is one transaction. Each document is first claimed by its identity (our account,
//! number, date, amount, counterparty) under a unique index — `INSERT … ON CONFLICT DO
//! NOTHING`, so a document a previous import (or a concurrent one, which waits for the first to
//! commit on PostgreSQL and is serialised on SQLite) already brought is a `duplicate` and
//! nothing else happens to it. A claimed incoming document to one of our organisations'
//! accounts becomes a payment through [`payments::register_payment`]; when the match is sure
//! the payment is applied to the invoice in the same call (the invoice, the deal's payment
//! percent and the payment watcher follow, as for any payment). Unsure matches and payments
//! without an invoice wait for review: confirming applies the payment through
//! [`payments::apply_payment`], rejecting leaves it unapplied.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sdelka_domain::bank_exchange::{self, Direction, Warning};
use sdelka_domain::bank_matching::{Candidate, Confidence, match_payment};
use sdelka_domain::customer_invoice::InvoiceStatus;
use sdelka_domain::money::Money;
use sdelka_domain::requisites::Inn;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::payments::{self, NewApplication, RegisterPayment};
use super::{Caller, Db, Error, ErrorCode, OpResult};
use crate::StoreError;
use crate::entity::{
    bank_account, bank_statement, bank_statement_document as doc_row, invoice, legal_entity,
    organization, payment, supplier_invoice,
};
use crate::journal::{self, Change, now};
use crate::records::snapshot;

// ---------------------------------------------------------------------------------------------
// Wire types

/// A statement account's balances; `adds_up` is false when opening + incoming − outgoing is
/// not the closing balance.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BalancesView {
    pub account: Option<String>,
    #[schema(value_type = Option<String>, example = "45329.91")]
    pub opening: Option<Money>,
    #[schema(value_type = Option<String>, example = "40000.00")]
    pub incoming: Option<Money>,
    #[schema(value_type = Option<String>, example = "41184.00")]
    pub outgoing: Option<Money>,
    #[schema(value_type = Option<String>, example = "44145.91")]
    pub closing: Option<Money>,
    pub adds_up: Option<bool>,
}

/// Something in the file worth telling: a requisite failing its checksum, balances that do
/// not add up, a key the standard does not define.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatementWarningView {
    /// 0-based document index, when the warning is about a document.
    pub document: Option<usize>,
    pub document_number: Option<String>,
    /// `header`, `account` or `document`.
    pub section: String,
    pub key: Option<String>,
    /// `checksum_mismatch`, `invalid_length`, `balance_mismatch`, `unknown_key`, …
    pub rule: String,
    pub message: String,
}

impl From<&Warning> for StatementWarningView {
    fn from(w: &Warning) -> Self {
        use bank_exchange::Location;
        let (section, document, document_number) = match &w.location {
            Location::Header => ("header", None, None),
            Location::Account { .. } => ("account", None, None),
            Location::Document { index, number } => ("document", Some(*index), number.clone()),
        };
        StatementWarningView {
            document,
            document_number,
            section: section.to_owned(),
            key: w.key.clone(),
            rule: w.rule.clone(),
            message: w.message.clone(),
        }
    }
}

/// What the import did with one document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DocumentResultView {
    /// 0-based position in the file.
    pub position: usize,
    /// The stored document (absent for a document that could not be stored).
    pub document_id: Option<Uuid>,
    /// `payment_order`, `bank_order`, … or `other`.
    pub kind: String,
    /// The kind as the file names it.
    pub kind_name: String,
    pub number: Option<String>,
    pub date: Option<NaiveDate>,
    #[schema(value_type = Option<String>, example = "6000.00")]
    pub amount: Option<Money>,
    /// `incoming`, `outgoing` or `unknown`.
    pub direction: String,
    pub payer_name: Option<String>,
    pub payer_inn: Option<String>,
    pub purpose: String,
    /// `applied` (a payment, applied to its invoice; or an outgoing payment that marked its
    /// supplier invoice paid), `created` (a payment, not applied: see `review`), `matched`
    /// (outgoing, recorded; in `review` when a supplier invoice is suggested), `duplicate` (an earlier import brought
    /// it; nothing done), `warning` (not imported: see `reason`).
    pub result: String,
    pub payment_id: Option<Uuid>,
    pub invoice_id: Option<Uuid>,
    /// An outgoing payment's supplier invoice (paid by it when `applied`, else suggested).
    #[serde(default)]
    pub supplier_invoice_id: Option<Uuid>,
    /// `sure`, `unsure` or `none`.
    pub confidence: Option<String>,
    pub reason: Option<String>,
    /// How many of the statement's warnings are about this document.
    pub warning_count: usize,
}

/// A payment waiting for a person: the suggested invoice (if any) and why it was not sure.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewItemView {
    pub document_id: Uuid,
    pub statement_id: Uuid,
    pub position: i32,
    pub number: Option<String>,
    pub date: Option<NaiveDate>,
    #[schema(value_type = String, example = "900.00")]
    pub amount: Money,
    pub payer_name: Option<String>,
    pub payer_inn: Option<String>,
    pub purpose: String,
    pub payment_id: Option<Uuid>,
    /// The suggested invoice (incoming money).
    pub invoice_id: Option<Uuid>,
    /// `incoming` or `outgoing`.
    pub direction: String,
    /// The suggested supplier invoice (outgoing money): confirming marks it paid.
    pub supplier_invoice_id: Option<Uuid>,
    pub confidence: String,
    pub reason: Option<String>,
    /// `pending`, `confirmed` or `rejected`.
    pub status: String,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTime<Utc>>,
}

impl From<&doc_row::Model> for ReviewItemView {
    fn from(d: &doc_row::Model) -> Self {
        ReviewItemView {
            document_id: d.id,
            statement_id: d.statement_id,
            position: d.position,
            number: d.number.clone(),
            date: d.document_date,
            amount: Money::from_minor(d.amount_minor),
            payer_name: d.payer_name.clone(),
            payer_inn: d.payer_inn.clone(),
            purpose: d.purpose.clone(),
            payment_id: d.payment_id,
            invoice_id: d.invoice_id,
            direction: d.direction.clone(),
            supplier_invoice_id: d.supplier_invoice_id,
            confidence: d.confidence.clone(),
            reason: d.reason.clone(),
            status: d.review_status.clone(),
            reviewed_by: d.reviewed_by,
            reviewed_at: d.reviewed_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Summary {
    balances: Vec<BalancesView>,
    warnings: Vec<StatementWarningView>,
    documents: Vec<DocumentResultView>,
}

/// An imported statement.
#[derive(Debug, Serialize, ToSchema)]
pub struct BankStatementView {
    pub id: Uuid,
    /// The statement's account (`РасчСчет` of the header).
    pub account: Option<String>,
    /// Our organisation owning the account, when one does.
    pub organization_id: Option<Uuid>,
    /// `ВерсияФормата`: `1.02`, `1.03`.
    pub format_version: String,
    /// The encoding the file was read in: `windows-1251`, `UTF-8`, `IBM866`.
    pub encoding: String,
    pub content_sha256: String,
    pub document_count: i32,
    /// `completed` (imported in the request), or for a large file its job: `queued`,
    /// `running`, `completed`, `failed` (see `error`).
    pub state: String,
    /// How many documents are imported so far (`document_count` when completed).
    pub processed_documents: i32,
    /// Why the job failed.
    pub error: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
    pub balances: Vec<BalancesView>,
    /// Counts by result.
    pub applied: usize,
    pub created: usize,
    pub matched: usize,
    pub duplicate: usize,
    pub not_imported: usize,
    pub warnings: Vec<StatementWarningView>,
    pub documents: Vec<DocumentResultView>,
    /// This statement's payments that wait for review, as they stand now.
    pub review: Vec<ReviewItemView>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// Confirming a review item: the invoice to apply an incoming payment to, or the supplier
/// invoice an outgoing one paid (default: the suggested one).
#[derive(Debug, Default, Deserialize, ToSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct ConfirmMatch {
    pub invoice_id: Option<Uuid>,
    pub supplier_invoice_id: Option<Uuid>,
}

// ---------------------------------------------------------------------------------------------
// The import

fn to_minor(d: Decimal) -> Option<i64> {
    Money::round(d).ok()?.to_minor().ok()
}

fn money(d: Option<Decimal>) -> Option<Money> {
    d.and_then(to_minor).map(Money::from_minor)
}

/// An open invoice, with the organisation it belongs to.
struct Open {
    organization_id: Uuid,
    candidate: Candidate,
}

async fn open_invoices<C: ConnectionTrait>(db: &C, organizations: &[Uuid]) -> OpResult<Vec<Open>> {
    if organizations.is_empty() {
        return Ok(Vec::new());
    }
    let rows = invoice::Entity::find()
        .filter(invoice::Column::OrganizationId.is_in(organizations.iter().copied()))
        .filter(invoice::Column::DeletedAt.is_null())
        .filter(invoice::Column::Status.is_in([
            <&'static str>::from(InvoiceStatus::Issued).to_owned(),
            <&'static str>::from(InvoiceStatus::PartiallyPaid).to_owned(),
        ]))
        .order_by_asc(invoice::Column::InvoiceDate)
        .order_by_asc(invoice::Column::Id)
        .all(db)
        .await
        .map_err(StoreError::from)?;
    let mut buyer_ids: Vec<Uuid> = rows.iter().map(|r| r.buyer_legal_entity_id).collect();
    buyer_ids.sort_unstable();
    buyer_ids.dedup();
    let mut inn_of: HashMap<Uuid, String> = HashMap::new();
    for chunk in buyer_ids.chunks(500) {
        for le in legal_entity::Entity::find()
            .filter(legal_entity::Column::Id.is_in(chunk.iter().copied()))
            .all(db)
            .await
            .map_err(StoreError::from)?
        {
            inn_of.insert(le.id, le.inn);
        }
    }
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(Open {
                organization_id: r.organization_id,
                candidate: Candidate {
                    id: r.id,
                    number: r.number?,
                    buyer_inn: inn_of.get(&r.buyer_legal_entity_id).cloned()?,
                    outstanding_minor: r.total_minor - r.paid_minor,
                },
            })
        })
        .collect())
}

/// The open invoices by what a payment can name them by, so that matching a statement of n
/// payments against m open invoices looks at the few invoices a payment could pay instead of
/// all m each time (n · m was the import's hot spot).
struct OpenIndex {
    /// Counter (last run of digits, no leading zeros) → positions in the open list.
    by_counter: HashMap<String, Vec<usize>>,
    /// Buyer INN → positions.
    by_inn: HashMap<String, Vec<usize>>,
}

impl OpenIndex {
    fn of(open: &[Open]) -> Self {
        let mut by_counter: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_inn: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, o) in open.iter().enumerate() {
            if let Some(c) = sdelka_domain::bank_matching::counter_of(&o.candidate.number) {
                by_counter.entry(c).or_default().push(i);
            }
            by_inn
                .entry(o.candidate.buyer_inn.clone())
                .or_default()
                .push(i);
        }
        OpenIndex { by_counter, by_inn }
    }

    /// The positions of the invoices [`match_payment`] can pick or name for this payment: those
    /// whose counter is a number in the purpose (every run of digits, and what follows
    /// `№`/`сч`), those of the payer with this amount outstanding, and one more of the payer
    /// (so the reason can say he has open invoices). In the open list's order.
    fn candidates(
        &self,
        open: &[Open],
        purpose: &str,
        payer_inn: Option<&str>,
        amount_minor: i64,
    ) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        let mut counters = sdelka_domain::bank_matching::referenced_counters(purpose);
        let mut run = String::new();
        for c in purpose.chars().chain(std::iter::once(' ')) {
            if c.is_ascii_digit() {
                run.push(c);
            } else if !run.is_empty() {
                let trimmed = run.trim_start_matches('0');
                counters.push(if trimmed.is_empty() { "0" } else { trimmed }.to_owned());
                run.clear();
            }
        }
        for c in &counters {
            if let Some(v) = self.by_counter.get(c) {
                out.extend(v);
            }
        }
        if let Some(v) = payer_inn.and_then(|i| self.by_inn.get(i)) {
            out.extend(
                v.iter()
                    .copied()
                    .filter(|i| open[*i].candidate.outstanding_minor == amount_minor),
            );
            if let Some(first) = v.iter().find(|i| open[**i].candidate.outstanding_minor > 0) {
                out.push(*first);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// An approved, unpaid supplier invoice, with the organisation it bills.
struct Owed {
    organization_id: Uuid,
    candidate: Candidate,
    /// Paid by an earlier document of this statement.
    paid: bool,
}

async fn open_supplier_invoices<C: ConnectionTrait>(
    db: &C,
    organizations: &[Uuid],
) -> OpResult<Vec<Owed>> {
    if organizations.is_empty() {
        return Ok(Vec::new());
    }
    let rows = supplier_invoice::Entity::find()
        .filter(supplier_invoice::Column::OrganizationId.is_in(organizations.iter().copied()))
        .filter(supplier_invoice::Column::DeletedAt.is_null())
        .filter(supplier_invoice::Column::State.is_in(super::bank_exports::APPROVED_UNPAID))
        .order_by_asc(supplier_invoice::Column::InvoiceDate)
        .order_by_asc(supplier_invoice::Column::Id)
        .all(db)
        .await
        .map_err(StoreError::from)?;
    let mut ids: Vec<Uuid> = rows.iter().map(|r| r.supplier_legal_entity_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut inn_of: HashMap<Uuid, String> = HashMap::new();
    for chunk in ids.chunks(500) {
        for le in legal_entity::Entity::find()
            .filter(legal_entity::Column::Id.is_in(chunk.iter().copied()))
            .all(db)
            .await
            .map_err(StoreError::from)?
        {
            inn_of.insert(le.id, le.inn);
        }
    }
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(Owed {
                organization_id: r.organization_id,
                candidate: Candidate {
                    id: r.id,
                    number: r.number,
                    buyer_inn: inn_of.get(&r.supplier_legal_entity_id).cloned()?,
                    outstanding_minor: r.amount_kopecks,
                },
                paid: false,
            })
        })
        .collect())
}

/// Marks a supplier invoice paid through its workflow (SPEC WF-INV): claimed by the caller
/// first when it still awaits an accountant, then `mark-paid` with the bank's payment. Both
/// in one savepoint: `Some(why)` when the workflow refuses (the caller is not in the
/// accountants' pool, another accountant holds it, …), and nothing is written.
async fn mark_supplier_invoice_paid(
    txn: &sea_orm::DatabaseTransaction,
    caller: &Caller,
    invoice_id: Uuid,
    paid_on: NaiveDate,
    amount_minor: i64,
    order_number: &str,
) -> OpResult<Option<String>> {
    use super::supplier_invoices::{ActionBody, SupplierInvoiceAction, act_on_supplier_invoice};
    use super::tasks::PaymentBody;
    use sea_orm::TransactionTrait;
    let sp = txn.begin().await?;
    let current = supplier_invoice::Entity::find_by_id(invoice_id)
        .one(&sp)
        .await
        .map_err(StoreError::from)?
        .ok_or_else(Error::not_found)?;
    let outcome = async {
        if current.state == "awaiting_accountant" {
            act_on_supplier_invoice(
                Db::Joined(&sp),
                caller,
                invoice_id,
                SupplierInvoiceAction::Claim,
                None,
                ActionBody::default(),
            )
            .await?;
        }
        act_on_supplier_invoice(
            Db::Joined(&sp),
            caller,
            invoice_id,
            SupplierInvoiceAction::MarkPaid,
            None,
            ActionBody {
                payment: Some(PaymentBody {
                    paid_on,
                    amount: Money::from_minor(amount_minor),
                    order_number: order_number.chars().take(50).collect(),
                }),
                ..ActionBody::default()
            },
        )
        .await
    }
    .await;
    match outcome {
        Ok(_) => {
            sp.commit().await?;
            Ok(None)
        }
        Err(e) if matches!(e.code, ErrorCode::Internal | ErrorCode::Unavailable) => Err(e),
        Err(e) => {
            sp.rollback().await?;
            Ok(Some(e.detail))
        }
    }
}

/// Our accounts and the statement's, read once per transaction.
struct Ours {
    /// Settlement account → organisation (of the live organisations).
    accounts: HashMap<String, Uuid>,
    organizations: Vec<Uuid>,
    statement_account: Option<String>,
    organization_id: Option<Uuid>,
}

async fn ours_of<C: ConnectionTrait>(txn: &C, st: &bank_exchange::Statement) -> OpResult<Ours> {
    let live: std::collections::HashSet<Uuid> = organization::Entity::find()
        .filter(organization::Column::DeletedAt.is_null())
        .all(txn)
        .await
        .map_err(StoreError::from)?
        .into_iter()
        .map(|o| o.id)
        .collect();
    let accounts: HashMap<String, Uuid> = bank_account::Entity::find()
        .filter(bank_account::Column::DeletedAt.is_null())
        .order_by_asc(bank_account::Column::CreatedAt)
        .all(txn)
        .await
        .map_err(StoreError::from)?
        .into_iter()
        .filter(|a| live.contains(&a.organization_id))
        .map(|a| (a.settlement_account, a.organization_id))
        .collect();
    let statement_account = st
        .header_value("РасчСчет")
        .or_else(|| st.accounts.first().and_then(|a| a.account()))
        .map(str::to_owned);
    let organization_id = statement_account
        .as_deref()
        .and_then(|a| accounts.get(a).copied());
    let mut organizations: Vec<Uuid> = accounts.values().copied().collect();
    organizations.sort_unstable();
    organizations.dedup();
    Ok(Ours {
        accounts,
        organizations,
        statement_account,
        organization_id,
    })
}

fn balances_of(st: &bank_exchange::Statement) -> Vec<BalancesView> {
    st.accounts
        .iter()
        .map(|a| {
            let b = a.balances();
            BalancesView {
                account: a.account().map(str::to_owned),
                opening: money(b.opening),
                incoming: money(b.incoming),
                outgoing: money(b.outgoing),
                closing: money(b.closing),
                adds_up: b.adds_up(),
            }
        })
        .collect()
}

/// Imports the documents `range` of a statement in `txn`: each claimed by its identity,
/// incoming money as payments (sure matches applied), outgoing money matched to supplier
/// invoices; answers what happened to each.
#[allow(clippy::too_many_arguments)]
async fn import_documents(
    txn: &sea_orm::DatabaseTransaction,
    caller: &Caller,
    st: &bank_exchange::Statement,
    warnings: &[StatementWarningView],
    statement_id: Uuid,
    at: DateTime<Utc>,
    range: std::ops::Range<usize>,
) -> OpResult<Vec<DocumentResultView>> {
    let o = ours_of(txn, st).await?;
    let ours = &o.accounts;
    let statement_account = o.statement_account.clone();
    let our_accounts: Vec<&str> = ours.keys().map(String::as_str).collect();
    let docs = &st.documents[range.clone()];
    let mut open = if docs
        .iter()
        .any(|d| d.direction(&our_accounts) == Direction::Incoming)
    {
        open_invoices(txn, &o.organizations).await?
    } else {
        Vec::new()
    };
    let index = OpenIndex::of(&open);
    let mut owed = if docs
        .iter()
        .any(|d| d.direction(&our_accounts) == Direction::Outgoing)
    {
        open_supplier_invoices(txn, &o.organizations).await?
    } else {
        Vec::new()
    };
    let mut results = Vec::with_capacity(range.len());
    for (position, d) in st
        .documents
        .iter()
        .enumerate()
        .skip(range.start)
        .take(range.len())
    {
        let direction = d.direction(&our_accounts);
        let (payer, recipient) = (d.payer(), d.recipient());
        let (ours_side, other) = match direction {
            Direction::Outgoing => (&payer, &recipient),
            _ => (&recipient, &payer),
        };
        let our_account = ours_side
            .account
            .clone()
            .filter(|a| ours.contains_key(a))
            .or_else(|| statement_account.clone());
        let amount_minor = d.amount().and_then(to_minor).filter(|m| *m > 0);
        let valid_payer_inn = payer.inn.as_deref().and_then(|i| Inn::parse(i).ok());
        let mut r = DocumentResultView {
            position,
            document_id: None,
            kind: d.kind().code().to_owned(),
            kind_name: d.kind_name.clone(),
            number: d.number().map(str::to_owned),
            date: d.date(),
            amount: amount_minor.map(Money::from_minor),
            direction: serde_plain(direction),
            payer_name: payer.name.clone(),
            payer_inn: payer.inn.clone(),
            purpose: d.purpose(),
            result: "warning".to_owned(),
            payment_id: None,
            invoice_id: None,
            supplier_invoice_id: None,
            confidence: None,
            reason: None,
            warning_count: warnings
                .iter()
                .filter(|w| w.document == Some(position))
                .count(),
        };
        let Some(amount_minor) = amount_minor else {
            r.reason = Some("the document has no positive Сумма; not imported".to_owned());
            results.push(r);
            continue;
        };
        let identity = format!(
            "{}|{}|{}|{}|{}|{}",
            our_account.as_deref().unwrap_or(""),
            d.number().unwrap_or(""),
            d.date().map(bank_exchange::format_date).unwrap_or_default(),
            amount_minor,
            other.inn.as_deref().unwrap_or(""),
            other.account.as_deref().unwrap_or(""),
        );
        let doc_id = Uuid::now_v7();
        let claimed = doc_row::Entity::insert(
            doc_row::Model {
                id: doc_id,
                identity_key: identity.clone(),
                statement_id,
                position: i32::try_from(position).unwrap_or(i32::MAX),
                kind: d.kind().code().to_owned(),
                direction: serde_plain(direction),
                number: r.number.clone(),
                document_date: r.date,
                amount_minor,
                payer_inn: payer.inn.clone(),
                payer_name: payer.name.clone(),
                recipient_inn: recipient.inn.clone(),
                purpose: r.purpose.clone(),
                payment_id: None,
                invoice_id: None,
                supplier_invoice_id: None,
                confidence: Confidence::None.as_str().to_owned(),
                reason: None,
                review_status: "none".to_owned(),
                reviewed_by: None,
                reviewed_at: None,
                created_at: at,
            }
            .into_active_model(),
        )
        .on_conflict(
            OnConflict::column(doc_row::Column::IdentityKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await
        .map_err(StoreError::from)?;
        if claimed == 0 {
            let earlier = doc_row::Entity::find()
                .filter(doc_row::Column::IdentityKey.eq(identity))
                .one(txn)
                .await
                .map_err(StoreError::from)?;
            r.result = "duplicate".to_owned();
            if let Some(e) = earlier {
                r.document_id = Some(e.id);
                r.payment_id = e.payment_id;
                r.invoice_id = e.invoice_id;
                r.reason = Some(format!(
                    "imported before, with statement {}",
                    e.statement_id
                ));
            }
            results.push(r);
            continue;
        }
        r.document_id = Some(doc_id);
        let org = our_account.as_deref().and_then(|a| ours.get(a).copied());
        match (direction, org) {
            (Direction::Incoming, Some(org)) => {
                let candidates: Vec<&Candidate> = index
                    .candidates(
                        &open,
                        &r.purpose,
                        valid_payer_inn.as_ref().map(Inn::as_str),
                        amount_minor,
                    )
                    .into_iter()
                    .map(|i| &open[i])
                    .filter(|o| o.organization_id == org && o.candidate.outstanding_minor > 0)
                    .map(|o| &o.candidate)
                    .collect();
                let m = match_payment(
                    &r.purpose,
                    valid_payer_inn.as_ref().map(Inn::as_str),
                    amount_minor,
                    &candidates,
                );
                let sure = m.confidence == Confidence::Sure;
                let payer_legal_entity_id = match (sure, m.invoice_id) {
                    (true, Some(inv)) => invoice::Entity::find_by_id(inv)
                        .one(txn)
                        .await
                        .map_err(StoreError::from)?
                        .map(|i| i.buyer_legal_entity_id),
                    _ => None,
                };
                let payment = payments::register_payment(
                    Db::Joined(txn),
                    caller,
                    RegisterPayment {
                        date: d.credited_on().or(d.date()),
                        amount: Money::from_minor(amount_minor),
                        currency: None,
                        organization_id: Some(org),
                        payer_legal_entity_id,
                        payer_name: payer
                            .name
                            .clone()
                            .map(|n| n.chars().take(500).collect())
                            .or_else(|| Some("—".to_owned())),
                        payer_inn: valid_payer_inn.clone(),
                        payment_order_number: r
                            .number
                            .clone()
                            .map(|n| n.chars().take(50).collect()),
                        purpose: Some(r.purpose.chars().take(2000).collect())
                            .filter(|p: &String| !p.trim().is_empty()),
                        applications: match (sure, m.invoice_id) {
                            (true, Some(invoice_id)) => vec![NewApplication {
                                invoice_id,
                                amount: None,
                            }],
                            _ => Vec::new(),
                        },
                    },
                )
                .await?;
                if sure && let Some(inv) = m.invoice_id {
                    for o in open.iter_mut().filter(|o| o.candidate.id == inv) {
                        o.candidate.outstanding_minor -= amount_minor;
                    }
                }
                r.payment_id = Some(payment.id);
                r.invoice_id = m.invoice_id;
                r.confidence = Some(m.confidence.as_str().to_owned());
                r.reason = Some(m.reason.clone());
                r.result = if sure { "applied" } else { "created" }.to_owned();
                doc_row::ActiveModel {
                    id: Set(doc_id),
                    payment_id: Set(Some(payment.id)),
                    invoice_id: Set(m.invoice_id),
                    confidence: Set(m.confidence.as_str().to_owned()),
                    reason: Set(Some(m.reason)),
                    review_status: Set(if sure { "applied" } else { "pending" }.to_owned()),
                    ..Default::default()
                }
                .update(txn)
                .await
                .map_err(StoreError::from)?;
            }
            (Direction::Incoming, None) => {
                r.reason = Some(format!(
                    "incoming to {}, which is not an account of ours; recorded, no payment",
                    our_account.as_deref().unwrap_or("an unnamed account")
                ));
            }
            (Direction::Outgoing, Some(org)) => {
                r.result = "matched".to_owned();
                let recipient_inn = recipient.inn.as_deref().and_then(|i| Inn::parse(i).ok());
                let candidates: Vec<&Candidate> = owed
                    .iter()
                    .filter(|o| o.organization_id == org && !o.paid)
                    .map(|o| &o.candidate)
                    .collect();
                let m = if candidates.is_empty() {
                    None
                } else {
                    Some(match_payment(
                        &r.purpose,
                        recipient_inn.as_ref().map(Inn::as_str),
                        amount_minor,
                        &candidates,
                    ))
                };
                let Some(m) = m.filter(|m| m.invoice_id.is_some()) else {
                    r.reason = Some("outgoing payment; recorded".to_owned());
                    results.push(r);
                    continue;
                };
                let mut reason = m.reason.clone();
                let mut status = "pending";
                if m.confidence == Confidence::Sure
                    && let Some(si) = m.invoice_id
                {
                    let paid_on = d.debited_on().or(d.date()).unwrap_or(at.date_naive());
                    match mark_supplier_invoice_paid(
                        txn,
                        caller,
                        si,
                        paid_on,
                        amount_minor,
                        r.number.as_deref().unwrap_or("б/н"),
                    )
                    .await?
                    {
                        None => {
                            status = "applied";
                            r.result = "applied".to_owned();
                            for o in owed.iter_mut().filter(|o| o.candidate.id == si) {
                                o.paid = true;
                            }
                        }
                        Some(why) => {
                            reason = format!("{reason}; not marked paid: {why}");
                        }
                    }
                }
                r.supplier_invoice_id = m.invoice_id;
                r.confidence = Some(m.confidence.as_str().to_owned());
                r.reason = Some(reason.clone());
                doc_row::ActiveModel {
                    id: Set(doc_id),
                    supplier_invoice_id: Set(m.invoice_id),
                    confidence: Set(m.confidence.as_str().to_owned()),
                    reason: Set(Some(reason)),
                    review_status: Set(status.to_owned()),
                    ..Default::default()
                }
                .update(txn)
                .await
                .map_err(StoreError::from)?;
            }
            (Direction::Outgoing, None) => {
                r.result = "matched".to_owned();
                r.reason = Some("outgoing payment; recorded".to_owned());
            }
            (Direction::Unknown, _) => {
                r.reason = Some(
                    "neither dated as debited or credited nor naming one of our accounts; recorded"
                        .to_owned(),
                );
            }
        }
        results.push(r);
    }

    Ok(results)
}

/// Imports a statement file: every document once, incoming money as payments, sure matches
/// applied, the rest in the review list. A statement of more than `job_threshold` documents
/// is only stored here, `queued`: the statement job ([`StatementRunner`]) imports it in
/// batches, its `processed_documents` telling the progress.
pub async fn import_statement(
    db: Db<'_>,
    caller: &Caller,
    bytes: &[u8],
    job_threshold: usize,
) -> OpResult<BankStatementView> {
    use base64::Engine;
    let parsed =
        bank_exchange::parse(bytes).map_err(|e| Error::field("file", e.code(), e.to_string()))?;
    let st = &parsed.statement;
    let sha = hex::encode(Sha256::digest(bytes));
    let statement_id = Uuid::now_v7();
    let at = now();
    let warnings: Vec<StatementWarningView> = parsed
        .warnings
        .iter()
        .map(StatementWarningView::from)
        .collect();
    let total = st.documents.len();
    let queued = total > job_threshold;
    let txn = db.begin().await?;
    let o = ours_of(&txn, st).await?;
    let documents = if queued {
        Vec::new()
    } else {
        import_documents(&txn, caller, st, &warnings, statement_id, at, 0..total).await?
    };
    let summary = Summary {
        balances: balances_of(st),
        warnings,
        documents,
    };
    bank_statement::Model {
        id: statement_id,
        organization_id: o.organization_id,
        account: o.statement_account,
        format_version: st.version().unwrap_or("").to_owned(),
        encoding: parsed.encoding.to_owned(),
        content_sha256: sha,
        document_count: i32::try_from(total).unwrap_or(i32::MAX),
        summary: serde_json::to_string(&summary)
            .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?,
        created_by: Some(caller.user_id),
        created_at: at,
        state: if queued { "queued" } else { "completed" }.to_owned(),
        processed_documents: if queued {
            0
        } else {
            i32::try_from(total).unwrap_or(i32::MAX)
        },
        content: queued.then(|| base64::engine::general_purpose::STANDARD.encode(bytes)),
        error: None,
        lease_owner: None,
        lease_until: None,
        finished_at: (!queued).then_some(at),
    }
    .into_active_model()
    .insert(&txn)
    .await
    .map_err(StoreError::from)?;
    let view = statement_view(&txn, statement_id, None).await?;
    let after = snapshot(&view);
    journal::record(
        &txn,
        &caller.actor(),
        Change {
            entity_type: STATEMENT,
            entity_id: statement_id,
            action: "created",
            before: None,
            after: Some(&after),
            comment: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(view)
}

/// How long a runner holds a statement before another may take it over.
const LEASE_SECONDS: i64 = 120;
/// Documents per transaction of the statement job.
pub const JOB_BATCH: usize = 500;

/// Runs queued statements, one batch of [`JOB_BATCH`] documents per transaction, as the user
/// who uploaded the file (his roles and visibility). Any instance may run it; a lease keeps
/// one statement on one runner, and a runner that dies leaves the statement to the next one
/// after the lease, which goes on from `processed_documents` (a document an earlier batch
/// brought is a `duplicate` by its identity, so nothing is done twice).
pub struct StatementRunner {
    pub store: crate::Store,
    pub owner: String,
}

impl StatementRunner {
    /// Claims one statement and runs it to the end. Returns whether there was one.
    pub async fn tick(&self) -> OpResult<bool> {
        use base64::Engine;
        const QUEUE: crate::jobs::LeaseQueue = crate::jobs::LeaseQueue {
            table: "bank_statements",
            on_claim: ", state = 'running'",
            due: "state IN ('queued', 'running')",
            order_by: "created_at",
        };
        let lease = chrono::Duration::seconds(LEASE_SECONDS);
        let Some(job) = crate::jobs::claim::<bank_statement::Entity, _>(
            &self.store.conn,
            &QUEUE,
            &self.owner,
            lease,
            1,
        )
        .await?
        .pop() else {
            return Ok(false);
        };
        let id = job.id;
        let parsed = job
            .content
            .as_deref()
            .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
            .ok_or_else(|| "the stored file cannot be read".to_owned())
            .and_then(|b| bank_exchange::parse(&b).map_err(|e| e.to_string()));
        let caller = match (parsed.as_ref(), job.created_by) {
            (Ok(_), Some(user)) => self.caller_of(user, id).await?,
            _ => None,
        };
        let (parsed, caller) = match (parsed, caller) {
            (Ok(p), Some(c)) => (p, c),
            (Err(why), _) => return self.finish(id, "failed", Some(why)).await,
            (Ok(_), None) => {
                let why = "the user who uploaded the statement is no longer active".to_owned();
                return self.finish(id, "failed", Some(why)).await;
            }
        };
        let st = &parsed.statement;
        let total = st.documents.len();
        let mut done = usize::try_from(job.processed_documents).unwrap_or(0);
        while done < total {
            let end = (done + JOB_BATCH).min(total);
            let txn = self.store.begin().await?;
            let row = bank_statement::Entity::find_by_id(id)
                .one(&txn)
                .await
                .map_err(StoreError::from)?
                .ok_or_else(Error::not_found)?;
            if row.lease_owner.as_deref() != Some(self.owner.as_str()) {
                // Taken over after our lease ran out: the other runner goes on.
                return Ok(true);
            }
            let mut summary: Summary = serde_json::from_str(&row.summary)
                .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
            let results = import_documents(
                &txn,
                &caller,
                st,
                &summary.warnings,
                id,
                row.created_at,
                done..end,
            )
            .await?;
            summary.documents.extend(results);
            bank_statement::ActiveModel {
                id: Set(id),
                summary: Set(serde_json::to_string(&summary)
                    .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?),
                processed_documents: Set(i32::try_from(end).unwrap_or(i32::MAX)),
                lease_until: Set(Some(now() + lease)),
                ..Default::default()
            }
            .update(&txn)
            .await
            .map_err(StoreError::from)?;
            txn.commit().await?;
            done = end;
        }
        self.finish(id, "completed", None).await
    }

    /// The uploader as a caller (his roles now), or `None` when he is no longer active.
    async fn caller_of(&self, user_id: Uuid, id: Uuid) -> OpResult<Option<Caller>> {
        use crate::entity::user;
        let Some(u) = user::Entity::find_by_id(user_id)
            .one(&self.store.conn)
            .await
            .map_err(StoreError::from)?
            .filter(|u| u.active && u.deleted_at.is_none())
        else {
            return Ok(None);
        };
        Ok(Some(Caller {
            user_id,
            roles: sdelka_domain::role::RoleSet::from_storage(&u.roles),
            api_token_id: None,
            correlation_id: Some(format!("bank-statement:{id}")),
        }))
    }

    /// Ends the job: `completed` or `failed` (with why), the file dropped, journalled.
    async fn finish(&self, id: Uuid, state: &str, error: Option<String>) -> OpResult<bool> {
        let txn = self.store.begin().await?;
        let before = snapshot(&statement_view(&txn, id, None).await?);
        let creator = bank_statement::Entity::find_by_id(id)
            .one(&txn)
            .await
            .map_err(StoreError::from)?
            .and_then(|r| r.created_by);
        bank_statement::ActiveModel {
            id: Set(id),
            state: Set(state.to_owned()),
            error: Set(error),
            content: Set(None),
            lease_owner: Set(None),
            lease_until: Set(None),
            finished_at: Set(Some(now())),
            ..Default::default()
        }
        .update(&txn)
        .await
        .map_err(StoreError::from)?;
        let after = snapshot(&statement_view(&txn, id, None).await?);
        journal::record(
            &txn,
            &crate::Actor {
                user_id: creator,
                api_token_id: None,
                request_id: Some(format!("bank-statement:{id}")),
            },
            Change {
                entity_type: STATEMENT,
                entity_id: id,
                action: state,
                before: Some(&before),
                after: Some(&after),
                comment: None,
            },
        )
        .await?;
        txn.commit().await?;
        tracing::info!(statement_id = %id, state, "bank statement job finished");
        Ok(true)
    }
}

/// The statement's record type in the journal and the event feed.
pub const STATEMENT: &str = "bank_statement";
/// A statement document's record type (its review decisions).
pub const DOCUMENT: &str = "bank_statement_document";

/// The condition on `bank_statement_documents` of those the caller may see (`None`: all).
/// Accountants and admins see every document; anyone else those whose payment he may see
/// (`visibility::payments_condition`: registered in his scope or applied to an invoice of it)
/// or whose suggested invoice he may see.
pub async fn document_scope<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
) -> OpResult<Option<sea_orm::sea_query::SimpleExpr>> {
    use sea_orm::sea_query::{ExprTrait, Query};
    if super::invoices::sees_all_invoices(caller) {
        return Ok(None);
    }
    let scope = caller.visibility(db).await?;
    let Some(payments) = crate::visibility::payments_condition(&scope) else {
        return Ok(None);
    };
    let visible_payments = Query::select()
        .column(payment::Column::Id)
        .from(payment::Entity)
        .and_where(payment::Column::DeletedAt.is_null())
        .and_where(payments)
        .to_owned();
    let mut cond = doc_row::Column::PaymentId.in_subquery(visible_payments);
    if let Some(invoices) = scope.condition(invoice::Column::ResponsibleId) {
        let visible_invoices = Query::select()
            .column(invoice::Column::Id)
            .from(invoice::Entity)
            .and_where(invoice::Column::DeletedAt.is_null())
            .and_where(invoices)
            .to_owned();
        cond = cond.or(doc_row::Column::InvoiceId.in_subquery(visible_invoices));
    }
    // Outgoing money: the supplier invoices he may see (SPEC WF-INV's own visibility).
    let viewer = super::approvals::invoice_viewer(db, caller).await?;
    let mut supplier = Query::select()
        .column(supplier_invoice::Column::Id)
        .from(supplier_invoice::Entity)
        .and_where(supplier_invoice::Column::DeletedAt.is_null())
        .to_owned();
    if let Some(c) = crate::approvals::invoice_visibility(&viewer) {
        supplier.cond_where(c);
    }
    cond = cond.or(doc_row::Column::SupplierInvoiceId.in_subquery(supplier));
    Ok(Some(cond))
}

/// A statement document the caller may see, or 404 — the same answer as for an unknown id.
async fn visible_document<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> OpResult<doc_row::Model> {
    let mut q = doc_row::Entity::find().filter(doc_row::Column::Id.eq(id));
    if let Some(c) = document_scope(db, caller).await? {
        q = q.filter(c);
    }
    q.one(db)
        .await
        .map_err(StoreError::from)?
        .ok_or_else(Error::not_found)
}

fn serde_plain(d: Direction) -> String {
    match d {
        Direction::Incoming => "incoming",
        Direction::Outgoing => "outgoing",
        Direction::Unknown => "unknown",
    }
    .to_owned()
}

/// The statement as its `GET` answers it; `scope` narrows its review list to the documents a
/// caller may see.
async fn statement_view<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    scope: Option<sea_orm::sea_query::SimpleExpr>,
) -> OpResult<BankStatementView> {
    let s = bank_statement::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(StoreError::from)?
        .ok_or_else(Error::not_found)?;
    let summary: Summary = serde_json::from_str(&s.summary)
        .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
    let mut review = doc_row::Entity::find()
        .filter(doc_row::Column::StatementId.eq(id))
        .filter(doc_row::Column::ReviewStatus.is_in(["pending", "confirmed", "rejected"]));
    if let Some(c) = scope {
        review = review.filter(c);
    }
    let review = review
        .order_by_asc(doc_row::Column::Position)
        .all(db)
        .await
        .map_err(StoreError::from)?;
    let count = |r: &str| summary.documents.iter().filter(|d| d.result == r).count();
    Ok(BankStatementView {
        id: s.id,
        account: s.account,
        organization_id: s.organization_id,
        format_version: s.format_version,
        encoding: s.encoding,
        content_sha256: s.content_sha256,
        document_count: s.document_count,
        state: s.state,
        processed_documents: s.processed_documents,
        error: s.error,
        finished_at: s.finished_at,
        applied: count("applied"),
        created: count("created"),
        matched: count("matched"),
        duplicate: count("duplicate"),
        not_imported: count("warning"),
        balances: summary.balances,
        warnings: summary.warnings,
        documents: summary.documents,
        review: review.iter().map(ReviewItemView::from).collect(),
        created_by: s.created_by,
        created_at: s.created_at,
    })
}

/// One imported statement, with its review list as it stands. Accountants and admins see
/// every statement; anyone else those imported by someone in his scope, with the review items
/// he may see.
pub async fn get_statement(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<BankStatementView> {
    if !super::invoices::sees_all_invoices(caller) {
        let s = bank_statement::Entity::find_by_id(id)
            .one(&db)
            .await
            .map_err(StoreError::from)?
            .ok_or_else(Error::not_found)?;
        if !caller.visibility(&db).await?.allows(s.created_by) {
            return Err(Error::not_found());
        }
    }
    let scope = document_scope(&db, caller).await?;
    statement_view(&db, id, scope).await
}

/// One statement document (a review item), as the caller may see it.
pub async fn get_document(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<ReviewItemView> {
    Ok(ReviewItemView::from(
        &visible_document(&db, caller, id).await?,
    ))
}

/// Every payment of any statement still waiting for review, oldest first.
pub async fn pending_reviews(
    db: Db<'_>,
    caller: &Caller,
    page: &super::ListParams,
) -> OpResult<super::ListPage<ReviewItemView>> {
    let sorts = review_sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let mut query = doc_row::Entity::find().filter(doc_row::Column::ReviewStatus.eq("pending"));
    if let Some(c) = document_scope(&db, caller).await? {
        query = query.filter(c);
    }
    if let Some(t) = page.updated_since {
        query = query.filter(doc_row::Column::CreatedAt.gte(t));
    }
    let page =
        crate::pagination::fetch_page(&db, query, req, doc_row::Column::Id, |m| m.id).await?;
    Ok(super::ListPage::of(page, |m| ReviewItemView::from(m)))
}

pub fn review_sorts() -> [crate::pagination::SortKey<doc_row::Entity>; 1] {
    [crate::pagination::SortKey {
        name: "created_at",
        column: doc_row::Column::CreatedAt,
        key: |m| crate::pagination::CursorValue::Time(m.created_at),
    }]
}

/// Takes a pending review item the caller may see for a decision: `pending` → `to`, once (a
/// second decision, also a concurrent one, is a 409). Answers the item before and after.
async fn decide<C: ConnectionTrait>(
    txn: &C,
    caller: &Caller,
    document_id: Uuid,
    to: &str,
    invoice_id: Option<Uuid>,
) -> OpResult<(doc_row::Model, doc_row::Model)> {
    let row = visible_document(txn, caller, document_id).await?;
    let res = doc_row::Entity::update_many()
        .col_expr(
            doc_row::Column::ReviewStatus,
            sea_orm::sea_query::Expr::value(to),
        )
        .col_expr(
            doc_row::Column::ReviewedBy,
            sea_orm::sea_query::Expr::value(caller.user_id),
        )
        .col_expr(
            doc_row::Column::ReviewedAt,
            sea_orm::sea_query::Expr::value(now()),
        )
        .col_expr(
            doc_row::Column::InvoiceId,
            sea_orm::sea_query::Expr::value(invoice_id.or(row.invoice_id)),
        )
        .filter(doc_row::Column::Id.eq(document_id))
        .filter(doc_row::Column::ReviewStatus.eq("pending"))
        .exec(txn)
        .await
        .map_err(StoreError::from)?;
    if res.rows_affected == 0 {
        return Err(Error::new(
            ErrorCode::InvalidTransition,
            format!("the document is {}, not pending review", row.review_status),
        ));
    }
    let after = doc_row::Entity::find_by_id(document_id)
        .one(txn)
        .await
        .map_err(StoreError::from)?
        .ok_or_else(Error::not_found)?;
    Ok((row, after))
}

/// [`decide`] for an outgoing payment: `pending` → `confirmed`, naming the supplier invoice.
async fn decide_supplier<C: ConnectionTrait>(
    txn: &C,
    caller: &Caller,
    document_id: Uuid,
    supplier_invoice_id: Option<Uuid>,
) -> OpResult<(doc_row::Model, doc_row::Model)> {
    let (before, _) = decide(txn, caller, document_id, "confirmed", None).await?;
    let chosen = supplier_invoice_id.or(before.supplier_invoice_id);
    doc_row::ActiveModel {
        id: Set(document_id),
        supplier_invoice_id: Set(chosen),
        ..Default::default()
    }
    .update(txn)
    .await
    .map_err(StoreError::from)?;
    let after = doc_row::Entity::find_by_id(document_id)
        .one(txn)
        .await
        .map_err(StoreError::from)?
        .ok_or_else(Error::not_found)?;
    Ok((before, after))
}

/// Journals a review decision on the statement document (audit + event, in `txn`).
async fn journal_decision<C: ConnectionTrait>(
    txn: &C,
    caller: &Caller,
    action: &str,
    before: &doc_row::Model,
    after: &doc_row::Model,
) -> OpResult<ReviewItemView> {
    let view = ReviewItemView::from(after);
    let (b, a) = (snapshot(&ReviewItemView::from(before)), snapshot(&view));
    journal::record(
        txn,
        &caller.actor(),
        Change {
            entity_type: DOCUMENT,
            entity_id: after.id,
            action,
            before: Some(&b),
            after: Some(&a),
            comment: None,
        },
    )
    .await?;
    Ok(view)
}

/// Confirms a review item: the payment is applied to the invoice (the one given, else the
/// suggested one).
pub async fn confirm_review(
    db: Db<'_>,
    caller: &Caller,
    document_id: Uuid,
    req: ConfirmMatch,
) -> OpResult<ReviewItemView> {
    let txn = db.begin().await?;
    let outgoing = visible_document(&txn, caller, document_id).await?.direction == "outgoing";
    if outgoing {
        if req.invoice_id.is_some() {
            return Err(Error::field(
                "invoice_id",
                "not_allowed",
                "an outgoing payment pays a supplier invoice: name supplier_invoice_id",
            ));
        }
        let (before, row) =
            decide_supplier(&txn, caller, document_id, req.supplier_invoice_id).await?;
        let Some(si) = row.supplier_invoice_id else {
            return Err(Error::field(
                "supplier_invoice_id",
                "required",
                "no supplier invoice was suggested; name the supplier_invoice_id it paid",
            ));
        };
        let paid_on = row.document_date.unwrap_or(now().date_naive());
        if let Some(why) = mark_supplier_invoice_paid(
            &txn,
            caller,
            si,
            paid_on,
            row.amount_minor,
            row.number.as_deref().unwrap_or("б/н"),
        )
        .await?
        {
            return Err(Error::new(ErrorCode::InvalidTransition, why));
        }
        let view = journal_decision(&txn, caller, "confirmed", &before, &row).await?;
        txn.commit().await?;
        return Ok(view);
    }
    if req.supplier_invoice_id.is_some() {
        return Err(Error::field(
            "supplier_invoice_id",
            "not_allowed",
            "an incoming payment pays a customer invoice: name invoice_id",
        ));
    }
    let (before, row) = decide(&txn, caller, document_id, "confirmed", req.invoice_id).await?;
    let Some(invoice_id) = row.invoice_id else {
        return Err(Error::field(
            "invoice_id",
            "required",
            "no invoice was suggested; name the invoice_id to apply the payment to",
        ));
    };
    let Some(payment_id) = row.payment_id else {
        return Err(Error::new(
            ErrorCode::InvalidTransition,
            "the document has no payment to apply",
        ));
    };
    payments::apply_payment(
        Db::Joined(&txn),
        caller,
        payment_id,
        NewApplication {
            invoice_id,
            amount: None,
        },
    )
    .await?;
    let view = journal_decision(&txn, caller, "confirmed", &before, &row).await?;
    txn.commit().await?;
    Ok(view)
}

/// Rejects a review item: the payment stays unapplied.
pub async fn reject_review(
    db: Db<'_>,
    caller: &Caller,
    document_id: Uuid,
) -> OpResult<ReviewItemView> {
    let txn = db.begin().await?;
    let (before, row) = decide(&txn, caller, document_id, "rejected", None).await?;
    let view = journal_decision(&txn, caller, "rejected", &before, &row).await?;
    txn.commit().await?;
    Ok(view)
}
