//! `/supplier-invoices` (WF-INV): a supplier's invoice registered by its initiator, decided by
//! one of the decision makers' pool, paid by the first accountant of the accountants' pool to
//! claim it, and closed with the closing documents. Each action is
//! `POST /supplier-invoices/{id}/actions/{action}`; the inbox task of the same step
//! (`/tasks/{id}/claim|complete`) runs the very same operation.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use sdelka_domain::email::Email;
use sdelka_domain::money::Money;
use sdelka_domain::supplier_invoice::InvoiceState;
use sdelka_persistence::approvals::{self as store, InvoiceFilter, invoices_query};
use sdelka_persistence::clients::fold;
use sdelka_persistence::entity::{legal_entity, organization, supplier_invoice};
use sdelka_persistence::journal::now;
use sdelka_persistence::pagination::fetch_page;
use sdelka_persistence::records;
use uuid::Uuid;

use crate::auth::Principal;
use crate::auth::{Authorized, Policy};
use crate::error::{ApiError, ApiResult};
use crate::extract::{IfMatch, JsonBody, OptionalJsonBody};
use crate::lists::{ListPage, ListParams};
use crate::routes::{created, ensure_exists, versioned};
use crate::state::AppState;
use sdelka_domain::role::Role;
use sdelka_persistence::ops::approvals::{self, ActionInput, PaymentInput};
#[allow(unused_imports)]
use sdelka_persistence::ops::supplier_invoices::*;

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
    page: web::Query<ListParams>,
    filter: web::Query<SupplierInvoiceFilter>,
) -> ApiResult<HttpResponse> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let f = filter.into_inner();
    let db = &state.store.conn;
    let viewer = approvals::invoice_viewer(db, &caller).await?;
    let query = invoices_query(
        &viewer,
        &InvoiceFilter {
            state: f.state.map(|s| s.as_str().to_owned()),
            organization_id: f.organization_id,
            initiator_id: f.initiator_id,
            supplier_legal_entity_id: f.supplier_legal_entity_id,
            q: f.q
                .filter(|q| !q.trim().is_empty())
                .map(|q| q.trim().to_owned()),
            updated_since: page.updated_since,
        },
    );
    let page = fetch_page(db, query, req, supplier_invoice::Column::Id, |m| m.id).await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, view_row)))
}

/// Registers a supplier invoice (WF-INV-1) with its file; it enters `awaiting_decision` and
/// the organisation's decision makers get the task. Both pools of the organisation must be
/// configured first.
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
        (status = 422, description = "Invalid fields, no pools, a file not visible", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/supplier-invoices")]
pub async fn register_supplier_invoice(
    state: web::Data<AppState>,
    caller: Authorized<InitiatorsOnly>,
    body: JsonBody<RegisterSupplierInvoice>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let mut v = sdelka_domain::validation::Violations::new();
    let email = match Email::parse(&req.supplier_email) {
        Ok(e) => Some(e),
        Err(e) => {
            v.push(sdelka_domain::validation::FieldViolation::new(
                "supplier_email",
                e.code(),
                e.to_string(),
            ));
            None
        }
    };
    let amount = match sdelka_persistence::ops::products::money_field("amount", &req.amount) {
        Ok(m) if m.is_zero() => {
            v.push(sdelka_domain::validation::FieldViolation::new(
                "amount",
                "out_of_range",
                "amount must be positive",
            ));
            None
        }
        Ok(m) => Some(m),
        Err(f) => {
            v.push(f);
            None
        }
    };
    let vat = match req
        .vat_amount
        .as_deref()
        .map(|s| sdelka_persistence::ops::products::money_field("vat_amount", s))
    {
        Some(Ok(m)) => Some(m),
        Some(Err(f)) => {
            v.push(f);
            None
        }
        None => None,
    };
    let currency =
        match sdelka_persistence::ops::products::currency("currency", req.currency.as_deref()) {
            Ok(c) => Some(c),
            Err(f) => {
                v.push(f);
                None
            }
        };
    if let (Some(a), Some(t)) = (amount, vat)
        && t > a
    {
        v.push(sdelka_domain::validation::FieldViolation::new(
            "vat_amount",
            "out_of_range",
            "the VAT cannot exceed the invoice amount",
        ));
    }
    let (Some(email), Some(amount), Some(currency)) = (email, amount, currency) else {
        return Err(ApiError::validation(v));
    };
    if !v.is_empty() {
        return Err(ApiError::validation(v));
    }
    let to_minor = |field: &str, m: Money| {
        m.to_minor()
            .map_err(|e| ApiError::field(field, "out_of_range", e.to_string()))
    };
    let amount_kopecks = to_minor("amount", amount)?;
    let vat_kopecks = vat.map(|m| to_minor("vat_amount", m)).transpose()?;
    let txn = state.store.begin().await?;
    ensure_exists::<organization::Entity, _>(&txn, "organization_id", req.organization_id).await?;
    ensure_exists::<legal_entity::Entity, _>(
        &txn,
        "supplier_legal_entity_id",
        req.supplier_legal_entity_id,
    )
    .await?;
    let supplier =
        records::find::<legal_entity::Entity, _>(&txn, req.supplier_legal_entity_id).await?;
    let at = now();
    let number = req.number.trim().to_owned();
    let model = supplier_invoice::Model {
        id: Uuid::now_v7(),
        organization_id: req.organization_id,
        supplier_legal_entity_id: supplier.id,
        supplier_name: supplier.short_name.clone(),
        supplier_email: email.as_str().to_owned(),
        search_text: fold(&[
            &number,
            &supplier.short_name,
            &supplier.full_name,
            email.as_str(),
        ]),
        number,
        invoice_date: req.invoice_date,
        amount_kopecks,
        vat_kopecks,
        currency,
        due_date: req.due_date,
        description: req.description,
        initiator_id: caller.user_id,
        state: InvoiceState::AwaitingDecision.name().to_owned(),
        holder_id: None,
        state_since: at,
        round: 1,
        head_id: None,
        payer_id: None,
        paid_on: None,
        paid_amount_kopecks: None,
        payment_order_number: None,
        cancel_reason: None,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let inv = approvals::register_invoice(&txn, &caller, model, &req.file_ids).await?;
    let view = full_view(&txn, &inv).await?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/supplier-invoices/{}", inv.id),
        inv.version,
        &view,
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
    let db = &state.store.conn;
    let viewer = approvals::invoice_viewer(db, &caller).await?;
    let inv = store::visible_invoice(db, &viewer, id.into_inner()).await?;
    Ok(versioned(
        StatusCode::OK,
        inv.version,
        &full_view(db, &inv).await?,
    ))
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
    let db = &state.store.conn;
    let viewer = approvals::invoice_viewer(db, &caller).await?;
    let inv = store::visible_invoice(db, &viewer, id.into_inner()).await?;
    let items = store::transitions_of(db, inv.id)
        .await?
        .iter()
        .map(SupplierInvoiceTransitionView::from)
        .collect();
    Ok(HttpResponse::Ok().json(TransitionList { items }))
}

/// Applies a WF-INV action. An action the current state does not allow is 409
/// `invalid_transition` naming the current state and the allowed actions; losing a claim (or
/// take) race is 409 `already_claimed`; a stale `If-Match` is 412. The same operation runs when
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
        (status = 422, description = "A comment, payment or file is missing or invalid", body = crate::error::Problem, content_type = "application/problem+json")
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
    let req = body.0;
    let input = ActionInput {
        comment: req.comment,
        file_ids: req.file_ids,
        payment: req.payment.map(PaymentInput::from),
    };
    let txn = state.store.begin().await?;
    let inv = approvals::act_on_invoice(
        &txn,
        &caller,
        path.id,
        path.action.into(),
        input,
        if_match.0,
    )
    .await?;
    let view = full_view(&txn, &inv).await?;
    txn.commit().await?;
    Ok(versioned(StatusCode::OK, inv.version, &view))
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
