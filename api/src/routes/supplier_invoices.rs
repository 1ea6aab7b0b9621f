//! `/supplier-invoices` (WF-INV): a supplier's invoice registered by its initiator, decided by
//! one of the decision makers' pool, paid by the first accountant of the accountants' pool to
//! claim it, and closed with the closing documents. Each action is
//! `POST /supplier-invoices/{id}/actions/{action}`; the inbox task of the same step
//! (`/tasks/{id}/claim|complete`) runs the very same operation.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use sdelka_domain::role::Role;
use sdelka_persistence::ops::supplier_invoices::{
    self as ops, ActionBody, ActionPath, RegisterSupplierInvoice, SupplierInvoiceFilter,
    SupplierInvoiceView, TransitionList,
};
use uuid::Uuid;

use crate::auth::Principal;
use crate::auth::{Authorized, Policy};
use crate::error::ApiResult;
use crate::extract::{IfMatch, JsonBody, OptionalJsonBody};
use crate::lists::{ListPage, ListParams};
use crate::negotiate::list_answer;
use crate::routes::{created, versioned};
use crate::state::AppState;
use actix_web::HttpRequest;
use sdelka_persistence::ops::Caller;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_supplier_invoices)
        .service(register_supplier_invoice)
        .service(get_supplier_invoice)
        .service(list_transitions)
        .service(act);
}

/// Lists (and searches) the supplier invoices you may see: yours as initiator, those awaiting
/// a decision of your pool or taken by you, those awaiting an accountant of your pool or
/// claimed by you; admins see all. An invoice claimed by another accountant is not listed.
#[utoipa::path(
    tag = "approvals",
    params(ListParams, SupplierInvoiceFilter),
    responses((status = 200, description = "A page of supplier invoices", body = ListPage<SupplierInvoiceView>))
)]
#[get("/supplier-invoices")]
pub async fn list_supplier_invoices(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<SupplierInvoiceFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_supplier_invoices(state.db(), &caller, &page, filter).await }
        },
    )
    .await
}

/// Registers a supplier invoice (WF-INV-1) with its file; it enters `awaiting_decision` and
/// the organisation's decision makers get the task. Both pools of the organisation must be
/// configured first. The same invoice — same supplier legal entity, number and date — is
/// registered once while it is not cancelled: a second registration (also a concurrent one) is
/// `409 duplicate` naming the first. A due date before the invoice date is 422.
#[utoipa::path(
    tag = "approvals",
    request_body(content = RegisterSupplierInvoice, example = json!({
        "organization_id": "0191d0a4-7b1e-7c3a-9a55-1f2e3d4c5b6a",
        "supplier_legal_entity_id": "0191d0a4-7b1e-7c3a-9a55-1f2e3d4c5b6b",
        "supplier_email": "sales@supplier.example",
        "number": "17", "invoice_date": "2026-11-20", "amount": "125000.00", "vat_amount": "20833.33",
        "file_ids": ["0191d0a4-7b1e-7c3a-9a55-1f2e3d4c5b6c"]
    })),
    responses(
        (status = 201, description = "Registered", body = SupplierInvoiceView),
        (status = 409, description = "The same invoice (supplier legal entity, number, date) is already registered and not cancelled", body = crate::error::Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:sdelka:problem:duplicate", "title": "A record with these values already exists", "status": 409,
                "detail": "supplier invoice № 17 of 2026-11-20 from Василёк is already registered as 0191d0a4-7b1e-7c3a-9a55-1f2e3d4c5b6d (awaiting_decision)",
                "code": "duplicate",
                "errors": [{"field": "number", "code": "duplicate", "message": "supplier invoice № 17 of 2026-11-20 from Василёк is already registered as 0191d0a4-7b1e-7c3a-9a55-1f2e3d4c5b6d (awaiting_decision)"}]})),
        (status = 422, description = "Invalid fields (a due date before the invoice date), no pools, a file not visible", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/supplier-invoices")]
pub async fn register_supplier_invoice(
    state: web::Data<AppState>,
    caller: Authorized<InitiatorsOnly>,
    body: JsonBody<RegisterSupplierInvoice>,
) -> ApiResult<HttpResponse> {
    let inv = ops::register_supplier_invoice(state.db(), &caller, body.0).await?;
    Ok(created(
        format!("/api/v1/supplier-invoices/{}", inv.id),
        inv.version,
        &inv,
    ))
}

/// Reads one supplier invoice with its files, rounds and current task. An invoice claimed by
/// another accountant is 404 to you.
#[utoipa::path(
    tag = "approvals",
    params(("id" = Uuid, Path, description = "Supplier invoice id")),
    responses(
        (status = 200, description = "The invoice", body = SupplierInvoiceView),
        (status = 404, description = "No such invoice, or not visible to you", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/supplier-invoices/{id}")]
pub async fn get_supplier_invoice(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let inv = ops::get_supplier_invoice(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, inv.version, &inv))
}

/// Every transition of the invoice, oldest first, all rounds: who, when, from which state to
/// which, with the comment. (`/supplier-invoices/{id}/timeline` shows the same as audit
/// records with field changes.)
#[utoipa::path(
    tag = "approvals",
    params(("id" = Uuid, Path, description = "Supplier invoice id")),
    responses((status = 200, description = "Transitions, oldest first", body = TransitionList))
)]
#[get("/supplier-invoices/{id}/transitions")]
pub async fn list_transitions(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let list = ops::list_transitions(state.db(), &caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Applies a WF-INV action. An action the current state does not allow is 409
/// `invalid_transition` naming the current state and the allowed actions; losing a claim (or
/// take) race is 409 `already_claimed`; a stale `If-Match` is 412. `mark-paid` pays the
/// invoice in full: an amount other than the invoice's is 422 `amount_mismatch` on
/// `payment.amount`, a date before the invoice date 422 `before_invoice_date` on
/// `payment.paid_on` (partial payment of supplier invoices is not supported). The same operation runs when
/// the matching task of `/tasks` is claimed or completed.
#[utoipa::path(
    tag = "approvals",
    params(ActionPath, ("If-Match" = Option<String>, Header, description = "ETag of the invoice version you read")),
    request_body(content = ActionBody, example = json!({"payment": {"paid_on": "2026-11-23", "amount": "125000.00", "order_number": "512"}})),
    responses(
        (status = 200, description = "The invoice after the action", body = SupplierInvoiceView),
        (status = 403, description = "Not yours to do (e.g. approving an invoice another head took)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invoice, or not visible to you", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Wrong state, or another user claimed it first", body = crate::error::Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:sdelka:problem:invalid_transition", "title": "The record's current state does not allow this", "status": 409,
                "detail": "cannot claim an invoice that is in_work_at_accountant; allowed: mark-paid, cancel", "code": "invalid_transition",
                "current_state": "in_work_at_accountant", "allowed_actions": ["mark-paid", "cancel"]})),
        (status = 412, description = "Stale If-Match", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A comment, payment or file is missing or invalid; the payment is not the invoice's amount or is dated before the invoice", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/supplier-invoices/{id}/actions/{action}")]
pub async fn act(
    state: web::Data<AppState>,
    caller: Principal,
    path: web::Path<ActionPath>,
    if_match: IfMatch,
    body: OptionalJsonBody<ActionBody>,
) -> ApiResult<HttpResponse> {
    let path = path.into_inner();
    let inv = ops::act_on_supplier_invoice(
        state.db(),
        &caller,
        path.id,
        path.action,
        if_match.0,
        body.0,
    )
    .await?;
    Ok(versioned(StatusCode::OK, inv.version, &inv))
}

/// Who may register a supplier invoice: the staff who buy from suppliers.
pub struct InitiatorsOnly;
impl Policy for InitiatorsOnly {
    const ROLES: &'static [Role] = &[
        Role::Admin,
        Role::Head,
        Role::SalesManager,
        Role::PurchasingManager,
    ];
    const DESCRIPTION: &'static str = "admin, head, sales_manager or purchasing_manager";
}
