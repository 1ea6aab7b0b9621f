//! Money reports: `/reports/managers-monthly` (REP-2) and `/reports/receivables` (REP-3).
//! Both answer JSON, or CSV with `?format=csv` or `Accept: text/csv` (the query parameter wins).
//! Visible to admins, heads and accountants.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use sdelka_domain::money::Money;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

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
