//! `/deals` (DEAL-2) with their stage history and product rows (DEAL-3).
//!
//! Visibility follows the responsible user: a sales manager sees his own deals, a department
//! head those of his department, an admin all; any other deal is answered 404, in lists too.
//! Changing deals needs `admin`, `head` or `sales_manager`.
//!
//! The amount of a deal with product rows is the sum of the rows' totals, recomputed in the
//! transaction that changes a row; a manual amount is only accepted while there are no rows.
//! Company, legal entity and contacts are stored as ids without checks: the clients area
//! (CRM-1..3) owns those records.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_persistence::ops::deals::{
    self as ops, CreateDeal, DealListFilter, DealView, NewProductRow, ProductRowPath,
    ProductRowView, StageHistoryEntry, UpdateDeal, UpdateProductRow,
};
use uuid::Uuid;

use crate::auth::{Principal, SalesStaff};
use crate::error::ApiResult;
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::negotiate::{FormatParam, list_answer, whole_answer};
use crate::routes::{created, versioned};
use crate::state::AppState;
use actix_web::HttpRequest;
use sdelka_persistence::ops::Caller;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_deals)
        .service(create_deal)
        .service(get_deal)
        .service(update_deal)
        .service(delete_deal)
        .service(deal_stage_history)
        .service(list_product_rows)
        .service(add_product_row)
        .service(update_product_row)
        .service(delete_product_row);
}

// ---------------------------------------------------------------------------------------------
// Deals

/// Lists the deals the caller may see.
#[utoipa::path(
    tag = "sales",
    params(ListParams, DealListFilter),
    responses((status = 200, description = "A page of deals; sorts: created_at, updated_at, amount, expected_close_date (dateless deals last)", body = ListPage<DealView>))
)]
#[get("/deals")]
pub async fn list_deals(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<DealListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_deals(state.db(), &caller, &page, filter).await }
        },
    )
    .await
}

/// Opens a deal. Without `pipeline_id` it goes to the default pipeline, without `stage_id` to
/// the pipeline's first open stage; the responsible user defaults to the caller.
#[utoipa::path(
    tag = "sales",
    request_body = CreateDeal,
    responses((status = 201, description = "Created", body = DealView))
)]
#[post("/deals")]
pub async fn create_deal(
    state: web::Data<AppState>,
    caller: SalesStaff,
    body: JsonBody<CreateDeal>,
) -> ApiResult<HttpResponse> {
    let d = ops::create_deal(state.db(), &caller, body.0).await?;
    Ok(created(format!("/api/v1/deals/{}", d.id), d.version, &d))
}

/// Reads one deal.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path, description = "Deal id")),
    responses((status = 200, description = "The deal", body = DealView))
)]
#[get("/deals/{id}")]
pub async fn get_deal(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let d = ops::get_deal(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, d.version, &d))
}

/// Changes a deal. A stage change is recorded in the stage history; moving to a `lost` stage
/// needs `loss_reason`; the stage must belong to the deal's (new) pipeline. `amount` is only
/// accepted while the deal has no product rows.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path, description = "Deal id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body = UpdateDeal,
    responses((status = 200, description = "Updated", body = DealView))
)]
#[patch("/deals/{id}")]
pub async fn update_deal(
    state: web::Data<AppState>,
    caller: SalesStaff,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateDeal>,
) -> ApiResult<HttpResponse> {
    let d = ops::update_deal(state.db(), &caller, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, d.version, &d))
}

/// Deletes a deal (kept for the audit trail).
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path, description = "Deal id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/deals/{id}")]
pub async fn delete_deal(
    state: web::Data<AppState>,
    caller: SalesStaff,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    ops::delete_deal(state.db(), &caller, id.into_inner(), if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The stages a deal went through, oldest first, with the time spent in each (the last entry
/// is the current stage, counted until now).
#[utoipa::path(
    tag = "sales",
    params(FormatParam, ("id" = Uuid, Path, description = "Deal id")),
    responses((status = 200, description = "Stage history", body = ListPage<StageHistoryEntry>))
)]
#[get("/deals/{id}/stage-history")]
pub async fn deal_stage_history(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let entries = ops::deal_stage_history(state.db(), &caller, id.into_inner()).await?;
    whole_answer(&req, entries)
}

// ---------------------------------------------------------------------------------------------
// Product rows

/// The product rows of a deal with their computed amounts, in the order they were added.
#[utoipa::path(
    tag = "sales",
    params(FormatParam, ("id" = Uuid, Path, description = "Deal id")),
    responses((status = 200, description = "Product rows", body = ListPage<ProductRowView>))
)]
#[get("/deals/{id}/product-rows")]
pub async fn list_product_rows(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let rows = ops::list_product_rows(state.db(), &caller, id.into_inner()).await?;
    whole_answer(&req, rows)
}

/// Adds a product row; the deal's amount becomes the sum of its rows in the same transaction
/// (the deal's version changes).
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path, description = "Deal id")),
    request_body = NewProductRow,
    responses((status = 201, description = "Added", body = ProductRowView))
)]
#[post("/deals/{id}/product-rows")]
pub async fn add_product_row(
    state: web::Data<AppState>,
    caller: SalesStaff,
    id: web::Path<Uuid>,
    body: JsonBody<NewProductRow>,
) -> ApiResult<HttpResponse> {
    let deal_id = id.into_inner();
    let r = ops::add_product_row(state.db(), &caller, deal_id, body.0).await?;
    Ok(created(
        format!("/api/v1/deals/{deal_id}/product-rows/{}", r.id),
        r.version,
        &r,
    ))
}

/// Changes a product row and recomputes it and the deal's amount in one transaction.
#[utoipa::path(
    tag = "sales",
    params(ProductRowPath, ("If-Match" = Option<String>, Header, description = "ETag of the row version you read")),
    request_body = UpdateProductRow,
    responses((status = 200, description = "Updated", body = ProductRowView))
)]
#[patch("/deals/{id}/product-rows/{row_id}")]
pub async fn update_product_row(
    state: web::Data<AppState>,
    caller: SalesStaff,
    path: web::Path<ProductRowPath>,
    if_match: IfMatch,
    body: JsonBody<UpdateProductRow>,
) -> ApiResult<HttpResponse> {
    let ProductRowPath { id, row_id } = path.into_inner();
    let r = ops::update_product_row(state.db(), &caller, id, row_id, if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, r.version, &r))
}

/// Removes a product row; the deal's amount becomes the sum of the remaining rows (0.00 when
/// none remain).
#[utoipa::path(
    tag = "sales",
    params(ProductRowPath, ("If-Match" = Option<String>, Header, description = "ETag of the row version you read")),
    responses((status = 204, description = "Removed"))
)]
#[delete("/deals/{id}/product-rows/{row_id}")]
pub async fn delete_product_row(
    state: web::Data<AppState>,
    caller: SalesStaff,
    path: web::Path<ProductRowPath>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    let ProductRowPath { id, row_id } = path.into_inner();
    ops::delete_product_row(state.db(), &caller, id, row_id, if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
