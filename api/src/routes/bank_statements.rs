//! `/bank-statements` (INT-1C-2): a `1CClientBankExchange` bank statement in — raw body
//! (`text/plain`, `application/octet-stream`) or a multipart form with a `file` part — its
//! incoming money as payments, sure invoice matches applied, the rest in a review list.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt;
use sdelka_domain::role::Role;
use sdelka_persistence::ops::ErrorCode;
use sdelka_persistence::ops::bank_statements::{
    self as ops, BankStatementView, ConfirmMatch, ReviewItemView,
};
use uuid::Uuid;

use crate::auth::{Authorized, Policy};
use crate::error::{ApiError, ApiResult};
use crate::extract::{multipart_error, read_limited, too_large};
use crate::state::AppState;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(import_statement)
        .service(list_reviews)
        .service(get_statement)
        .service(get_document)
        .service(confirm_review)
        .service(reject_review);
}

/// Who imports statements and decides matches: as for payments.
pub struct MoneyStaffOnly;
impl Policy for MoneyStaffOnly {
    const ROLES: &'static [Role] = sdelka_persistence::ops::payments::MONEY_STAFF;
    const DESCRIPTION: &'static str = "admin, accountant, head or sales_manager";
}
pub type MoneyStaff = Authorized<MoneyStaffOnly>;

/// The statement file as a multipart form.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct StatementForm {
    /// The `1CClientBankExchange` file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

async fn file_of_multipart(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> ApiResult<Vec<u8>> {
    let mut form = Multipart::new(req.headers(), payload);
    let mut file: Option<Vec<u8>> = None;
    while let Some(part) = form.next().await {
        let mut part = part.map_err(multipart_error)?;
        let name = part.name().unwrap_or_default().to_owned();
        if name != "file" {
            return Err(ApiError::field(
                &name,
                "unknown_field",
                format!("unknown form field `{name}`; send the statement as `file`"),
            ));
        }
        if file.is_some() {
            return Err(ApiError::field(
                "file",
                "duplicate",
                "send one statement per request",
            ));
        }
        let mut buf = Vec::new();
        while let Some(chunk) = part.next().await {
            let chunk = chunk.map_err(multipart_error)?;
            if buf.len() + chunk.len() > limit {
                return Err(too_large(limit));
            }
            buf.extend_from_slice(&chunk);
        }
        file = Some(buf);
    }
    file.ok_or_else(|| ApiError::field("file", "required", "the form has no `file` part"))
}

/// Imports a bank statement (`1CClientBankExchange` 1.02 or 1.03, windows-1251, UTF-8 or DOS,
/// CRLF or LF). Every document is stored once by its identity (account, number, date, amount,
/// counterparty): importing the same file again — also concurrently — creates nothing twice
/// and answers those documents as `duplicate`. Incoming money to one of our organisations'
/// accounts becomes a payment; a sure match (invoice number in the purpose, payer INN and
/// amount agree) is applied at once, anything less waits in `review`. Requisites failing their
/// checksums, balances that do not add up and unknown keys are `warnings`, not refusals.
/// A large statement is answered `202` at once and imported by a job, with progress.
#[utoipa::path(
    tag = "documents",
    request_body(content(
        (String = "text/plain"),
        (Vec<u8> = "application/octet-stream"),
        (StatementForm = "multipart/form-data")
    )),
    responses(
        (status = 201, description = "Imported", body = BankStatementView),
        (status = 202, description = "A large file (more documents than `SDELKA_BANK_STATEMENT_JOB_DOCUMENTS`, default 1000): stored and queued; the statement job imports it in batches — follow `state` and `processed_documents` at `Location`", body = BankStatementView),
        (status = 413, description = "The file exceeds the import limit", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not text/plain, application/octet-stream or multipart/form-data", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a readable 1CClientBankExchange file", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/bank-statements")]
pub async fn import_statement(
    state: web::Data<AppState>,
    caller: MoneyStaff,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let limit = state.config.max_import_bytes;
    let essence = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let bytes = match essence.as_str() {
        "multipart/form-data" => file_of_multipart(&req, payload, limit).await?,
        "text/plain" | "application/octet-stream" | "" => {
            read_limited(payload.into_inner(), limit).await?.to_vec()
        }
        _ => {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the statement as text/plain, application/octet-stream or multipart/form-data",
            ));
        }
    };
    if bytes.is_empty() {
        return Err(ApiError::field("file", "required", "the file is empty"));
    }
    let view = ops::import_statement(
        state.db(),
        &caller,
        &bytes,
        state.config.bank_statement_job_documents,
    )
    .await?;
    let mut answer = if view.state == "completed" {
        HttpResponse::Created()
    } else {
        HttpResponse::Accepted()
    };
    Ok(answer
        .insert_header((
            header::LOCATION,
            format!("/api/v1/bank-statements/{}", view.id),
        ))
        .json(view))
}

/// Every imported payment still waiting for review, oldest first.
#[utoipa::path(
    tag = "documents",
    params(crate::lists::ListParams),
    responses((status = 200, description = "A page of the review list", body = crate::lists::ListPage<ReviewItemView>))
)]
#[get("/bank-statements/review")]
pub async fn list_reviews(
    state: web::Data<AppState>,
    caller: MoneyStaff,
    req: actix_web::HttpRequest,
    page: web::Query<crate::lists::ListParams>,
) -> ApiResult<HttpResponse> {
    let caller = sdelka_persistence::ops::Caller::clone(&caller);
    crate::negotiate::list_answer(&req, page.into_inner(), (), move |page, ()| {
        let (state, caller) = (state.clone(), caller.clone());
        async move { ops::pending_reviews(state.db(), &caller, &page).await }
    })
    .await
}

/// One imported statement: balances, warnings, per-document results and its review list as it
/// stands now.
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Statement id")),
    responses(
        (status = 200, description = "The statement", body = BankStatementView),
        (status = 404, description = "No such statement", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/bank-statements/{id}")]
pub async fn get_statement(
    state: web::Data<AppState>,
    caller: MoneyStaff,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = ops::get_statement(state.db(), &caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// One statement document as a review item: its payment, the suggested invoice, the decision.
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Statement document id (`review[].document_id`)")),
    responses(
        (status = 200, description = "The document", body = ReviewItemView),
        (status = 404, description = "No such document, or not one the caller may see", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/bank-statement-documents/{id}")]
pub async fn get_document(
    state: web::Data<AppState>,
    caller: MoneyStaff,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let view = ops::get_document(state.db(), &caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Confirms a payment waiting for review: it is applied to the invoice named (default: the
/// suggested one).
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Statement document id (`review[].document_id`)")),
    request_body(content = ConfirmMatch, example = json!({"invoice_id": "0193a0b0-0000-7000-8000-000000000003"})),
    responses(
        (status = 200, description = "Confirmed and applied", body = ReviewItemView),
        (status = 409, description = "Not pending review, or the invoice does not await payment", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "No invoice suggested or named, or more than outstanding", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/bank-statement-documents/{id}/confirm")]
pub async fn confirm_review(
    state: web::Data<AppState>,
    caller: MoneyStaff,
    id: web::Path<Uuid>,
    body: crate::extract::JsonBody<ConfirmMatch>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let item = ops::confirm_review(state.db(), &caller, id.into_inner(), req).await?;
    Ok(HttpResponse::Ok().json(item))
}

/// Rejects a suggested match: the payment stays unapplied.
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Statement document id (`review[].document_id`)")),
    responses(
        (status = 200, description = "Rejected", body = ReviewItemView),
        (status = 409, description = "Not pending review", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
#[post("/bank-statement-documents/{id}/reject")]
pub async fn reject_review(
    state: web::Data<AppState>,
    caller: MoneyStaff,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let item = ops::reject_review(state.db(), &caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(item))
}
