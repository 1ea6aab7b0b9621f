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

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, post, web};
use sdelka_domain::role::Role;
use sdelka_persistence::ops::payments::{
    self as ops, ApplicationPath, NewApplication, PaymentListFilter, PaymentView, RegisterPayment,
};
use uuid::Uuid;

use crate::auth::{Authorized, Policy};
use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::lists::{ListPage, ListParams};
use crate::negotiate::list_answer;
use crate::routes::{created, versioned};
use crate::state::AppState;
use actix_web::HttpRequest;
use sdelka_persistence::ops::Caller;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_payments)
        .service(register_payment)
        .service(get_payment)
        .service(apply_payment)
        .service(unapply_payment);
}

/// Lists payments.
#[utoipa::path(
    tag = "documents",
    params(ListParams, PaymentListFilter),
    responses((status = 200, description = "A page of payments", body = ListPage<PaymentView>))
)]
#[get("/payments")]
pub async fn list_payments(
    state: web::Data<AppState>,
    caller: MoneyStaff,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<PaymentListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_payments(state.db(), &caller, &page, filter).await }
        },
    )
    .await
}

/// Registers incoming money, optionally applying it to invoices at once. Whatever is not
/// applied stays on the payment as `unapplied_amount`.
#[utoipa::path(
    tag = "documents",
    request_body(content = RegisterPayment, example = json!({"date": "2026-12-29", "amount": "1245.50", "payer_name": "ТСЖ «Берёзка»", "payer_inn": "7707083893", "payment_order_number": "1542", "purpose": "Оплата по счёту СЧ-RM/2612-00042", "applications": [{"invoice_id": "0193a0b0-0000-7000-8000-000000000003", "amount": "1000.00"}]})),
    responses(
        (status = 201, description = "Registered", body = PaymentView),
        (status = 409, description = "An invoice not awaiting payment, or a concurrent change", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or more than outstanding", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/payments")]
pub async fn register_payment(
    state: web::Data<AppState>,
    caller: MoneyStaff,
    body: JsonBody<RegisterPayment>,
) -> ApiResult<HttpResponse> {
    let p = ops::register_payment(state.db(), &caller, body.0).await?;
    Ok(created(format!("/api/v1/payments/{}", p.id), p.version, &p))
}

/// Reads one payment with its applications (un-applied ones included, marked).
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Payment id")),
    responses((status = 200, description = "The payment", body = PaymentView))
)]
#[get("/payments/{id}")]
pub async fn get_payment(
    state: web::Data<AppState>,
    caller: MoneyStaff,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let p = ops::get_payment(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, p.version, &p))
}

/// Applies (part of) a payment to an invoice: the invoice becomes partially paid or paid and
/// the deal's payment percent is recomputed, in one transaction. More than the invoice's
/// outstanding amount or the payment's unapplied amount is refused (422); a second application
/// of the same payment to the same invoice is 409 `already_applied`.
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Payment id")),
    request_body(content = NewApplication, example = json!({"invoice_id": "0193a0b0-0000-7000-8000-000000000003", "amount": "500.00"})),
    responses(
        (status = 201, description = "Applied; the payment as it is now", body = PaymentView),
        (status = 409, description = "Already applied, invoice not awaiting payment, or a race", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "More than outstanding or unapplied", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/payments/{id}/applications")]
pub async fn apply_payment(
    state: web::Data<AppState>,
    caller: MoneyStaff,
    id: web::Path<Uuid>,
    body: JsonBody<NewApplication>,
) -> ApiResult<HttpResponse> {
    let p = ops::apply_payment(state.db(), &caller, id.into_inner(), body.0).await?;
    Ok(created(format!("/api/v1/payments/{}", p.id), p.version, &p))
}

/// Takes an application back (audited): the money returns to the payment's unapplied amount,
/// the invoice's status and the deal's payment percent are recomputed.
#[utoipa::path(
    tag = "documents",
    params(ApplicationPath),
    responses((status = 200, description = "Un-applied; the payment as it is now", body = PaymentView))
)]
#[delete("/payments/{id}/applications/{application_id}")]
pub async fn unapply_payment(
    state: web::Data<AppState>,
    caller: MoneyStaff,
    path: web::Path<ApplicationPath>,
) -> ApiResult<HttpResponse> {
    let ApplicationPath { id, application_id } = path.into_inner();
    let p = ops::unapply_payment(state.db(), &caller, id, application_id).await?;
    Ok(versioned(StatusCode::OK, p.version, &p))
}

/// Who registers and applies money: accountants, sales staff for their own deals, admins.
pub struct MoneyStaffOnly;
impl Policy for MoneyStaffOnly {
    const ROLES: &'static [Role] = sdelka_persistence::ops::payments::MONEY_STAFF;
    const DESCRIPTION: &'static str = "admin, accountant, head or sales_manager";
}
pub type MoneyStaff = Authorized<MoneyStaffOnly>;
