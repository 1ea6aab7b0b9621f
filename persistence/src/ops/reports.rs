//! Money reports: `/reports/managers-monthly` (REP-2) and `/reports/receivables` (REP-3).
//! Both answer JSON, or CSV with `?format=csv` or `Accept: text/csv` (the query parameter wins).
//! Visible to admins, heads and accountants.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, NaiveDate, Utc};
use sdelka_domain::customer_invoice::InvoiceStatus;
use sdelka_domain::money::Money;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Caller, Db, OpResult};
use crate::entity::{
    deal, deal_stage_change, invoice, payment, payment_application, pipeline_stage, user,
};

pub fn month_of(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ManagersMonthlyQuery {
    /// First day counted (inclusive). Default: 1 January of this year.
    pub from: Option<NaiveDate>,
    /// Last day counted (inclusive). Default: today.
    pub to: Option<NaiveDate>,
    /// Only invoices of this own organisation count for payments.
    pub organization_id: Option<Uuid>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// One manager in one month.
#[derive(Debug, Serialize, ToSchema)]
pub struct ManagerMonth {
    pub manager_id: Uuid,
    pub manager_name: String,
    #[schema(example = "2026-11")]
    pub month: String,
    /// Applied to invoices of the manager's deals, by payment date.
    #[schema(value_type = String, example = "400.00")]
    pub payments_received: Money,
    /// Deals that entered a won stage this month.
    pub deals_won: u64,
    #[schema(value_type = String, example = "1000.00")]
    pub deals_won_amount: Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ManagersMonthlyReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub rows: Vec<ManagerMonth>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReceivablesQuery {
    /// The day the debt is measured on. Default: today.
    pub as_of: Option<NaiveDate>,
    pub organization_id: Option<Uuid>,
    /// Only invoices dated from (inclusive).
    pub from: Option<NaiveDate>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// One unpaid invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceivableInvoice {
    pub invoice_id: Uuid,
    pub number: Option<String>,
    pub organization_id: Uuid,
    pub buyer_legal_entity_id: Uuid,
    pub date: NaiveDate,
    /// The invoice date when no due date was set.
    pub due_date: NaiveDate,
    /// Negative: not yet due.
    pub days_past_due: i64,
    /// `not_yet_due`, `0-30`, `31-60`, `61-90`, `90+`.
    pub bucket: String,
    #[schema(value_type = String)]
    pub outstanding: Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReceivablesReport {
    pub as_of: NaiveDate,
    /// Bucket → outstanding amount (every bucket present).
    #[schema(value_type = Object)]
    pub buckets: BTreeMap<String, String>,
    #[schema(value_type = String)]
    pub total: Money,
    pub invoices: Vec<ReceivableInvoice>,
}

pub const BUCKETS: [&str; 5] = ["not_yet_due", "0-30", "31-60", "61-90", "90+"];

pub fn bucket(days_past_due: i64) -> &'static str {
    match days_past_due {
        i64::MIN..=0 => "not_yet_due",
        1..=30 => "0-30",
        31..=60 => "31-60",
        61..=90 => "61-90",
        _ => "90+",
    }
}

/// REP-2: per manager and month, payments received (applications to invoices of deals he is
/// responsible for, by payment date) and deals won (by the date the deal entered a won stage)
/// with their amounts.
pub async fn managers_monthly(
    db: Db<'_>,
    _caller: &Caller,
    q: &ManagersMonthlyQuery,
) -> OpResult<ManagersMonthlyReport> {
    let db = &db;
    let today = Utc::now().date_naive();
    let from = q
        .from
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today));
    let to = q.to.unwrap_or(today);

    // (manager, month) → (paid, won count, won amount)
    let mut cells: BTreeMap<(Uuid, String), (i64, u64, i64)> = BTreeMap::new();

    let payments = payment::Entity::find()
        .filter(payment::Column::DeletedAt.is_null())
        .filter(payment::Column::PaymentDate.gte(from))
        .filter(payment::Column::PaymentDate.lte(to))
        .all(db)
        .await?;
    if !payments.is_empty() {
        let dates: HashMap<Uuid, NaiveDate> =
            payments.iter().map(|p| (p.id, p.payment_date)).collect();
        let apps = payment_application::Entity::find()
            .filter(payment_application::Column::PaymentId.is_in(dates.keys().copied()))
            .filter(payment_application::Column::UnappliedAt.is_null())
            .all(db)
            .await?;
        let inv_ids: HashSet<Uuid> = apps.iter().map(|a| a.invoice_id).collect();
        let invoices = invoice::Entity::find()
            .filter(invoice::Column::Id.is_in(inv_ids))
            .all(db)
            .await?;
        let deal_ids: HashSet<Uuid> = invoices.iter().filter_map(|i| i.deal_id).collect();
        let deals: HashMap<Uuid, Uuid> = deal::Entity::find()
            .filter(deal::Column::Id.is_in(deal_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|d| (d.id, d.responsible_id))
            .collect();
        let invoices: HashMap<Uuid, &invoice::Model> = invoices.iter().map(|i| (i.id, i)).collect();
        for a in &apps {
            let Some(i) = invoices.get(&a.invoice_id) else {
                continue;
            };
            if q.organization_id.is_some_and(|o| o != i.organization_id) {
                continue;
            }
            let Some(manager) = i.deal_id.and_then(|d| deals.get(&d)) else {
                continue;
            };
            let Some(date) = dates.get(&a.payment_id) else {
                continue;
            };
            cells.entry((*manager, month_of(*date))).or_default().0 += a.amount_minor;
        }
    }

    let won: HashSet<Uuid> = pipeline_stage::Entity::find()
        .filter(pipeline_stage::Column::Kind.eq("won"))
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    if !won.is_empty() {
        let start = from.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        let end = to
            .succ_opt()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc());
        let mut changes = deal_stage_change::Entity::find()
            .filter(deal_stage_change::Column::ToStageId.is_in(won.iter().copied()));
        if let Some(s) = start {
            changes = changes.filter(deal_stage_change::Column::ChangedAt.gte(s));
        }
        if let Some(e) = end {
            changes = changes.filter(deal_stage_change::Column::ChangedAt.lt(e));
        }
        let changes = changes.all(db).await?;
        let deal_ids: HashSet<Uuid> = changes.iter().map(|c| c.deal_id).collect();
        let deals: HashMap<Uuid, deal::Model> = deal::Entity::find()
            .filter(deal::Column::Id.is_in(deal_ids))
            .filter(deal::Column::DeletedAt.is_null())
            .all(db)
            .await?
            .into_iter()
            .map(|d| (d.id, d))
            .collect();
        // A deal won twice in a month (moved out and back) counts once.
        let mut seen = HashSet::new();
        for c in &changes {
            let Some(d) = deals.get(&c.deal_id) else {
                continue;
            };
            let month = month_of(c.changed_at.date_naive());
            if !seen.insert((d.id, month.clone())) {
                continue;
            }
            let cell = cells.entry((d.responsible_id, month)).or_default();
            cell.1 += 1;
            cell.2 += d.amount_minor;
        }
    }

    let names: HashMap<Uuid, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(cells.keys().map(|(m, _)| *m).collect::<HashSet<_>>()))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    let rows: Vec<ManagerMonth> = cells
        .into_iter()
        .map(|((manager, month), (paid, won, amount))| ManagerMonth {
            manager_name: names.get(&manager).cloned().unwrap_or_default(),
            manager_id: manager,
            month,
            payments_received: Money::from_minor(paid),
            deals_won: won,
            deals_won_amount: Money::from_minor(amount),
        })
        .collect();
    Ok(ManagersMonthlyReport { from, to, rows })
}

/// REP-3: what buyers owe on issued invoices as of a date, by days past due. Payments dated
/// after `as_of` do not count.
pub async fn receivables(
    db: Db<'_>,
    _caller: &Caller,
    q: &ReceivablesQuery,
) -> OpResult<ReceivablesReport> {
    let db = &db;
    let as_of = q.as_of.unwrap_or_else(|| Utc::now().date_naive());
    let mut query = invoice::Entity::find()
        .filter(invoice::Column::DeletedAt.is_null())
        .filter(invoice::Column::Status.is_in([
            InvoiceStatus::Issued.as_str(),
            InvoiceStatus::PartiallyPaid.as_str(),
            InvoiceStatus::Paid.as_str(),
        ]))
        .filter(invoice::Column::InvoiceDate.lte(as_of));
    if let Some(o) = q.organization_id {
        query = query.filter(invoice::Column::OrganizationId.eq(o));
    }
    if let Some(f) = q.from {
        query = query.filter(invoice::Column::InvoiceDate.gte(f));
    }
    let invoices = query.all(db).await?;
    let ids: Vec<Uuid> = invoices.iter().map(|i| i.id).collect();
    let apps = if ids.is_empty() {
        Vec::new()
    } else {
        payment_application::Entity::find()
            .filter(payment_application::Column::InvoiceId.is_in(ids))
            .filter(payment_application::Column::UnappliedAt.is_null())
            .all(db)
            .await?
    };
    let pay_ids: HashSet<Uuid> = apps.iter().map(|a| a.payment_id).collect();
    let pay_dates: HashMap<Uuid, NaiveDate> = if pay_ids.is_empty() {
        HashMap::new()
    } else {
        payment::Entity::find()
            .filter(payment::Column::Id.is_in(pay_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|p| (p.id, p.payment_date))
            .collect()
    };
    let mut paid: HashMap<Uuid, i64> = HashMap::new();
    for a in &apps {
        if pay_dates.get(&a.payment_id).is_some_and(|d| *d <= as_of) {
            *paid.entry(a.invoice_id).or_default() += a.amount_minor;
        }
    }
    let mut sums: BTreeMap<&str, i64> = BUCKETS.iter().map(|b| (*b, 0)).collect();
    let mut rows = Vec::new();
    for i in &invoices {
        let owed = i.total_minor - paid.get(&i.id).copied().unwrap_or(0);
        if owed <= 0 {
            continue;
        }
        let due = i.due_date.unwrap_or(i.invoice_date);
        let days = (as_of - due).num_days();
        let b = bucket(days);
        *sums.entry(b).or_default() += owed;
        rows.push(ReceivableInvoice {
            invoice_id: i.id,
            number: i.number.clone(),
            organization_id: i.organization_id,
            buyer_legal_entity_id: i.buyer_legal_entity_id,
            date: i.invoice_date,
            due_date: due,
            days_past_due: days,
            bucket: b.to_owned(),
            outstanding: Money::from_minor(owed),
        });
    }
    rows.sort_by(|a, b| {
        b.days_past_due
            .cmp(&a.days_past_due)
            .then(a.invoice_id.cmp(&b.invoice_id))
    });
    let total: i64 = sums.values().sum();
    Ok(ReceivablesReport {
        as_of,
        buckets: sums
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Money::from_minor(v).to_string()))
            .collect(),
        total: Money::from_minor(total),
        invoices: rows,
    })
}
