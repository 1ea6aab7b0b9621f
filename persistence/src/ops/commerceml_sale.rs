//! INT-1C-1, the order half of the CommerceML 2 exchange (`type=sale`):
//!
//! - `mode=query` answers the orders 1C has not yet confirmed in their current version — every
//!   order past its draft the caller may see, with its buyer's requisites and bank accounts,
//!   rows, VAT and totals — as a `КоммерческаяИнформация` of the version 1C asked for; what the
//!   answer carried is remembered for the session;
//! - `mode=success` confirms what the session's last query sent: those versions are exported,
//!   and an order changed since then goes out again;
//! - `mode=file` / `mode=import` read order documents from 1C: an order the CRM knows (by its
//!   1C id, by the CRM id 1C echoes back in `Ид`, or by its number) takes 1C's number and its
//!   status changes — cancelled orders are cancelled, shipped ones completed — through the
//!   order operations; an order the CRM does not know is created as a deal with its rows and an
//!   order of it, its buyer matched by 1C id, then INN + KPP (or created), its products by
//!   1C id. Each document is one unit of work; a file imported again creates nothing twice.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use sdelka_domain::commerceml::{self, Document};
use sdelka_domain::commerceml_out::{
    BankAccountOut, Buyer, OrderDoc, OrderLine, SaleQuery, SchemaVersion, write_sale_query,
};
use sdelka_domain::money::{Money, Quantity};
use sdelka_domain::order::OrderStatus;
use sdelka_domain::product_row::UnitCode;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::clients::{ExternalRef, set_external_ids, visible_legal_entity};
use crate::entity::{
    cml_order_state, company, external_id, legal_entity, legal_entity_bank_account, order,
    organization, product, product_row,
};
use crate::journal::now;
use crate::orders::ORDER_ROWS;
use crate::sales::rows_of;

use super::clients::ExternalId;
use super::commerceml::{check_filename, session_file_bytes};
use super::companies::{self, CreateCompany};
use super::deals::{self, CreateDeal, NewProductRow};
use super::legal_entities::{self, CreateLegalEntity, LegalEntityKind};
use super::orders::{self, CreateOrder, OrderActionRequest};
use super::{Caller, Db, Error, ErrorCode, OpResult};

/// The external-id source of 1C.
const SOURCE: &str = "1c";

// ---------------------------------------------------------------------------------------------
// mode=query, mode=success

/// The answer of `mode=query`: the document, and how many orders it carries.
#[derive(Debug, Clone)]
pub struct SaleQueryAnswer {
    pub xml: Vec<u8>,
    pub orders: usize,
}

/// `mode=query`: at most `limit` orders (oldest first) that 1C has not confirmed in their
/// current version. Drafts are not sent; nor is an order cancelled before 1C ever had it.
pub async fn sale_query(
    db: Db<'_>,
    caller: &Caller,
    session_id: Uuid,
    version: Option<&str>,
    limit: usize,
) -> OpResult<SaleQueryAnswer> {
    let Some(version) = SchemaVersion::from_requested(version) else {
        return Err(Error::field(
            "version",
            "unknown_value",
            "version is a CommerceML schema version such as 2.05, 2.08 or 2.10",
        ));
    };
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let candidates: Vec<(Uuid, i32, String)> = scope
        .apply(
            order::Entity::find()
                .select_only()
                .column(order::Column::Id)
                .column(order::Column::Version)
                .column(order::Column::Status)
                .filter(order::Column::DeletedAt.is_null())
                .filter(order::Column::Status.ne(OrderStatus::Draft.as_str()))
                .order_by_asc(order::Column::CreatedAt)
                .order_by_asc(order::Column::Id),
            order::Column::ResponsibleId,
        )
        .into_tuple()
        .all(&txn)
        .await?;
    let exported: HashMap<Uuid, Option<i32>> = cml_order_state::Entity::find()
        .select_only()
        .column(cml_order_state::Column::OrderId)
        .column(cml_order_state::Column::ExportedVersion)
        .into_tuple::<(Uuid, Option<i32>)>()
        .all(&txn)
        .await?
        .into_iter()
        .collect();
    let cancelled = OrderStatus::Cancelled.as_str();
    let due: Vec<Uuid> = candidates
        .into_iter()
        .filter(
            |(id, version, status)| match exported.get(id).copied().flatten() {
                Some(v) => v != *version,
                None => status != cancelled,
            },
        )
        .map(|(id, _, _)| id)
        .take(limit.max(1))
        .collect();
    let mut docs = Vec::with_capacity(due.len());
    let at = now();
    for id in &due {
        let Some(o) = order::Entity::find_by_id(*id).one(&txn).await? else {
            continue;
        };
        docs.push(order_doc(&txn, &o).await?);
        remember_sent(&txn, &o, session_id, at).await?;
    }
    // What an earlier query of this session sent and this one no longer does is not confirmed
    // by this session's success.
    forget_unsent(&txn, session_id, &due).await?;
    txn.commit().await?;
    let xml = write_sale_query(&SaleQuery {
        version,
        generated_at: at.naive_utc(),
        orders: docs,
    });
    Ok(SaleQueryAnswer {
        xml,
        orders: due.len(),
    })
}

async fn state_of<C: ConnectionTrait>(
    db: &C,
    order_id: Uuid,
) -> OpResult<Option<cml_order_state::Model>> {
    Ok(cml_order_state::Entity::find_by_id(order_id)
        .one(db)
        .await?)
}

async fn save_state<C: ConnectionTrait>(
    db: &C,
    existed: bool,
    state: cml_order_state::Model,
) -> OpResult<()> {
    let am = state.into_active_model().reset_all();
    if existed {
        am.update(db).await?;
    } else {
        cml_order_state::Entity::insert(am)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

fn blank_state(order_id: Uuid, at: chrono::DateTime<Utc>) -> cml_order_state::Model {
    cml_order_state::Model {
        order_id,
        sent_version: None,
        sent_session: None,
        exported_version: None,
        exported_at: None,
        number_1c: None,
        status_1c: None,
        paid_1c: None,
        shipped_1c: None,
        updated_at: at,
    }
}

async fn remember_sent<C: ConnectionTrait>(
    db: &C,
    o: &order::Model,
    session_id: Uuid,
    at: chrono::DateTime<Utc>,
) -> OpResult<()> {
    let current = state_of(db, o.id).await?;
    let existed = current.is_some();
    let mut s = current.unwrap_or_else(|| blank_state(o.id, at));
    s.sent_version = Some(o.version);
    s.sent_session = Some(session_id);
    s.updated_at = at;
    save_state(db, existed, s).await
}

async fn forget_unsent<C: ConnectionTrait>(
    db: &C,
    session_id: Uuid,
    sent: &[Uuid],
) -> OpResult<()> {
    let sent: HashSet<Uuid> = sent.iter().copied().collect();
    let pending = cml_order_state::Entity::find()
        .filter(cml_order_state::Column::SentSession.eq(session_id))
        .all(db)
        .await?;
    for mut s in pending.into_iter().filter(|s| !sent.contains(&s.order_id)) {
        s.sent_session = None;
        s.sent_version = None;
        save_state(db, true, s).await?;
    }
    Ok(())
}

/// `mode=success`: what the session's last query sent is exported, in the versions it sent.
/// Answers how many orders that confirmed.
pub async fn sale_success(db: Db<'_>, session_id: Uuid) -> OpResult<usize> {
    let txn = db.begin().await?;
    let pending = cml_order_state::Entity::find()
        .filter(cml_order_state::Column::SentSession.eq(session_id))
        .all(&txn)
        .await?;
    let at = now();
    let n = pending.len();
    for mut s in pending {
        s.exported_version = s.sent_version.or(s.exported_version);
        s.exported_at = Some(at);
        s.sent_version = None;
        s.sent_session = None;
        s.updated_at = at;
        save_state(&txn, true, s).await?;
    }
    txn.commit().await?;
    Ok(n)
}

fn status_label(status: &str) -> &'static str {
    match OrderStatus::parse(status) {
        Some(OrderStatus::Draft) => "Черновик",
        Some(OrderStatus::AwaitingAdvance) => "Ожидает аванса",
        Some(OrderStatus::Confirmed) => "Подтверждён",
        Some(OrderStatus::Completed) => "Выполнен",
        Some(OrderStatus::Cancelled) => "Отменён",
        None => "",
    }
}

/// Units of time: rows in them are services (task billing bills hours).
fn is_service_unit(code: &str) -> bool {
    matches!(code, "355" | "356" | "359" | "360" | "362" | "539")
}

async fn one_c_id<C: ConnectionTrait>(
    db: &C,
    record_type: &str,
    record_id: Uuid,
) -> OpResult<Option<String>> {
    Ok(external_id::Entity::find()
        .select_only()
        .column(external_id::Column::ExternalId)
        .filter(external_id::Column::RecordType.eq(record_type))
        .filter(external_id::Column::Source.eq(SOURCE))
        .filter(external_id::Column::RecordId.eq(record_id))
        .into_tuple::<String>()
        .one(db)
        .await?)
}

async fn buyer_of<C: ConnectionTrait>(db: &C, o: &order::Model) -> OpResult<Option<Buyer>> {
    let Some(le_id) = o.legal_entity_id else {
        return Ok(None);
    };
    let Some(le) = legal_entity::Entity::find_by_id(le_id).one(db).await? else {
        return Ok(None);
    };
    let accounts = legal_entity_bank_account::Entity::find()
        .filter(legal_entity_bank_account::Column::LegalEntityId.eq(le.id))
        .filter(legal_entity_bank_account::Column::DeletedAt.is_null())
        .order_by_desc(legal_entity_bank_account::Column::IsPrimary)
        .order_by_asc(legal_entity_bank_account::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|a| BankAccountOut {
            number: a.settlement_account,
            bank_name: a.bank_name,
            bik: a.bik,
            correspondent: a.correspondent_account,
        })
        .collect();
    Ok(Some(Buyer {
        id: one_c_id(db, "legal_entity", le.id)
            .await?
            .unwrap_or_else(|| le.id.to_string()),
        name: le.short_name.clone(),
        full_name: le.full_name.clone(),
        inn: Some(le.inn.clone()).filter(|i| !i.is_empty()),
        kpp: le.kpp.clone(),
        address: le.legal_address.clone(),
        accounts,
    }))
}

fn line_of(r: &product_row::Model, p: Option<&product::Model>) -> OpResult<OrderLine> {
    let quantity = Quantity::from_thousandths(r.quantity_thousandths)
        .map_err(Error::internal)?
        .value()
        .normalize();
    let rate = sdelka_domain::vat::VatRate::parse(&r.vat_rate).map_err(Error::internal)?;
    // `Сумма` of a line is what its price is: with VAT when the price includes it.
    let amount = if r.vat_included {
        r.total_minor
    } else {
        r.net_minor
    };
    Ok(OrderLine {
        id: p
            .and_then(|p| p.external_id.clone())
            .or_else(|| p.map(|p| p.id.to_string()))
            .unwrap_or_else(|| r.id.to_string()),
        name: r.name.clone(),
        article: p.and_then(|p| p.sku.clone()),
        unit_code: r.unit_code.clone(),
        unit_name: r.unit_name.clone(),
        price: Money::from_minor(r.price_minor).amount(),
        quantity,
        amount: Money::from_minor(amount).amount(),
        vat_rate: rate.percent().map(|p| p.normalize().to_string()),
        vat_amount: Money::from_minor(r.vat_minor).amount(),
        vat_included: r.vat_included,
        kind: if is_service_unit(&r.unit_code) {
            "Услуга".into()
        } else {
            "Товар".into()
        },
    })
}

async fn order_doc<C: ConnectionTrait>(db: &C, o: &order::Model) -> OpResult<OrderDoc> {
    let rows = rows_of(db, ORDER_ROWS, o.id).await?;
    let product_ids: Vec<Uuid> = rows.iter().filter_map(|r| r.product_id).collect();
    let products: HashMap<Uuid, product::Model> = if product_ids.is_empty() {
        HashMap::new()
    } else {
        product::Entity::find()
            .filter(product::Column::Id.is_in(product_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect()
    };
    let lines = rows
        .iter()
        .map(|r| line_of(r, r.product_id.and_then(|id| products.get(&id))))
        .collect::<OpResult<Vec<_>>>()?;
    let state = state_of(db, o.id).await?;
    let when = o.confirmed_at.unwrap_or(o.created_at);
    let paid = Money::from_minor(o.paid_minor).amount();
    let total = Money::from_minor(o.total_minor).amount();
    let mut requisites = vec![
        (
            "Статус заказа".to_owned(),
            status_label(&o.status).to_owned(),
        ),
        ("Статус заказа ИД".to_owned(), o.status.clone()),
        (
            "Отменен".to_owned(),
            (o.status == OrderStatus::Cancelled.as_str()).to_string(),
        ),
        (
            "Заказ оплачен".to_owned(),
            (o.total_minor > 0 && o.paid_minor >= o.total_minor).to_string(),
        ),
        ("Сумма оплаты".to_owned(), format!("{paid:.2}")),
        (
            "Финальный статус".to_owned(),
            matches!(
                OrderStatus::parse(&o.status),
                Some(OrderStatus::Completed | OrderStatus::Cancelled)
            )
            .to_string(),
        ),
        ("Ид CRM".to_owned(), o.id.to_string()),
    ];
    if let Some(reason) = &o.cancel_reason {
        requisites.push(("Причина отмены".to_owned(), reason.clone()));
    }
    if let Some(n) = state.as_ref().and_then(|s| s.number_1c.clone()) {
        requisites.push(("Номер1С".to_owned(), n));
    }
    Ok(OrderDoc {
        id: o.id.to_string(),
        number: o.number.clone().unwrap_or_else(|| o.id.to_string()),
        date: when.date_naive(),
        time: when.time(),
        currency: o.currency.clone(),
        total,
        vat_total: Money::from_minor(o.vat_minor).amount(),
        vat_included: !rows.is_empty() && rows.iter().all(|r| r.vat_included),
        comment: Some(o.title.clone()),
        buyer: buyer_of(db, o).await?,
        lines,
        requisites,
    })
}

// ---------------------------------------------------------------------------------------------
// mode=file / mode=import: orders from 1C

/// What the import of an orders file did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SaleImport {
    pub documents: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub skipped: usize,
    /// Per document, what was done or why not: `142: created order …`.
    pub notes: Vec<String>,
}

impl SaleImport {
    pub fn message(&self) -> String {
        let mut m = format!(
            "{} documents: created {}, updated {}, unchanged {}, skipped {}",
            self.documents, self.created, self.updated, self.unchanged, self.skipped
        );
        for n in self.notes.iter().take(20) {
            m.push_str("; ");
            m.push_str(n);
        }
        m
    }
}

/// At most this many orders go out in one answer to `mode=query`; the rest follow in the
/// next exchange, once 1C confirmed these with `mode=success`.
pub const QUERY_LIMIT: usize = 500;

/// The CommerceML documents of a session's file: the file itself, or each `.xml` of a zip
/// archive.
fn documents_of(filename: &str, bytes: &[u8]) -> OpResult<Vec<Document>> {
    let bad = |name: &str, e: commerceml::CmlError| {
        Error::field("filename", "invalid_commerceml", format!("{name}: {e}"))
    };
    if !filename.to_lowercase().ends_with(".zip") {
        return Ok(commerceml::parse(bytes)
            .map_err(|e| bad(filename, e))?
            .documents);
    }
    let broken = |e: zip::result::ZipError| {
        Error::field(
            "filename",
            "invalid_archive",
            format!("the zip archive cannot be read: {e}"),
        )
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(broken)?;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(broken)?;
        let name = entry.name().map_err(broken)?.to_string();
        if entry.is_dir() || !name.to_lowercase().ends_with(".xml") {
            continue;
        }
        let mut xml = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut xml).map_err(|e| {
            Error::field(
                "filename",
                "invalid_archive",
                format!("the zip entry `{name}` cannot be read: {e}"),
            )
        })?;
        out.extend(
            commerceml::parse(&xml)
                .map_err(|e| bad(&name, e))?
                .documents,
        );
    }
    Ok(out)
}

/// Whether the session's file is whole yet (1C may post a large file in several parts): a
/// file that does not read yet waits for the rest, or for `mode=import` to report why.
pub async fn sale_file_complete(db: Db<'_>, session_id: Uuid, filename: &str) -> OpResult<bool> {
    let filename = check_filename(filename)?;
    let bytes = session_file_bytes(&db, session_id, &filename).await?;
    Ok(documents_of(&filename, &bytes).is_ok())
}

/// Imports the order documents of `filename` of the session.
pub async fn sale_import(
    db: Db<'_>,
    caller: &Caller,
    session_id: Uuid,
    filename: &str,
) -> OpResult<SaleImport> {
    let filename = check_filename(filename)?;
    let bytes = session_file_bytes(&db, session_id, &filename).await?;
    let documents = documents_of(&filename, &bytes)?;
    import_documents(db, caller, &documents).await
}

/// Imports order documents, each in its own unit of work.
pub async fn import_documents(
    db: Db<'_>,
    caller: &Caller,
    documents: &[Document],
) -> OpResult<SaleImport> {
    let mut report = SaleImport {
        documents: documents.len(),
        ..Default::default()
    };
    for d in documents {
        let label = d
            .number_1c
            .clone()
            .or_else(|| d.number.clone())
            .unwrap_or_else(|| d.id.clone());
        if d.operation
            .as_deref()
            .is_some_and(|op| op.trim() != "Заказ товара")
        {
            report.skipped += 1;
            report.notes.push(format!(
                "{label}: {} is not an order",
                d.operation.as_deref().unwrap_or_default()
            ));
            continue;
        }
        // A concurrent import of the same document wins the race on its keys: the second
        // attempt finds what it created.
        let mut result = import_document(&db, caller, d).await;
        if result
            .as_ref()
            .is_err_and(|e| e.code == ErrorCode::Duplicate)
        {
            result = import_document(&db, caller, d).await;
        }
        match result {
            Ok(Outcome::Created(id, what)) => {
                report.created += 1;
                let mut note = format!("{label}: created order {id}");
                for w in what {
                    note.push_str(", ");
                    note.push_str(&w);
                }
                report.notes.push(note);
            }
            Ok(Outcome::Updated(id, what)) => {
                report.updated += 1;
                report
                    .notes
                    .push(format!("{label}: order {id}: {}", what.join(", ")));
            }
            Ok(Outcome::Unchanged) => report.unchanged += 1,
            Err(e) if e.code == ErrorCode::Internal => return Err(e),
            Err(e) => {
                report.skipped += 1;
                let field = e
                    .errors
                    .first()
                    .map(|v| format!(" ({})", v.field))
                    .unwrap_or_default();
                report.notes.push(format!("{label}: {}{field}", e.detail));
            }
        }
    }
    Ok(report)
}

enum Outcome {
    Created(Uuid, Vec<String>),
    Updated(Uuid, Vec<String>),
    Unchanged,
}

async fn order_by_1c_id<C: ConnectionTrait>(db: &C, id: &str) -> OpResult<Option<Uuid>> {
    Ok(external_id::Entity::find()
        .select_only()
        .column(external_id::Column::RecordId)
        .filter(external_id::Column::RecordType.eq("order"))
        .filter(external_id::Column::Source.eq(SOURCE))
        .filter(external_id::Column::ExternalId.eq(id))
        .into_tuple::<Uuid>()
        .one(db)
        .await?)
}

/// The CRM order a document of 1C is about: by its 1C id, by the CRM id in `Ид` (an order
/// this exchange sent), or by its number.
async fn known_order<C: ConnectionTrait>(db: &C, d: &Document) -> OpResult<Option<order::Model>> {
    let id = d.id.trim();
    if !id.is_empty() {
        if let Some(found) = order_by_1c_id(db, id).await? {
            return Ok(order::Entity::find_by_id(found).one(db).await?);
        }
        if let Ok(uuid) = Uuid::parse_str(id)
            && let Some(o) = order::Entity::find_by_id(uuid).one(db).await?
        {
            return Ok(Some(o));
        }
    }
    if let Some(number) = d.number.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        let mut found = order::Entity::find()
            .filter(order::Column::Number.eq(number))
            .filter(order::Column::DeletedAt.is_null())
            .all(db)
            .await?;
        if found.len() == 1 {
            return Ok(found.pop());
        }
    }
    Ok(None)
}

async fn import_document(db: &Db<'_>, caller: &Caller, d: &Document) -> OpResult<Outcome> {
    let txn = db.begin().await?;
    let outcome = match known_order(&txn, d).await? {
        Some(o) => {
            let scope = caller.visibility(&txn).await?;
            if o.deleted_at.is_some() || !scope.allows(Some(o.responsible_id)) {
                return Err(Error::new(
                    ErrorCode::NotFound,
                    "the order of this document is not one you may see",
                ));
            }
            let what = apply_1c_state(&txn, caller, &o, d).await?;
            if what.is_empty() {
                Outcome::Unchanged
            } else {
                Outcome::Updated(o.id, what)
            }
        }
        None => {
            let (id, notes) = create_from_1c(&txn, caller, d).await?;
            let Some(o) = order::Entity::find_by_id(id).one(&txn).await? else {
                return Err(Error::internal("the order just created is gone"));
            };
            let mut what = notes;
            what.extend(apply_1c_state(&txn, caller, &o, d).await?);
            Outcome::Created(id, what)
        }
    };
    txn.commit().await?;
    Ok(outcome)
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty() && !s.starts_with("0001-01-01"))
        .map(str::to_owned)
}

/// Records 1C's number and status of the order and carries its status changes out through the
/// order actions. Answers what changed.
async fn apply_1c_state(
    txn: &DatabaseTransaction,
    caller: &Caller,
    o: &order::Model,
    d: &Document,
) -> OpResult<Vec<String>> {
    let mut what = Vec::new();
    let reported = d.status();
    let at = now();
    let current = state_of(txn, o.id).await?;
    let existed = current.is_some();
    let before = current.unwrap_or_else(|| blank_state(o.id, at));
    let mut s = before.clone();
    let paid_on = non_empty(d.requisite("Дата оплаты по 1С"))
        .or_else(|| non_empty(d.requisite("Дата оплаты")))
        .or_else(|| reported.paid.then(|| "true".to_owned()));
    let shipped_on = non_empty(d.requisite("Дата отгрузки по 1С"))
        .or_else(|| reported.shipped.then(|| "true".to_owned()));
    if let Some(n) = non_empty(d.number_1c.as_deref()) {
        s.number_1c = Some(n);
    }
    if let Some(st) = non_empty(reported.status.as_deref()) {
        s.status_1c = Some(st);
    }
    if paid_on.is_some() {
        s.paid_1c = paid_on;
    }
    if shipped_on.is_some() {
        s.shipped_1c = shipped_on;
    }
    if s != before {
        s.updated_at = at;
        if s.number_1c != before.number_1c {
            what.push(format!(
                "1C number {}",
                s.number_1c.as_deref().unwrap_or_default()
            ));
        }
        if s.paid_1c != before.paid_1c {
            what.push("paid in 1C".to_owned());
        }
        if s.shipped_1c != before.shipped_1c {
            what.push("shipped in 1C".to_owned());
        }
        if s.status_1c != before.status_1c {
            what.push(format!(
                "1C status {}",
                s.status_1c.as_deref().unwrap_or_default()
            ));
        }
        save_state(txn, existed, s.clone()).await?;
    }
    let status = OrderStatus::parse(&o.status);
    if reported.cancelled {
        match status {
            Some(OrderStatus::Draft | OrderStatus::AwaitingAdvance | OrderStatus::Confirmed) => {
                cancel(txn, caller, o.id, d).await?;
                what.push("cancelled".to_owned());
            }
            Some(OrderStatus::Completed) => what
                .push("1C cancelled it, but the order is completed here and stays so".to_owned()),
            _ => {}
        }
    } else if reported.shipped {
        match status {
            Some(OrderStatus::Confirmed) => {
                complete(txn, caller, o.id, shipped_on_note(&s)).await?;
                what.push("completed (shipped in 1C)".to_owned());
            }
            Some(OrderStatus::Draft | OrderStatus::AwaitingAdvance) if !existed || s != before => {
                what.push(format!(
                    "shipped in 1C, but the order is {} here; it is completed once confirmed",
                    o.status
                ));
            }
            _ => {}
        }
    }
    Ok(what)
}

fn shipped_on_note(s: &cml_order_state::Model) -> String {
    format!(
        "Отгружен в 1С{}",
        s.shipped_1c
            .as_deref()
            .filter(|d| *d != "true")
            .map(|d| format!(" {d}"))
            .unwrap_or_default()
    )
}

async fn cancel(
    txn: &DatabaseTransaction,
    caller: &Caller,
    order_id: Uuid,
    d: &Document,
) -> OpResult<()> {
    let reason = non_empty(d.requisite("Причина отмены"))
        .map(|r| format!("Отменён в 1С: {r}"))
        .unwrap_or_else(|| "Отменён в 1С".to_owned());
    orders::act_on_order(
        Db::Joined(txn),
        caller,
        order_id,
        "cancel",
        None,
        OrderActionRequest {
            reason: Some(reason),
            comment: None,
        },
    )
    .await?;
    Ok(())
}

async fn complete(
    txn: &DatabaseTransaction,
    caller: &Caller,
    order_id: Uuid,
    note: String,
) -> OpResult<()> {
    orders::act_on_order(
        Db::Joined(txn),
        caller,
        order_id,
        "complete",
        None,
        OrderActionRequest {
            reason: None,
            comment: Some(note),
        },
    )
    .await?;
    Ok(())
}

/// The own organisation that sells: the one whose INN the document's seller carries, else the
/// only one there is.
async fn seller_organization<C: ConnectionTrait>(db: &C, d: &Document) -> OpResult<Uuid> {
    let orgs = organization::Entity::find()
        .filter(organization::Column::DeletedAt.is_null())
        .all(db)
        .await?;
    let seller_inn = d
        .counterparties
        .iter()
        .find(|c| c.role.as_deref().is_some_and(|r| r.trim() == "Продавец"))
        .and_then(|c| non_empty(c.inn.as_deref()));
    if let Some(inn) = seller_inn
        && let Some(o) = orgs.iter().find(|o| o.inn == inn)
    {
        return Ok(o.id);
    }
    match orgs.as_slice() {
        [only] => Ok(only.id),
        [] => Err(Error::new(
            ErrorCode::Conflict,
            "no own organisation to sell from: create one first (POST /api/v1/organizations)",
        )),
        _ => Err(Error::new(
            ErrorCode::Conflict,
            "several own organisations and the document's seller names none of them by INN",
        )),
    }
}

async fn record_by_1c_id<C: ConnectionTrait>(
    db: &C,
    record_type: &str,
    id: &str,
) -> OpResult<Option<Uuid>> {
    Ok(external_id::Entity::find()
        .select_only()
        .column(external_id::Column::RecordId)
        .filter(external_id::Column::RecordType.eq(record_type))
        .filter(external_id::Column::Source.eq(SOURCE))
        .filter(external_id::Column::ExternalId.eq(id))
        .into_tuple::<Uuid>()
        .one(db)
        .await?)
}

/// The buyer's company and legal entity: the legal entity by its 1C id, then by INN + KPP;
/// the company by its 1C id; else a new company (and, with a valid INN, its legal entity).
async fn buyer_records(
    txn: &DatabaseTransaction,
    caller: &Caller,
    d: &Document,
    notes: &mut Vec<String>,
) -> OpResult<(Option<Uuid>, Option<Uuid>)> {
    let Some(c) = d
        .counterparties
        .iter()
        .find(|c| c.role.as_deref().is_none_or(|r| r.trim() != "Продавец"))
    else {
        return Ok((None, None));
    };
    let scope = caller.visibility(txn).await?;
    let id_1c = non_empty(c.id.as_deref());
    let inn = non_empty(c.inn.as_deref());
    let kpp = non_empty(c.kpp.as_deref());
    let mut le_ids = Vec::new();
    if let Some(id) = &id_1c
        && let Some(found) = record_by_1c_id(txn, "legal_entity", id).await?
    {
        le_ids.push(found);
    }
    if let Some(inn) = &inn {
        let mut q = legal_entity::Entity::find()
            .select_only()
            .column(legal_entity::Column::Id)
            .filter(legal_entity::Column::Inn.eq(inn.as_str()))
            .filter(legal_entity::Column::DeletedAt.is_null());
        q = match &kpp {
            Some(k) => q.filter(legal_entity::Column::Kpp.eq(k.as_str())),
            None => q.filter(legal_entity::Column::Kpp.is_null()),
        };
        le_ids.extend(q.into_tuple::<Uuid>().all(txn).await?);
    }
    for id in le_ids {
        if let Some(le) = visible_legal_entity(txn, &scope, id).await? {
            return Ok((Some(le.company_id), Some(le.id)));
        }
    }
    if let Some(id) = &id_1c
        && let Some(found) = record_by_1c_id(txn, "company", id).await?
        && let Some(co) = company::Entity::find_by_id(found).one(txn).await?
        && co.deleted_at.is_none()
        && scope.allows(Some(co.responsible_id))
    {
        return Ok((Some(co.id), None));
    }
    let name = non_empty(c.name.as_deref())
        .or_else(|| non_empty(c.full_name.as_deref()))
        .unwrap_or_else(|| "Покупатель из 1С".to_owned());
    let external = |id: &Option<String>| {
        id.iter()
            .map(|id| ExternalId {
                source: SOURCE.to_owned(),
                id: id.clone(),
            })
            .collect::<Vec<_>>()
    };
    let co = companies::create_company(
        Db::Joined(txn),
        caller,
        CreateCompany {
            name: name.chars().take(500).collect(),
            types: Vec::new(),
            industry: None,
            responsible_id: None,
            source: Some("1c".to_owned()),
            tags: Vec::new(),
            external_ids: external(&id_1c),
        },
    )
    .await?;
    let Some(inn) = inn else {
        return Ok((Some(co.id), None));
    };
    let kind = if inn.len() == 12 {
        LegalEntityKind::Entrepreneur
    } else {
        LegalEntityKind::LegalEntity
    };
    let created = legal_entities::create_legal_entity(
        Db::Joined(txn),
        caller,
        CreateLegalEntity {
            company_id: co.id,
            kind,
            full_name: non_empty(c.full_name.as_deref())
                .unwrap_or_else(|| name.clone())
                .chars()
                .take(500)
                .collect(),
            short_name: Some(name.chars().take(200).collect()),
            inn,
            kpp,
            ogrn: None,
            legal_address: non_empty(c.address.as_deref()),
            postal_address: None,
            signatory_name: None,
            signatory_basis: None,
            external_ids: external(&id_1c),
            bank_accounts: Vec::new(),
        },
    )
    .await;
    match created {
        Ok(le) => Ok((Some(co.id), Some(le.id))),
        Err(e) if e.code == ErrorCode::Internal => Err(e),
        Err(e) => {
            notes.push(format!(
                "the buyer's requisites were not taken ({}): company {} without a legal entity",
                e.detail, co.id
            ));
            Ok((Some(co.id), None))
        }
    }
}

fn quantity_of(line: &commerceml::DocumentLine) -> OpResult<Quantity> {
    let q = line.quantity.unwrap_or(Decimal::ONE);
    Quantity::new(q.round_dp(3)).map_err(|e| {
        Error::field(
            "Количество",
            "invalid_quantity",
            format!("line {}: quantity {q}: {e}", line.name),
        )
    })
}

fn price_of(line: &commerceml::DocumentLine, quantity: Decimal) -> OpResult<Money> {
    let price = match (line.price, line.amount) {
        (Some(p), _) => p,
        (None, Some(a)) => a.checked_div(quantity).ok_or_else(|| {
            Error::field(
                "Сумма",
                "invalid_amount",
                format!(
                    "line {}: the sum {a} over the quantity {quantity} is no price",
                    line.name
                ),
            )
        })?,
        _ => Decimal::ZERO,
    };
    Money::round(price).map_err(|e| {
        Error::field(
            "ЦенаЗаЕдиницу",
            "invalid_amount",
            format!("line {}: price {price}: {e}", line.name),
        )
    })
}

/// A new order from a document of 1C: a deal of the buyer with the document's rows, and the
/// order of that deal, keyed by the document's 1C id.
async fn create_from_1c(
    txn: &DatabaseTransaction,
    caller: &Caller,
    d: &Document,
) -> OpResult<(Uuid, Vec<String>)> {
    let id_1c = d.id.trim().to_owned();
    if id_1c.is_empty() {
        return Err(Error::field(
            "Ид",
            "required",
            "a new order from 1C needs its Ид",
        ));
    }
    if d.lines.is_empty() {
        return Err(Error::field(
            "Товары",
            "required",
            "a new order from 1C needs at least one line",
        ));
    }
    let organization_id = seller_organization(txn, d).await?;
    let mut notes = Vec::new();
    let (company_id, legal_entity_id) = buyer_records(txn, caller, d, &mut notes).await?;
    let currency = d
        .currency
        .as_deref()
        .map(str::trim)
        .map(|c| match c.to_lowercase().as_str() {
            "руб" | "руб." | "rur" | "643" => "RUB".to_owned(),
            _ => c.to_uppercase(),
        })
        .unwrap_or_else(|| "RUB".to_owned());
    let number = d
        .number_1c
        .clone()
        .or_else(|| d.number.clone())
        .unwrap_or_else(|| id_1c.clone());
    let title = format!(
        "Заказ 1С № {number}{}",
        d.date
            .as_deref()
            .map(|x| format!(" от {x}"))
            .unwrap_or_default()
    );
    let deal = deals::create_deal(
        Db::Joined(txn),
        caller,
        CreateDeal {
            title: title.chars().take(500).collect(),
            pipeline_id: None,
            stage_id: None,
            company_id,
            legal_entity_id,
            contact_ids: Vec::new(),
            responsible_id: None,
            currency: Some(currency),
            amount: None,
            expected_close_date: None,
            loss_reason: None,
            order_number: Some(number.chars().take(100).collect()),
            invoice_numbers: Vec::new(),
            source: Some("1c".to_owned()),
            external_id: None,
        },
    )
    .await?;
    let today: NaiveDate = now().date_naive();
    let doc_vat_included = d
        .taxes
        .iter()
        .find(|t| t.name.trim() == "НДС")
        .map(|t| t.included);
    for line in &d.lines {
        let quantity = quantity_of(line)?;
        let price = price_of(line, quantity.value())?;
        let product_id = match line.id.as_deref().map(str::trim).filter(|i| !i.is_empty()) {
            Some(id) => {
                product::Entity::find()
                    .select_only()
                    .column(product::Column::Id)
                    .filter(product::Column::ExternalId.eq(id))
                    .filter(product::Column::DeletedAt.is_null())
                    .into_tuple::<Uuid>()
                    .one(txn)
                    .await?
            }
            None => None,
        };
        let rate_text = line.vat.clone().or_else(|| {
            line.taxes
                .iter()
                .find(|t| t.name.trim() == "НДС")?
                .rate
                .clone()
        });
        let vat_rate = match rate_text.as_deref() {
            Some(raw) => {
                let (rate, note) = commerceml::crm_vat_rate(raw, today);
                if let Some(n) = note {
                    notes.push(format!("{}: {n}", line.name));
                }
                rate
            }
            None => None,
        };
        let vat_included = line
            .taxes
            .iter()
            .find(|t| t.name.trim() == "НДС")
            .map(|t| t.included)
            .or(doc_vat_included);
        let unit_code = line
            .unit_code
            .as_deref()
            .and_then(|c| UnitCode::parse(c).ok());
        deals::add_product_row(
            Db::Joined(txn),
            caller,
            deal.id,
            NewProductRow {
                product_id,
                name: Some(line.name.chars().take(500).collect()),
                quantity: Some(quantity),
                unit_code: if product_id.is_some() {
                    None
                } else {
                    unit_code
                },
                unit_name: if product_id.is_some() {
                    None
                } else {
                    line.unit_name
                        .as_deref()
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(|n| n.chars().take(20).collect())
                },
                price: Some(price),
                discount_percent: None,
                discount_amount: None,
                vat_rate,
                vat_included,
            },
        )
        .await?;
    }
    let created = orders::create_order(
        Db::Joined(txn),
        caller,
        CreateOrder {
            quote_id: None,
            deal_id: Some(deal.id),
            organization_id: Some(organization_id),
            legal_entity_id: None,
            contact_id: None,
            title: Some(title.chars().take(500).collect()),
            advance_amount: None,
            advance_percent: None,
        },
    )
    .await?;
    let order_id = created.order.id;
    // The key: a second import of the document, also a concurrent one, finds this order or
    // fails on the key rather than creating it again.
    set_external_ids(
        txn,
        "order",
        order_id,
        &[ExternalRef {
            source: SOURCE.to_owned(),
            id: id_1c,
        }],
    )
    .await?;
    Ok((order_id, notes))
}
