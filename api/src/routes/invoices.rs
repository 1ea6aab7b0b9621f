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
use sdelka_domain::customer_invoice::InvoiceStatus;
use sdelka_domain::vat::VatRate;
use sdelka_persistence::ops::invoices::{
    self as ops, CreateInvoice, InvoiceActionRequest, InvoiceListFilter, InvoicePrint, InvoiceView,
    PrintQuery, UpdateInvoice,
};
use uuid::Uuid;

use crate::auth::{Principal, SalesStaff};
use crate::error::{ApiError, ApiResult};
use crate::extract::{IfMatch, JsonBody, OptionalJsonBody};
use crate::lists::{ListPage, ListParams};
use crate::negotiate::list_answer;
use crate::negotiate::{HTML, PDF, negotiate};
use crate::print::{
    BankBlock, LineFigures, PrintedInvoice, PrintedLine, currency_ru, money_ru, quantity_ru,
    totals_rows,
};
use crate::routes::{created, versioned};
use crate::state::AppState;
use sdelka_persistence::ops::Caller;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_invoices)
        .service(create_invoice)
        .service(get_invoice)
        .service(update_invoice)
        .service(issue_invoice)
        .service(cancel_invoice)
        .service(print_invoice);
}

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
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<InvoiceListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_invoices(state.db(), &caller, &page, filter).await }
        },
    )
    .await
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
    let i = ops::create_invoice(state.db(), &caller, body.0).await?;
    Ok(created(format!("/api/v1/invoices/{}", i.id), i.version, &i))
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
    let i = ops::get_invoice(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, i.version, &i))
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
    let i = ops::update_invoice(state.db(), &caller, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, i.version, &i))
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
    let i = ops::issue_invoice(state.db(), &caller, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, i.version, &i))
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
    let i = ops::cancel_invoice(state.db(), &caller, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, i.version, &i))
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
    let data = ops::invoice_for_print(state.db(), &caller, id.into_inner()).await?;
    let form = printed(&data);
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

/// A party of the invoice as its line reads: «name, ИНН …, КПП …, address» (no KPP for an
/// entrepreneur).
fn party(name: &str, inn: &str, kpp: Option<&str>, address: Option<&str>) -> String {
    let mut s = format!("{name}, ИНН {inn}");
    if let Some(k) = kpp.filter(|k| !k.trim().is_empty()) {
        s.push_str(&format!(", КПП {k}"));
    }
    if let Some(a) = address.filter(|a| !a.trim().is_empty()) {
        s.push_str(&format!(", {a}"));
    }
    s
}

/// The percent of a stored rate code (`22` → 22); `None` for «без НДС».
fn percent_of(code: &str) -> Option<u32> {
    code.parse().ok()
}

/// The content of the printed form, formatted once for both renderings.
pub fn printed(data: &InvoicePrint) -> PrintedInvoice {
    let InvoicePrint {
        invoice: i,
        lines,
        seller,
        account,
        buyer,
    } = data;
    PrintedInvoice {
        number: i
            .number
            .clone()
            .unwrap_or_else(|| "(черновик, без номера)".to_owned()),
        date: i.invoice_date.format("%d.%m.%Y").to_string(),
        void: i.status == InvoiceStatus::Cancelled.as_str(),
        bank: account.as_ref().map(|a| BankBlock {
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
        supplier: party(
            &seller.name,
            &seller.inn,
            seller.kpp.as_deref(),
            Some(&seller.legal_address),
        ),
        buyer: buyer.as_ref().map(|b| {
            party(
                &b.full_name,
                &b.inn,
                b.kpp.as_deref(),
                b.legal_address.as_deref(),
            )
        }),
        due_date: i.due_date.map(|d| d.format("%d.%m.%Y").to_string()),
        lines: lines
            .iter()
            .map(|l| PrintedLine {
                name: match l.discount_minor {
                    0 => l.name.clone(),
                    d => format!(
                        "{} (скидка {} {})",
                        l.name,
                        money_ru(d),
                        currency_ru(&i.currency)
                    ),
                },
                quantity: quantity_ru(l.quantity_thousandths),
                unit: l.unit_name.clone(),
                price: money_ru(l.price_minor),
                vat: match (VatRate::parse(&l.vat_rate), percent_of(&l.vat_rate)) {
                    (Ok(_), Some(p)) => format!("{p} %"),
                    (Ok(_), None) => "Без НДС".to_owned(),
                    (Err(_), _) => l.vat_rate.clone(),
                },
                amount: money_ru(l.sum_minor - l.discount_minor),
            })
            .collect(),
        totals: totals_rows(
            &lines
                .iter()
                .map(|l| LineFigures {
                    vat_percent: percent_of(&l.vat_rate),
                    vat_included: l.vat_included,
                    amount_minor: l.sum_minor - l.discount_minor,
                    vat_minor: l.vat_minor,
                })
                .collect::<Vec<_>>(),
        ),
        total: money_ru(i.total_minor),
        currency: currency_ru(&i.currency),
        total_in_words: sdelka_domain::amount_in_words::rubles_in_words_capitalized(i.total_minor),
        comment: i.comment.clone(),
        director: seller.director_name.clone().unwrap_or_default(),
        chief_accountant: seller.chief_accountant_name.clone().unwrap_or_default(),
    }
}
