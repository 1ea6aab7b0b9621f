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
use sdelka_persistence::entity::{legal_entity, payment};
use sdelka_persistence::journal::now;
use sdelka_persistence::pagination::fetch_page;
use sdelka_persistence::records::{self};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::auth::{Authorized, Policy};
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::lists::{ListPage, ListParams};
use crate::routes::{created, ensure_exists, versioned};
use crate::state::AppState;
use sdelka_persistence::ops::deals::clean;
#[allow(unused_imports)]
use sdelka_persistence::ops::payments::*;
use sdelka_persistence::ops::products::{currency, today};

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_payments)
        .service(register_payment)
        .service(get_payment)
        .service(apply_payment)
        .service(unapply_payment);
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// Lists payments.
#[utoipa::path(
    tag = "documents",
    params(ListParams, PaymentListFilter),
    responses((status = 200, description = "A page of payments", body = ListPage<PaymentView>))
)]
#[get("/payments")]
pub async fn list_payments(
    state: web::Data<AppState>,
    _caller: MoneyStaff,
    page: web::Query<ListParams>,
    filter: web::Query<PaymentListFilter>,
) -> ApiResult<HttpResponse> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let f = filter.into_inner();
    let db = &state.store.conn;
    let mut q = payment::Entity::find().filter(payment::Column::DeletedAt.is_null());
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
    let page = fetch_page(db, q, req, payment::Column::Id, |m| m.id).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|p| p.id).collect();
    let apps = applications_of(db, &ids).await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, |p| PaymentView::new(p, &apps))))
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
    let req = body.0;
    let amount = amount_minor("amount", &req.amount)?;
    let currency = currency("currency", req.currency.as_deref())
        .map_err(|v| ApiError::validation(v.into()))?;
    if req.payer_legal_entity_id.is_none() && clean(&req.payer_name).is_none() {
        return Err(ApiError::field(
            "payer_name",
            "required",
            "name the payer: payer_legal_entity_id or payer_name",
        ));
    }
    let txn = state.store.begin().await?;
    if let Some(o) = req.organization_id {
        ensure_exists::<sdelka_persistence::entity::organization::Entity, _>(
            &txn,
            "organization_id",
            o,
        )
        .await?;
    }
    if let Some(l) = req.payer_legal_entity_id {
        ensure_exists::<legal_entity::Entity, _>(&txn, "payer_legal_entity_id", l).await?;
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
        payer_inn: clean(&req.payer_inn),
        payment_order_number: clean(&req.payment_order_number),
        purpose: clean(&req.purpose),
        created_by: caller.user_id,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let saved =
        records::create::<payment::Entity, _>(&txn, &caller.actor(), model, records::snapshot)
            .await?;
    for a in &req.applications {
        apply(&txn, &caller, saved.id, a).await?;
    }
    let saved = records::find::<payment::Entity, _>(&txn, saved.id).await?;
    let apps = applications_of(&txn, &[saved.id]).await?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/payments/{}", saved.id),
        saved.version,
        &PaymentView::new(&saved, &apps),
    ))
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
    _caller: MoneyStaff,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let db = &state.store.conn;
    let p = records::find::<payment::Entity, _>(db, id.into_inner()).await?;
    let apps = applications_of(db, &[p.id]).await?;
    Ok(versioned(
        StatusCode::OK,
        p.version,
        &PaymentView::new(&p, &apps),
    ))
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
    let id = id.into_inner();
    let txn = state.store.begin().await?;
    records::find::<payment::Entity, _>(&txn, id).await?;
    apply(&txn, &caller, id, &body.0).await?;
    let saved = records::find::<payment::Entity, _>(&txn, id).await?;
    let apps = applications_of(&txn, &[id]).await?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/payments/{id}"),
        saved.version,
        &PaymentView::new(&saved, &apps),
    ))
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
    let txn = state.store.begin().await?;
    unapply(&txn, &caller, id, application_id).await?;
    let saved = records::find::<payment::Entity, _>(&txn, id).await?;
    let apps = applications_of(&txn, &[id]).await?;
    txn.commit().await?;
    Ok(versioned(
        StatusCode::OK,
        saved.version,
        &PaymentView::new(&saved, &apps),
    ))
}

/// Who registers and applies money: accountants, sales staff for their own deals, admins.
pub struct MoneyStaffOnly;
impl Policy for MoneyStaffOnly {
    const ROLES: &'static [Role] = sdelka_persistence::ops::payments::MONEY_STAFF;
    const DESCRIPTION: &'static str = "admin, accountant, head or sales_manager";
}
pub type MoneyStaff = Authorized<MoneyStaffOnly>;
