//! `/invoices` (DOC-3): customer invoices ("счёт на оплату").
//!
//! A draft is made from a deal's product rows or from rows given; it is editable until it is
//! issued, which takes a number from the organisation's numbering template (WF-NUM) in the
//! issuing transaction. A cancelled issued invoice keeps its number (a recorded void).
//! Payment statuses follow from the payments applied (`/payments`).
//!
//! Visibility follows the responsible user like deals (responsible / department / admin);
//! accountants see every invoice, as they register the money for all of them.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use sdelka_domain::customer_invoice::{InvoiceAction, InvoiceState, InvoiceStatus, decide};
use sdelka_domain::money::{Money, Quantity};
use sdelka_domain::vat::VatRate;
use sdelka_persistence::StoreError;
use sdelka_persistence::entity::{
    bank_account, deal, invoice, legal_entity, order, organization, product_row,
};
use sdelka_persistence::journal::now;
use sdelka_persistence::numbering::{NumberingRefusal, take_number};
use sdelka_persistence::orders::ORDER_ROWS;
use sdelka_persistence::pagination::fetch_page;
use sdelka_persistence::records::{self, lock_row};
use sdelka_persistence::sales::{DEAL_ROWS, note_invoice_number, rows_of};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Select};
use uuid::Uuid;

use crate::auth::{Principal, SalesStaff};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{IfMatch, JsonBody, OptionalJsonBody};
use crate::lists::{ListPage, ListParams};
use crate::negotiate::{HTML, PDF, negotiate};
use crate::print::{BankBlock, PrintedInvoice, PrintedLine};
use crate::routes::{created, ensure_exists, versioned};
use crate::state::AppState;
use sdelka_persistence::ops::deals::clean;
use sdelka_persistence::ops::documents::vat_by_rate;
#[allow(unused_imports)]
use sdelka_persistence::ops::invoices::*;
use sdelka_persistence::ops::products::today;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_invoices)
        .service(create_invoice)
        .service(get_invoice)
        .service(update_invoice)
        .service(issue_invoice)
        .service(cancel_invoice)
        .service(print_invoice);
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// Lists the invoices the caller may see.
#[utoipa::path(
    tag = "documents",
    params(ListParams, InvoiceListFilter),
    responses((status = 200, description = "A page of invoices; sorts: created_at, updated_at, total", body = ListPage<InvoiceView>))
)]
#[get("/invoices")]
pub async fn list_invoices(
    state: web::Data<AppState>,
    caller: Principal,
    page: web::Query<ListParams>,
    filter: web::Query<InvoiceListFilter>,
) -> ApiResult<HttpResponse> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let f = filter.into_inner();
    let db = &state.store.conn;
    let mut q: Select<invoice::Entity> =
        invoice::Entity::find().filter(invoice::Column::DeletedAt.is_null());
    if let Some(s) = &f.status {
        if InvoiceStatus::parse(s).is_none() {
            return Err(ApiError::field(
                "status",
                "invalid_choice",
                "status must be draft, issued, partially_paid, paid or cancelled",
            ));
        }
        q = q.filter(invoice::Column::Status.eq(s.clone()));
    }
    if let Some(v) = f.organization_id {
        q = q.filter(invoice::Column::OrganizationId.eq(v));
    }
    if let Some(v) = f.deal_id {
        q = q.filter(invoice::Column::DealId.eq(v));
    }
    if let Some(v) = f.buyer_legal_entity_id {
        q = q.filter(invoice::Column::BuyerLegalEntityId.eq(v));
    }
    if let Some(v) = f.responsible_id {
        q = q.filter(invoice::Column::ResponsibleId.eq(v));
    }
    if let Some(v) = &f.number {
        q = q.filter(invoice::Column::Number.eq(v.clone()));
    }
    if let Some(t) = page.updated_since {
        q = q.filter(invoice::Column::UpdatedAt.gte(t));
    }
    if !sees_all_invoices(&caller) {
        let scope = caller.visibility(db).await?;
        q = scope.apply(q, invoice::Column::ResponsibleId);
    }
    let page = fetch_page(db, q, req, invoice::Column::Id, |m| m.id).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|i| i.id).collect();
    let rows = if ids.is_empty() {
        Vec::new()
    } else {
        product_row::Entity::find()
            .filter(product_row::Column::DocumentType.eq(INVOICE))
            .filter(product_row::Column::DocumentId.is_in(ids))
            .filter(product_row::Column::DeletedAt.is_null())
            .order_by_asc(product_row::Column::Id)
            .all(db)
            .await
            .map_err(StoreError::from)?
    };
    Ok(HttpResponse::Ok().json(ListPage::of(page, |i| {
        let lines: Vec<product_row::Model> = rows
            .iter()
            .filter(|r| r.document_id == i.id)
            .cloned()
            .collect();
        InvoiceView::new(i, &lines)
    })))
}

/// Creates a draft invoice (no number yet). With `deal_id` and no `lines`, the lines are
/// copied from the deal's product rows; the buyer defaults to the deal's legal entity and the
/// responsible user to the deal's.
#[utoipa::path(
    tag = "documents",
    request_body(content = CreateInvoice, example = json!({"organization_id": "0193a0b0-0000-7000-8000-000000000001", "buyer_legal_entity_id": "0193a0b0-0000-7000-8000-000000000002", "date": "2026-12-28", "due_date": "2027-01-10", "lines": [{"name": "Монтаж видеонаблюдения", "quantity": "1", "price": "1020.90", "vat_rate": "22"}]})),
    responses(
        (status = 201, description = "Created", body = InvoiceView),
        (status = 422, description = "Invalid fields", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/invoices")]
pub async fn create_invoice(
    state: web::Data<AppState>,
    caller: SalesStaff,
    body: JsonBody<CreateInvoice>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let id = Uuid::now_v7();
    let actor = caller.actor();
    let txn = state.store.begin().await?;
    let scope = caller.visibility(&txn).await?;
    ensure_exists::<organization::Entity, _>(&txn, "organization_id", req.organization_id).await?;
    let bank_account_id =
        check_bank_account(&txn, req.organization_id, req.bank_account_id).await?;
    // DOC-2 → DOC-3: an invoice for an order bills that order's deal, buyer and lines.
    let order = match req.order_id {
        Some(o) => match records::find::<order::Entity, _>(&txn, o).await {
            Ok(o) if scope.allows(Some(o.responsible_id)) => {
                if o.status == sdelka_domain::order::OrderStatus::Cancelled.as_str() {
                    return Err(ApiError::field(
                        "order_id",
                        "cancelled",
                        format!("order {} is cancelled and cannot be invoiced", o.id),
                    ));
                }
                if req.deal_id.is_some_and(|d| d != o.deal_id) {
                    return Err(ApiError::field(
                        "deal_id",
                        "mismatch",
                        format!("order {} belongs to deal {}", o.id, o.deal_id),
                    ));
                }
                Some(o)
            }
            Ok(_) | Err(StoreError::NotFound) => {
                return Err(ApiError::field(
                    "order_id",
                    "not_found",
                    format!("order_id {o} does not exist or is not visible to you"),
                ));
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let deal = match req.deal_id.or(order.as_ref().map(|o| o.deal_id)) {
        Some(d) => match records::find::<deal::Entity, _>(&txn, d).await {
            Ok(d) if scope.allows(Some(d.responsible_id)) => Some(d),
            Ok(_) | Err(StoreError::NotFound) => {
                return Err(ApiError::field(
                    "deal_id",
                    "not_found",
                    format!("deal_id {d} does not exist or is not visible to you"),
                ));
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let buyer = req
        .buyer_legal_entity_id
        .or(order.as_ref().and_then(|o| o.legal_entity_id))
        .or(deal.as_ref().and_then(|d| d.legal_entity_id))
        .ok_or_else(|| {
            ApiError::field(
                "buyer_legal_entity_id",
                "required",
                "name the buyer (or a deal with a legal entity)",
            )
        })?;
    ensure_exists::<legal_entity::Entity, _>(&txn, "buyer_legal_entity_id", buyer).await?;
    let currency = deal
        .as_ref()
        .map(|d| d.currency.clone())
        .unwrap_or_else(|| "RUB".to_owned());
    let lines = match (&req.lines, &order, &deal) {
        (Some(l), _, _) => priced_lines(&txn, id, &currency, l).await?,
        (None, Some(o), _) => copied_lines(id, &rows_of(&txn, ORDER_ROWS, o.id).await?),
        (None, None, Some(d)) => copied_lines(id, &rows_of(&txn, DEAL_ROWS, d.id).await?),
        (None, None, None) => Vec::new(),
    };
    let (net, vat, total) = totals(&lines)?;
    let at = now();
    let model = invoice::Model {
        id,
        organization_id: req.organization_id,
        bank_account_id,
        buyer_legal_entity_id: buyer,
        deal_id: deal.as_ref().map(|d| d.id),
        order_id: order.as_ref().map(|o| o.id),
        responsible_id: deal
            .as_ref()
            .map(|d| d.responsible_id)
            .unwrap_or(caller.user_id),
        status: InvoiceStatus::Draft.as_str().to_owned(),
        number: None,
        numbering_template_id: None,
        numbering_period: None,
        numbering_counter: None,
        invoice_date: req.date.unwrap_or_else(today),
        due_date: req.due_date,
        currency,
        net_minor: net,
        vat_minor: vat,
        total_minor: total,
        paid_minor: 0,
        comment: clean(&req.comment),
        issued_at: None,
        cancelled_at: None,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let saved =
        records::create::<invoice::Entity, _>(&txn, &actor, model, records::snapshot).await?;
    let lines = write_lines(&txn, &actor, lines).await?;
    record_transition(
        &txn,
        &actor,
        id,
        None,
        InvoiceStatus::Draft,
        InvoiceAction::Edit,
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/invoices/{id}"),
        saved.version,
        &InvoiceView::new(&saved, &lines),
    ))
}

/// Reads one invoice.
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Invoice id")),
    responses((status = 200, description = "The invoice", body = InvoiceView))
)]
#[get("/invoices/{id}")]
pub async fn get_invoice(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let db = &state.store.conn;
    let scope = caller.visibility(db).await?;
    let i = visible_invoice(db, &caller, &scope, id.into_inner()).await?;
    let lines = lines_of(db, i.id).await?;
    Ok(versioned(
        StatusCode::OK,
        i.version,
        &InvoiceView::new(&i, &lines),
    ))
}

/// Changes a draft (buyer, dates, bank account, comment; `lines` replace all lines). An issued
/// invoice is not editable (409 `invalid_transition`).
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Invoice id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body(content = UpdateInvoice, example = json!({"due_date": "2027-01-20", "lines": [{"name": "Камера IP", "quantity": "2", "price": "5000.00", "vat_rate": "22"}]})),
    responses((status = 200, description = "Updated", body = InvoiceView))
)]
#[patch("/invoices/{id}")]
pub async fn update_invoice(
    state: web::Data<AppState>,
    caller: SalesStaff,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateInvoice>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let req = body.0;
    let actor = caller.actor();
    let txn = state.store.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let current = visible_invoice(&txn, &caller, &scope, id).await?;
    let state_now = InvoiceState {
        status: status_of(&current)?,
        total_minor: current.total_minor,
        paid_minor: current.paid_minor,
    };
    decide(state_now, InvoiceAction::Edit, 0).map_err(refusal)?;
    if let Some(b) = req.buyer_legal_entity_id {
        ensure_exists::<legal_entity::Entity, _>(&txn, "buyer_legal_entity_id", b).await?;
    }
    let bank_account_id = match req.bank_account_id {
        Some(b) => check_bank_account(&txn, current.organization_id, Some(b)).await?,
        None => current.bank_account_id,
    };
    let new_lines = match &req.lines {
        Some(l) => {
            let priced = priced_lines(&txn, id, &current.currency, l).await?;
            for old in lines_of(&txn, id).await? {
                records::soft_delete::<product_row::Entity, _>(
                    &txn,
                    &actor,
                    old.id,
                    None,
                    records::snapshot,
                )
                .await?;
            }
            Some(write_lines(&txn, &actor, priced).await?)
        }
        None => None,
    };
    let new_totals = new_lines.as_deref().map(totals).transpose()?;
    let saved = records::update::<invoice::Entity, _, _, ApiError>(
        &txn,
        &actor,
        id,
        if_match.0.or(Some(current.version)),
        |i| {
            if let Some(b) = req.buyer_legal_entity_id {
                i.buyer_legal_entity_id = b;
            }
            i.bank_account_id = bank_account_id;
            if let Some(d) = req.date {
                i.invoice_date = d;
            }
            if let Some(d) = req.due_date {
                i.due_date = d;
            }
            if let Some(c) = &req.comment {
                i.comment = clean(c);
            }
            if let Some((net, vat, total)) = new_totals {
                i.net_minor = net;
                i.vat_minor = vat;
                i.total_minor = total;
                // Lines replaced: the version changes even if the sums happen not to.
                i.updated_at = now();
            }
            Ok(())
        },
        records::snapshot,
    )
    .await
    .map_err(|e| race(e, if_match.0.is_some()))??;
    let lines = match new_lines {
        Some(l) => l,
        None => lines_of(&txn, id).await?,
    };
    txn.commit().await?;
    Ok(versioned(
        StatusCode::OK,
        saved.version,
        &InvoiceView::new(&saved, &lines),
    ))
}

/// Issues a draft: takes the next number of the organisation's `invoice` numbering template
/// for the invoice's date (a December invoice issued in January gets December's series). No
/// template for invoices → 409 `no_numbering_template`.
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Invoice id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body(content = InvoiceActionRequest, example = json!({"comment": "отправлен клиенту"})),
    responses(
        (status = 200, description = "Issued, with its number", body = InvoiceView),
        (status = 409, description = "Not a draft, no lines, no numbering template, or a concurrent change", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/invoices/{id}/actions/issue")]
pub async fn issue_invoice(
    state: web::Data<AppState>,
    caller: SalesStaff,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: OptionalJsonBody<InvoiceActionRequest>,
) -> ApiResult<HttpResponse> {
    let comment = clean(&body.0.comment);
    act(
        &state,
        &caller,
        id.into_inner(),
        if_match,
        comment,
        InvoiceAction::Issue,
    )
    .await
}

/// Cancels a draft or an issued invoice without payments. An issued invoice keeps its number
/// as a recorded void; the number is never given again.
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Invoice id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body(content = InvoiceActionRequest, example = json!({"comment": "клиент отказался"})),
    responses(
        (status = 200, description = "Cancelled", body = InvoiceView),
        (status = 409, description = "Paid (in part) or already cancelled", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/invoices/{id}/actions/cancel")]
pub async fn cancel_invoice(
    state: web::Data<AppState>,
    caller: SalesStaff,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: OptionalJsonBody<InvoiceActionRequest>,
) -> ApiResult<HttpResponse> {
    let comment = clean(&body.0.comment);
    act(
        &state,
        &caller,
        id.into_inner(),
        if_match,
        comment,
        InvoiceAction::Cancel,
    )
    .await
}

/// The printable form ("Счёт на оплату"): the seller's bank details, buyer, lines, VAT by rate
/// and the total in words. HTML by default, every stored string escaped; a PDF (A4, the goods
/// table continued over pages) with `?format=pdf` or `Accept: application/pdf`.
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Invoice id"), PrintQuery),
    responses(
        (status = 200, description = "The printable form", content(
            (String = "text/html"),
            (sdelka_persistence::ops::files::FileContent = "application/pdf")
        )),
        (status = 422, description = "`format` is neither html nor pdf", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/invoices/{id}/print")]
pub async fn print_invoice(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    id: web::Path<Uuid>,
    q: web::Query<PrintQuery>,
) -> ApiResult<HttpResponse> {
    let format = negotiate(&req, q.format.as_deref(), &[HTML, PDF])?;
    let db = &state.store.conn;
    let scope = caller.visibility(db).await?;
    let i = visible_invoice(db, &caller, &scope, id.into_inner()).await?;
    let lines = lines_of(db, i.id).await?;
    let seller = organization::Entity::find_by_id(i.organization_id)
        .one(db)
        .await
        .map_err(StoreError::from)?
        .ok_or_else(ApiError::not_found)?;
    let account = match i.bank_account_id {
        Some(a) => bank_account::Entity::find_by_id(a)
            .one(db)
            .await
            .map_err(StoreError::from)?,
        None => None,
    };
    let buyer = legal_entity::Entity::find_by_id(i.buyer_legal_entity_id)
        .one(db)
        .await
        .map_err(StoreError::from)?;
    let form = printed(&i, &lines, &seller, account.as_ref(), buyer.as_ref());
    if format == PDF {
        let disposition = form.content_disposition("pdf");
        // Compressing the embedded fonts takes milliseconds of CPU: off the async workers.
        let pdf = web::block(move || form.to_pdf())
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal("the bundled PDF fonts cannot be read"))?;
        return Ok(HttpResponse::Ok()
            .content_type(PDF.media_type)
            .insert_header((header::CONTENT_DISPOSITION, disposition))
            .body(pdf));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(form.to_html()))
}

/// One status change of an invoice by a user (issue or cancel), as one compare-and-set with
/// its transition row. Issuing takes the number last before the write, so the counter row's
/// lock is held only until the commit that follows.
pub async fn act(
    state: &AppState,
    caller: &Principal,
    id: Uuid,
    if_match: IfMatch,
    comment: Option<String>,
    action: InvoiceAction,
) -> ApiResult<HttpResponse> {
    let actor = caller.actor();
    let txn = state.store.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let current = visible_invoice(&txn, caller, &scope, id).await?;
    let from = status_of(&current)?;
    let next = decide(
        InvoiceState {
            status: from,
            total_minor: current.total_minor,
            paid_minor: current.paid_minor,
        },
        action,
        0,
    )
    .map_err(refusal)?;
    if action == InvoiceAction::Issue
        && let Some(deal_id) = current.deal_id
    {
        // The deal is locked before the number is taken: the numbering counter, which every
        // issue of this organisation queues on, is then never held while waiting for the deal.
        lock_row(&txn, "deals", deal_id).await?;
    }
    let taken = match action {
        InvoiceAction::Issue => Some(
            take_number(&txn, current.organization_id, INVOICE, current.invoice_date)
                .await?
                .map_err(|r| match r {
                    NumberingRefusal::NoTemplate { .. } => {
                        ApiError::new(ErrorCode::NoNumberingTemplate, r.to_string())
                    }
                })?,
        ),
        InvoiceAction::Edit
        | InvoiceAction::Cancel
        | InvoiceAction::ApplyPayment
        | InvoiceAction::UnapplyPayment => None,
    };
    let at = now();
    let saved = records::update::<invoice::Entity, _, _, ApiError>(
        &txn,
        &actor,
        id,
        Some(if_match.0.unwrap_or(current.version)),
        |i| {
            i.status = next.status.as_str().to_owned();
            if let Some(taken) = &taken {
                i.number = Some(taken.number.clone());
                i.numbering_template_id = Some(taken.template_id);
                i.numbering_period = Some(taken.period.clone());
                i.numbering_counter = Some(taken.counter);
                i.issued_at = Some(at);
            }
            if action == InvoiceAction::Cancel {
                i.cancelled_at = Some(at);
            }
            Ok(())
        },
        records::snapshot,
    )
    .await
    .map_err(|e| race(e, if_match.0.is_some()))??;
    if let (Some(deal_id), Some(number)) = (saved.deal_id, &saved.number) {
        // DEAL-2: the deal lists the numbers of its live invoices; a void leaves the list.
        let listed = action != InvoiceAction::Cancel;
        note_invoice_number(&txn, &actor, deal_id, number, listed).await?;
    }
    record_transition(
        &txn,
        &actor,
        id,
        Some(from),
        next.status,
        action,
        comment.as_deref(),
    )
    .await?;
    txn.commit().await?;
    let lines = lines_of(&state.store.conn, id).await?;
    Ok(versioned(
        StatusCode::OK,
        saved.version,
        &InvoiceView::new(&saved, &lines),
    ))
}

/// The content of the printed form, formatted once for both renderings.
pub fn printed(
    i: &invoice::Model,
    lines: &[product_row::Model],
    seller: &organization::Model,
    account: Option<&bank_account::Model>,
    buyer: Option<&legal_entity::Model>,
) -> PrintedInvoice {
    PrintedInvoice {
        number: i
            .number
            .clone()
            .unwrap_or_else(|| "(черновик, без номера)".to_owned()),
        date: i.invoice_date.format("%d.%m.%Y").to_string(),
        void: i.status == InvoiceStatus::Cancelled.as_str(),
        bank: account.map(|a| BankBlock {
            bank_name: a.bank_name.clone(),
            bik: a.bik.clone(),
            account: a.settlement_account.clone(),
            correspondent_account: a.correspondent_account.clone(),
            seller_ids: format!(
                "ИНН {} КПП {}",
                seller.inn,
                seller.kpp.as_deref().unwrap_or("")
            ),
            seller_name: seller.name.clone(),
        }),
        supplier: format!(
            "{}, ИНН {}, {}",
            seller.name, seller.inn, seller.legal_address
        ),
        buyer: buyer.map(|b| {
            format!(
                "{}, ИНН {}{}",
                b.full_name,
                b.inn,
                b.legal_address
                    .as_deref()
                    .map(|a| format!(", {a}"))
                    .unwrap_or_default()
            )
        }),
        due_date: i.due_date.map(|d| d.format("%d.%m.%Y").to_string()),
        lines: lines
            .iter()
            .map(|l| PrintedLine {
                name: l.name.clone(),
                quantity: Quantity::from_thousandths(l.quantity_thousandths)
                    .map(|q| q.to_string())
                    .unwrap_or_default(),
                unit: l.unit_name.clone(),
                price: Money::from_minor(l.price_minor).to_string(),
                vat: VatRate::parse(&l.vat_rate)
                    .map(|v| v.label().to_owned())
                    .unwrap_or_else(|_| l.vat_rate.clone()),
                total: Money::from_minor(l.total_minor).to_string(),
            })
            .collect(),
        vat_rows: vat_by_rate(lines)
            .into_iter()
            .map(|v| {
                let label = if v.vat_rate == "none" {
                    "Без НДС".to_owned()
                } else {
                    format!("В том числе НДС {}", v.vat_rate_label)
                };
                (label, v.vat.to_string())
            })
            .collect(),
        total: Money::from_minor(i.total_minor).to_string(),
        currency: i.currency.clone(),
        total_in_words: sdelka_domain::amount_in_words::rubles_in_words_capitalized(i.total_minor),
        comment: i.comment.clone(),
        director: seller.director_name.clone().unwrap_or_default(),
        chief_accountant: seller.chief_accountant_name.clone().unwrap_or_default(),
    }
}
