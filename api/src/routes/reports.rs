//! Money reports: `/reports/managers-monthly` (REP-2) and `/reports/receivables` (REP-3).
//! Both answer JSON, or CSV with `?format=csv` or `Accept: text/csv` (the query parameter wins).
//! Visible to admins, heads and accountants.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use sdelka_domain::role::Role;
use sdelka_persistence::ops::reports::{
    self as ops, ManagersMonthlyQuery, ManagersMonthlyReport, ReceivablesQuery, ReceivablesReport,
};

use crate::auth::{Authorized, Policy};
use crate::error::{ApiError, ApiResult};
use crate::negotiate::{CSV, JSON, negotiate};
use crate::state::AppState;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(managers_monthly).service(receivables);
}

/// REP-2: per manager and month, payments received (applications to invoices of deals he is
/// responsible for, by payment date) and deals won (by the date the deal entered a won stage)
/// with their amounts.
#[utoipa::path(
    tag = "reports",
    params(ManagersMonthlyQuery),
    responses((status = 200, description = "The report (JSON, or CSV with ?format=csv / Accept: text/csv)", body = ManagersMonthlyReport))
)]
#[get("/reports/managers-monthly")]
pub async fn managers_monthly(
    state: web::Data<AppState>,
    caller: ReportReaders,
    req: HttpRequest,
    q: web::Query<ManagersMonthlyQuery>,
) -> ApiResult<HttpResponse> {
    let csv = wants_csv(&req, q.format.as_deref())?;
    let report = ops::managers_monthly(state.db(), &caller, &q).await?;
    if csv {
        let rows = &report.rows;
        let mut out = vec![vec![
            "manager_id".into(),
            "manager_name".into(),
            "month".into(),
            "payments_received".into(),
            "deals_won".into(),
            "deals_won_amount".into(),
        ]];
        for r in rows {
            out.push(vec![
                r.manager_id.to_string(),
                r.manager_name.clone(),
                r.month.clone(),
                r.payments_received.to_string(),
                r.deals_won.to_string(),
                r.deals_won_amount.to_string(),
            ]);
        }
        return csv_response("managers-monthly", out);
    }
    Ok(HttpResponse::Ok().json(report))
}

/// REP-3: what buyers owe on issued invoices as of a date, by days past due: not yet due,
/// 0–30, 31–60, 61–90, 90+. Payments dated after `as_of` do not count.
#[utoipa::path(
    tag = "reports",
    params(ReceivablesQuery),
    responses((status = 200, description = "The report (JSON, or CSV with ?format=csv / Accept: text/csv)", body = ReceivablesReport))
)]
#[get("/reports/receivables")]
pub async fn receivables(
    state: web::Data<AppState>,
    caller: ReportReaders,
    req: HttpRequest,
    q: web::Query<ReceivablesQuery>,
) -> ApiResult<HttpResponse> {
    let csv = wants_csv(&req, q.format.as_deref())?;
    let report = ops::receivables(state.db(), &caller, &q).await?;
    if csv {
        let rows = &report.invoices;
        let mut out = vec![vec![
            "invoice_id".into(),
            "number".into(),
            "buyer_legal_entity_id".into(),
            "date".into(),
            "due_date".into(),
            "days_past_due".into(),
            "bucket".into(),
            "outstanding".into(),
        ]];
        for r in rows {
            out.push(vec![
                r.invoice_id.to_string(),
                r.number.clone().unwrap_or_default(),
                r.buyer_legal_entity_id.to_string(),
                r.date.to_string(),
                r.due_date.to_string(),
                r.days_past_due.to_string(),
                r.bucket.clone(),
                r.outstanding.to_string(),
            ]);
        }
        return csv_response("receivables", out);
    }
    Ok(HttpResponse::Ok().json(report))
}

pub struct ReportReadersOnly;
impl Policy for ReportReadersOnly {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Head, Role::Accountant];
    const DESCRIPTION: &'static str = "admin, head or accountant";
}
pub type ReportReaders = Authorized<ReportReadersOnly>;

pub fn wants_csv(req: &HttpRequest, format: Option<&str>) -> ApiResult<bool> {
    Ok(negotiate(req, format, &[JSON, CSV])? == CSV)
}

pub fn csv_response(name: &str, rows: Vec<Vec<String>>) -> ApiResult<HttpResponse> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(&r).map_err(ApiError::internal)?;
    }
    let bytes = w.into_inner().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.csv\""),
        ))
        .body(bytes))
}
