//! `/quotes` (DOC-1): commercial proposals made from a deal, in versions.
//!
//! A quote copies the deal's product rows (or takes rows given in the request), names the
//! seller (an own organisation) and the buyer (the deal's legal entity and/or contact), and is
//! valid until a date. Each version has its own status, decided by the pure state machine
//! `sdelka_domain::quote`: draft → sent → accepted | rejected; after the client's feedback on
//! a sent or rejected version, `POST /quotes/{id}/versions` starts the next version as an
//! editable draft, and every older version stays read-only (edits → 409 `version_read_only`).
//!
//! "send" emails the quote to the buyer's contact through the outbox, in the transaction of
//! the transition. Visibility and permissions are those of deals: the quote belongs to the
//! deal's responsible user; changing quotes needs `admin`, `head` or `sales_manager`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, patch, post, web};
use sdelka_persistence::ops::quotes::{
    self as ops, CreateQuote, NewQuoteVersion, QuoteActionPath, QuoteActionRequest, QuoteDetail,
    QuoteListFilter, QuoteTransitionView, QuoteVersionView, QuoteView, UpdateQuoteVersion,
    VersionPath,
};
use uuid::Uuid;

use crate::auth::{Principal, SalesStaff};
use crate::error::ApiResult;
use crate::extract::{IfMatch, JsonBody, OptionalJsonBody};
use crate::lists::{ListPage, ListParams};
use crate::negotiate::{FormatParam, list_answer, whole_answer};
use crate::routes::{created, versioned};
use crate::state::AppState;
use actix_web::HttpRequest;
use sdelka_persistence::ops::Caller;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_quotes)
        .service(create_quote)
        .service(get_quote)
        .service(list_versions)
        .service(create_version)
        .service(get_version)
        .service(update_version)
        .service(quote_action)
        .service(quote_transitions);
}

/// Lists the quotes the caller may see (those of deals he sees).
#[utoipa::path(
    tag = "documents",
    params(ListParams, QuoteListFilter),
    responses((status = 200, description = "A page of quotes; sorts: created_at, updated_at, total", body = ListPage<QuoteView>))
)]
#[get("/quotes")]
pub async fn list_quotes(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<QuoteListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_quotes(state.db(), &caller, &page, filter).await }
        },
    )
    .await
}

/// Makes a quote (version 1, a draft) from a deal: the deal's product rows are copied as they
/// are priced there, unless `rows` are given. The buyer defaults to the deal's legal entity
/// and first contact; the quote belongs to the deal's responsible user.
#[utoipa::path(
    tag = "documents",
    request_body(content = CreateQuote, example = json!({
        "deal_id": "0193a000-0000-7000-8000-000000000001",
        "organization_id": "0193a000-0000-7000-8000-000000000002",
        "valid_until": "2026-12-31"
    })),
    responses((status = 201, description = "Created; the body is the quote with its rows", body = QuoteDetail))
)]
#[post("/quotes")]
pub async fn create_quote(
    state: web::Data<AppState>,
    caller: SalesStaff,
    body: JsonBody<CreateQuote>,
) -> ApiResult<HttpResponse> {
    let q = ops::create_quote(state.db(), &caller, body.0).await?;
    Ok(created(
        format!("/api/v1/quotes/{}", q.quote.id),
        q.quote.version,
        &q,
    ))
}

/// Reads a quote with the rows of its current version.
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Quote id")),
    responses((status = 200, description = "The quote", body = QuoteDetail))
)]
#[get("/quotes/{id}")]
pub async fn get_quote(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let q = ops::get_quote(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, q.quote.version, &q))
}

/// Every version of a quote, oldest first, with rows and totals; all but the current one are
/// read-only.
#[utoipa::path(
    tag = "documents",
    params(FormatParam, ("id" = Uuid, Path, description = "Quote id")),
    responses((status = 200, description = "The versions", body = ListPage<QuoteVersionView>))
)]
#[get("/quotes/{id}/versions")]
pub async fn list_versions(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let versions = ops::list_versions(state.db(), &caller, id.into_inner()).await?;
    whole_answer(&req, versions)
}

/// Reads version `n` of a quote; its `ETag` is the version's own, for `If-Match` on edits.
#[utoipa::path(
    tag = "documents",
    params(VersionPath),
    responses((status = 200, description = "The version", body = QuoteVersionView))
)]
#[get("/quotes/{id}/versions/{n}")]
pub async fn get_version(
    state: web::Data<AppState>,
    caller: Principal,
    path: web::Path<VersionPath>,
) -> ApiResult<HttpResponse> {
    let VersionPath { id, n } = path.into_inner();
    let v = ops::get_version(state.db(), &caller, id, n).await?;
    Ok(versioned(StatusCode::OK, v.version, &v))
}

/// Starts the next version after the client's feedback: a draft copying the current
/// version's rows (or taking the rows given). Allowed when the current version is `sent` or
/// `rejected`; a draft is edited instead, an accepted quote is final (409 naming the state).
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Quote id"), ("If-Match" = Option<String>, Header, description = "ETag of the quote you read")),
    request_body(content = NewQuoteVersion, example = json!({
        "comment": "Клиент просит скидку 5 % на камеры",
        "rows": [{"name": "Камера IP 4 Мп", "quantity": "4", "price": "12500.00", "discount_percent": "5", "vat_rate": "22"}]
    })),
    responses((status = 201, description = "The new current version", body = QuoteVersionView))
)]
#[post("/quotes/{id}/versions")]
pub async fn create_version(
    state: web::Data<AppState>,
    caller: SalesStaff,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<NewQuoteVersion>,
) -> ApiResult<HttpResponse> {
    let v = ops::create_version(state.db(), &caller, id.into_inner(), if_match.0, body.0).await?;
    Ok(created(
        format!("/api/v1/quotes/{}/versions/{}", v.quote_id, v.number),
        v.version,
        &v,
    ))
}

/// Edits version `n`: only the current version, and only while it is a draft (otherwise 409:
/// `version_read_only` for an old version, `invalid_transition` naming the status for a sent
/// or decided one). `rows` replaces all rows.
#[utoipa::path(
    tag = "documents",
    params(VersionPath, ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body(content = UpdateQuoteVersion, example = json!({"valid_until": "2026-12-31"})),
    responses((status = 200, description = "Updated", body = QuoteVersionView))
)]
#[patch("/quotes/{id}/versions/{n}")]
pub async fn update_version(
    state: web::Data<AppState>,
    caller: SalesStaff,
    path: web::Path<VersionPath>,
    if_match: IfMatch,
    body: JsonBody<UpdateQuoteVersion>,
) -> ApiResult<HttpResponse> {
    let VersionPath { id, n } = path.into_inner();
    let v = ops::update_version(state.db(), &caller, id, n, if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, v.version, &v))
}

/// Acts on the current version: `send` (draft → sent: emails the quote — lines, totals and
/// validity — to the contact through the outbox in the same transaction), `accept`
/// (sent → accepted), `reject` (sent → rejected, with an optional `reason`). A wrong action
/// for the status is 409 `invalid_transition` naming the status and the allowed actions; a
/// concurrent change (a double accept) lets one request win and answers the other 409.
#[utoipa::path(
    tag = "documents",
    params(QuoteActionPath, ("If-Match" = Option<String>, Header, description = "ETag of the quote you read")),
    request_body(content = QuoteActionRequest, example = json!({"reason": "Выбрали другого подрядчика"})),
    responses((status = 200, description = "The quote after the action", body = QuoteDetail))
)]
#[post("/quotes/{id}/actions/{action}")]
pub async fn quote_action(
    state: web::Data<AppState>,
    caller: SalesStaff,
    path: web::Path<QuoteActionPath>,
    if_match: IfMatch,
    body: OptionalJsonBody<QuoteActionRequest>,
) -> ApiResult<HttpResponse> {
    let QuoteActionPath { id, action } = path.into_inner();
    let q = ops::act_on_quote(state.db(), &caller, id, &action, if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, q.quote.version, &q))
}

/// The status changes of a quote's versions, oldest first: who, when, from, to, why.
#[utoipa::path(
    tag = "documents",
    params(FormatParam, ("id" = Uuid, Path, description = "Quote id")),
    responses((status = 200, description = "Transitions", body = ListPage<QuoteTransitionView>))
)]
#[get("/quotes/{id}/transitions")]
pub async fn quote_transitions(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let out: Vec<QuoteTransitionView> =
        ops::quote_transitions(state.db(), &caller, id.into_inner()).await?;
    whole_answer(&req, out)
}
