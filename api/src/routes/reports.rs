//! Reports: `/reports/funnel` (REP-1), `/reports/managers-monthly` (REP-2) and
//! `/reports/receivables` (REP-3). Each answers JSON, or CSV with `?format=csv` or
//! `Accept: text/csv` (the query parameter wins). The money reports are visible to admins,
//! heads and accountants; the funnel to anyone, over the deals and leads he may see.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use sdelka_domain::role::Role;
use sdelka_persistence::ops::reports::{
    self as ops, FunnelQuery, FunnelReport, ManagersMonthlyQuery, ManagersMonthlyReport,
    ReceivablesQuery, ReceivablesReport,
};

use crate::auth::{Authorized, Policy, Principal};
use crate::error::{ApiError, ApiResult};
use crate::negotiate::{CSV, JSON, negotiate};
use crate::state::AppState;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(funnel)
        .service(managers_monthly)
        .service(receivables)
        .service(processes_report);
}

/// REP-1: per pipeline, for the deals and leads created in the period: deals per stage (now,
/// and how many reached each stage), stage-to-stage conversion, lead → deal conversion, win
/// rate and the average time in each stage (from the stage history). The CSV has one row per
/// pipeline and stage, the pipeline's figures repeated on each.
#[utoipa::path(
    tag = "reports",
    params(FunnelQuery),
    responses(
        (status = 200, description = "The funnel (JSON, or CSV with ?format=csv / Accept: text/csv)", body = FunnelReport),
        (status = 422, description = "An unknown pipeline, `to` before `from`", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/reports/funnel")]
pub async fn funnel(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    q: web::Query<FunnelQuery>,
) -> ApiResult<HttpResponse> {
    let csv = wants_csv(&req, q.format.as_deref())?;
    let report = ops::funnel(state.db(), &caller, &q).await?;
    if !csv {
        return Ok(HttpResponse::Ok().json(report));
    }
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut out = vec![
        [
            "pipeline_id",
            "pipeline_name",
            "from",
            "to",
            "deals",
            "won",
            "lost",
            "win_rate",
            "leads",
            "leads_converted",
            "lead_to_deal_conversion",
            "stage_id",
            "stage_name",
            "stage_kind",
            "current",
            "reached",
            "conversion_from_previous",
            "average_seconds_in_stage",
            "completed_stays",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for p in &report.pipelines {
        for s in &p.stages {
            out.push(vec![
                p.pipeline_id.to_string(),
                p.pipeline_name.clone(),
                report.from.to_string(),
                report.to.to_string(),
                p.deals.to_string(),
                p.won.to_string(),
                p.lost.to_string(),
                opt(&p.win_rate),
                p.leads.to_string(),
                p.leads_converted.to_string(),
                opt(&p.lead_to_deal_conversion),
                s.stage_id.to_string(),
                s.name.clone(),
                s.kind.clone(),
                s.current.to_string(),
                s.reached.to_string(),
                opt(&s.conversion_from_previous),
                s.average_seconds_in_stage
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
                s.completed_stays.to_string(),
            ]);
        }
    }
    csv_response("funnel", out)
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
    let mut w = csv::Writer::from_writer(crate::negotiate::UTF8_BOM.as_bytes().to_vec());
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

/// REP-4: stalled process steps and on whom they wait, open process tasks per performer, the
/// average duration of each template step (over its finished rounds), and the cost of each
/// instance and of each template (WF-BP-6, activity-based costing). The CSV has one row per
/// figure, its `section` first: `stalled_step`, `performer`, `step_duration`,
/// `instance_cost`, `template_cost`.
#[utoipa::path(
    tag = "reports",
    params(sdelka_persistence::ops::processes::ProcessReportQuery),
    responses((status = 200, description = "The report (JSON, or CSV with ?format=csv / Accept: text/csv)", body = sdelka_persistence::ops::processes::ProcessReport))
)]
#[get("/reports/processes")]
pub async fn processes_report(
    state: web::Data<AppState>,
    caller: ReportReaders,
    req: HttpRequest,
    q: web::Query<sdelka_persistence::ops::processes::ProcessReportQuery>,
) -> ApiResult<HttpResponse> {
    let csv = wants_csv(&req, q.format.as_deref())?;
    let r = sdelka_persistence::ops::processes::process_report(state.db(), &caller, &q).await?;
    if !csv {
        return Ok(HttpResponse::Ok().json(r));
    }
    let header = [
        "section",
        "template_id",
        "template_code",
        "step_id",
        "instance_id",
        "entity_type",
        "entity_id",
        "performer_type",
        "performer",
        "count",
        "overdue",
        "since",
        "seconds",
        "cost",
    ];
    let mut out = vec![header.map(String::from).to_vec()];
    let row = |cells: [String; 14]| cells.to_vec();
    let e = String::new;
    for s in &r.stalled_steps {
        let (kind, who) = match (&s.user_id, &s.role, &s.pool_id) {
            (Some(u), _, _) => ("user", u.to_string()),
            (None, _, Some(p)) => ("pool", p.to_string()),
            (None, Some(role), None) => ("role", role.clone()),
            (None, None, None) => ("", String::new()),
        };
        out.push(row([
            "stalled_step".into(),
            s.template_id.to_string(),
            e(),
            s.step_id.clone(),
            s.instance_id.to_string(),
            s.entity_type.clone(),
            s.entity_id.to_string(),
            kind.into(),
            who,
            "1".into(),
            s.overdue.to_string(),
            s.since.to_rfc3339(),
            s.age_seconds.to_string(),
            e(),
        ]));
    }
    for p in &r.open_tasks_per_performer {
        out.push(row([
            "performer".into(),
            e(),
            e(),
            e(),
            e(),
            e(),
            e(),
            p.performer_type.clone(),
            p.performer.clone(),
            p.open_tasks.to_string(),
            p.overdue_tasks.to_string(),
            p.oldest_since.to_rfc3339(),
            e(),
            e(),
        ]));
    }
    for d in &r.step_durations {
        out.push(row([
            "step_duration".into(),
            d.template_id.to_string(),
            d.template_code.clone(),
            d.step_id.clone(),
            e(),
            e(),
            e(),
            e(),
            e(),
            d.finished_rounds.to_string(),
            e(),
            e(),
            d.average_seconds.to_string(),
            e(),
        ]));
    }
    for c in &r.cost_per_instance {
        out.push(row([
            "instance_cost".into(),
            c.template_id.to_string(),
            e(),
            e(),
            c.instance_id.to_string(),
            c.entity_type.clone(),
            c.entity_id.to_string(),
            e(),
            e(),
            "1".into(),
            e(),
            e(),
            e(),
            c.cost.to_string(),
        ]));
    }
    for t in &r.cost_per_template {
        out.push(row([
            "template_cost".into(),
            t.template_id.to_string(),
            t.template_code.clone(),
            e(),
            e(),
            e(),
            e(),
            e(),
            e(),
            t.instances.to_string(),
            e(),
            e(),
            e(),
            t.cost.to_string(),
        ]));
    }
    csv_response("processes", out)
}
