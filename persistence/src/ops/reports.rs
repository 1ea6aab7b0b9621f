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

// ---------------------------------------------------------------------------------------------
// REP-1 funnel

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FunnelQuery {
    /// Only this pipeline. Default: every pipeline, one section each.
    pub pipeline_id: Option<Uuid>,
    /// First day of the period (inclusive): deals and leads created from this day count.
    /// Default: 1 January of this year.
    pub from: Option<NaiveDate>,
    /// Last day of the period (inclusive). Default: today.
    pub to: Option<NaiveDate>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// One stage of a pipeline's funnel.
#[derive(Debug, Serialize, ToSchema)]
pub struct FunnelStage {
    pub stage_id: Uuid,
    pub name: String,
    /// `open`, `won` or `lost`.
    pub kind: String,
    /// Deals of the period that are in this stage now.
    pub current: u64,
    /// Deals of the period that reached this stage: for an open or won stage, those whose
    /// furthest stage (in the pipeline's order, lost stages aside) is this one or a later one;
    /// for a lost stage, those that entered it.
    pub reached: u64,
    /// `reached` of this stage ÷ `reached` of the stage before it (lost stages aside), four
    /// decimals; absent for the first stage, a lost stage, or when the one before was reached
    /// by none.
    #[schema(example = "0.5000")]
    pub conversion_from_previous: Option<String>,
    /// Mean time, in whole seconds, that a deal of the period stayed in this stage, over the
    /// stays that ended (a stay still going on is not counted); absent when none ended.
    pub average_seconds_in_stage: Option<i64>,
    /// How many ended stays the average is taken over.
    pub completed_stays: u64,
}

/// The funnel of one pipeline over the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct PipelineFunnel {
    pub pipeline_id: Uuid,
    pub pipeline_name: String,
    /// Deals of the pipeline created in the period (that the caller may see).
    pub deals: u64,
    pub won: u64,
    pub lost: u64,
    /// won ÷ (won + lost) of the period's deals, four decimals; absent when none is closed.
    #[schema(example = "0.6667")]
    pub win_rate: Option<String>,
    /// Leads created in the period (that the caller may see).
    pub leads: u64,
    /// Of those, the ones converted into a deal of this pipeline.
    pub leads_converted: u64,
    /// leads_converted ÷ leads, four decimals; absent when there are no leads.
    #[schema(example = "0.2500")]
    pub lead_to_deal_conversion: Option<String>,
    /// In the pipeline's order.
    pub stages: Vec<FunnelStage>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FunnelReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub pipelines: Vec<PipelineFunnel>,
}

/// A ratio as a decimal string with four places; `None` when nothing is divided.
fn ratio(part: u64, whole: u64) -> Option<String> {
    use rust_decimal::{Decimal, RoundingStrategy};
    if whole == 0 {
        return None;
    }
    let r = Decimal::from(part) / Decimal::from(whole);
    Some(format!(
        "{:.4}",
        r.round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
    ))
}

/// REP-1: per pipeline, for the deals and leads created in the period: deals per stage (now,
/// and how many reached each stage), stage-to-stage conversion, lead → deal conversion, win
/// rate and the average time a deal spent in each stage, from the stage history.
pub async fn funnel(db: Db<'_>, caller: &Caller, q: &FunnelQuery) -> OpResult<FunnelReport> {
    use crate::entity::{lead, pipeline};
    let db = &db;
    let today = Utc::now().date_naive();
    let from = q
        .from
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today));
    let to = q.to.unwrap_or(today);
    if to < from {
        return Err(super::Error::field(
            "to",
            "before_from",
            "to must not be before from",
        ));
    }
    let start = from.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    let end = to
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc());
    let scope = caller.visibility(db).await?;

    let mut pipelines = pipeline::Entity::find().filter(pipeline::Column::DeletedAt.is_null());
    if let Some(p) = q.pipeline_id {
        pipelines = pipelines.filter(pipeline::Column::Id.eq(p));
    }
    let mut pipelines = pipelines.all(db).await?;
    if q.pipeline_id.is_some() && pipelines.is_empty() {
        return Err(super::Error::field(
            "pipeline_id",
            "not_found",
            "no such pipeline",
        ));
    }
    pipelines.sort_by(|a, b| a.sort.cmp(&b.sort).then(a.id.cmp(&b.id)));

    let mut leads = scope.apply(
        lead::Entity::find().filter(lead::Column::DeletedAt.is_null()),
        lead::Column::ResponsibleId,
    );
    if let Some(s) = start {
        leads = leads.filter(lead::Column::CreatedAt.gte(s));
    }
    if let Some(e) = end {
        leads = leads.filter(lead::Column::CreatedAt.lt(e));
    }
    let leads = leads.all(db).await?;

    let mut out = Vec::new();
    for p in pipelines {
        let mut stages = pipeline_stage::Entity::find()
            .filter(pipeline_stage::Column::PipelineId.eq(p.id))
            .filter(pipeline_stage::Column::DeletedAt.is_null())
            .all(db)
            .await?;
        stages.sort_by(|a, b| a.sort.cmp(&b.sort).then(a.id.cmp(&b.id)));
        let mut deals = scope.apply(
            deal::Entity::find()
                .filter(deal::Column::DeletedAt.is_null())
                .filter(deal::Column::PipelineId.eq(p.id)),
            deal::Column::ResponsibleId,
        );
        if let Some(s) = start {
            deals = deals.filter(deal::Column::CreatedAt.gte(s));
        }
        if let Some(e) = end {
            deals = deals.filter(deal::Column::CreatedAt.lt(e));
        }
        let deals = deals.all(db).await?;
        let deal_ids: HashSet<Uuid> = deals.iter().map(|d| d.id).collect();
        let mut changes = if deal_ids.is_empty() {
            Vec::new()
        } else {
            deal_stage_change::Entity::find()
                .filter(deal_stage_change::Column::DealId.is_in(deal_ids.iter().copied()))
                .all(db)
                .await?
        };
        changes.sort_by_key(|c| (c.deal_id, c.changed_at, c.id));

        // Stage order, lost stages aside.
        let position: HashMap<Uuid, usize> = stages
            .iter()
            .filter(|s| s.kind != "lost")
            .enumerate()
            .map(|(i, s)| (s.id, i))
            .collect();
        let kind: HashMap<Uuid, &str> = stages.iter().map(|s| (s.id, s.kind.as_str())).collect();

        // Per deal: the furthest position reached, the lost stages entered; per stage: ended
        // stays.
        let mut furthest: HashMap<Uuid, usize> = HashMap::new();
        let mut entered_lost: HashMap<Uuid, HashSet<Uuid>> = HashMap::new();
        let mut stays: HashMap<Uuid, (i64, u64)> = HashMap::new();
        for (i, c) in changes.iter().enumerate() {
            if let Some(pos) = position.get(&c.to_stage_id) {
                let f = furthest.entry(c.deal_id).or_insert(*pos);
                *f = (*f).max(*pos);
            } else if kind.get(&c.to_stage_id) == Some(&"lost") {
                entered_lost
                    .entry(c.to_stage_id)
                    .or_default()
                    .insert(c.deal_id);
            }
            if let Some(next) = changes.get(i + 1).filter(|n| n.deal_id == c.deal_id) {
                let secs = (next.changed_at - c.changed_at).num_seconds().max(0);
                let s = stays.entry(c.to_stage_id).or_default();
                s.0 += secs;
                s.1 += 1;
            }
        }
        // A deal without history (none should be) counts where it stands.
        for d in &deals {
            if let Some(pos) = position.get(&d.stage_id) {
                furthest.entry(d.id).or_insert(*pos);
            }
        }

        let mut rows = Vec::new();
        let mut previous_reached: Option<u64> = None;
        for s in &stages {
            let current = deals.iter().filter(|d| d.stage_id == s.id).count() as u64;
            let (reached, conversion) = match position.get(&s.id) {
                Some(pos) => {
                    let reached = furthest.values().filter(|f| **f >= *pos).count() as u64;
                    let conversion = previous_reached.and_then(|prev| ratio(reached, prev));
                    previous_reached = Some(reached);
                    (reached, conversion)
                }
                None => (
                    entered_lost.get(&s.id).map(|d| d.len() as u64).unwrap_or(0),
                    None,
                ),
            };
            let (total, count) = stays.get(&s.id).copied().unwrap_or((0, 0));
            rows.push(FunnelStage {
                stage_id: s.id,
                name: s.name.clone(),
                kind: s.kind.clone(),
                current,
                reached,
                conversion_from_previous: conversion,
                average_seconds_in_stage: (count > 0).then(|| total / count as i64),
                completed_stays: count,
            });
        }
        let won = deals
            .iter()
            .filter(|d| kind.get(&d.stage_id) == Some(&"won"))
            .count() as u64;
        let lost = deals
            .iter()
            .filter(|d| kind.get(&d.stage_id) == Some(&"lost"))
            .count() as u64;
        let converted = if leads.is_empty() {
            0
        } else {
            let targets: HashSet<Uuid> = leads.iter().filter_map(|l| l.converted_deal_id).collect();
            let in_pipeline: HashSet<Uuid> = if targets.is_empty() {
                HashSet::new()
            } else {
                deal::Entity::find()
                    .filter(deal::Column::Id.is_in(targets))
                    .filter(deal::Column::PipelineId.eq(p.id))
                    .all(db)
                    .await?
                    .into_iter()
                    .map(|d| d.id)
                    .collect()
            };
            leads
                .iter()
                .filter(|l| {
                    l.converted_deal_id
                        .is_some_and(|d| in_pipeline.contains(&d))
                })
                .count() as u64
        };
        out.push(PipelineFunnel {
            pipeline_id: p.id,
            pipeline_name: p.name.clone(),
            deals: deals.len() as u64,
            won,
            lost,
            win_rate: ratio(won, won + lost),
            leads: leads.len() as u64,
            leads_converted: converted,
            lead_to_deal_conversion: ratio(converted, leads.len() as u64),
            stages: rows,
        });
    }
    Ok(FunnelReport {
        from,
        to,
        pipelines: out,
    })
}
