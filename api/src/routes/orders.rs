//! `/orders` (DOC-2): the client's order, from an accepted quote (the accepted version's rows)
//! or straight from a deal (the deal's rows).
//!
//! Status, by the pure state machine `sdelka_domain::order`: draft → `confirm-terms` →
//! awaiting_advance → (the advance payment arrives) → confirmed → `complete` → completed; or
//! `cancel` (with a reason) before completion. "Confirming obligations = the advance arrived":
//! no person confirms an order — the payments area calls
//! `sdelka_persistence::ops::orders::record_payment` in its transaction whenever the money applied
//! to the order's invoices changes. Visibility and permissions are those of deals.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, patch, post, web};
use sdelka_persistence::ops::documents::TransitionView;
use sdelka_persistence::ops::orders::{
    self as ops, CreateOrder, OrderActionPath, OrderActionRequest, OrderDetail, OrderListFilter,
    OrderView, UpdateOrder,
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
    cfg.service(list_orders)
        .service(create_order)
        .service(get_order)
        .service(update_order)
        .service(order_action)
        .service(order_transitions);
}

/// Lists the orders the caller may see.
#[utoipa::path(
    tag = "documents",
    params(ListParams, OrderListFilter),
    responses((status = 200, description = "A page of orders; sorts: created_at, updated_at, total", body = ListPage<OrderView>))
)]
#[get("/orders")]
pub async fn list_orders(
    state: web::Data<AppState>,
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<OrderListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_orders(state.db(), &caller, &page, filter).await }
        },
    )
    .await
}

/// Makes an order (a draft) from an accepted quote — copying the accepted version's rows,
/// seller and buyer; one live order per quote (a second while the first is not cancelled is
/// 409 `duplicate`) — or from a deal,
/// copying the deal's rows. The advance defaults to the whole total.
#[utoipa::path(
    tag = "documents",
    request_body(content = CreateOrder, example = json!({
        "quote_id": "0193a000-0000-7000-8000-000000000003",
        "advance_percent": "30"
    })),
    responses((status = 201, description = "Created", body = OrderDetail))
)]
#[post("/orders")]
pub async fn create_order(
    state: web::Data<AppState>,
    caller: SalesStaff,
    body: JsonBody<CreateOrder>,
) -> ApiResult<HttpResponse> {
    let o = ops::create_order(state.db(), &caller, body.0).await?;
    Ok(created(
        format!("/api/v1/orders/{}", o.order.id),
        o.order.version,
        &o,
    ))
}

/// Changes a draft order: title, buyer, advance. Once the terms are confirmed they are what
/// the client agreed to: 409 `invalid_transition` naming the status.
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Order id"), ("If-Match" = Option<String>, Header, description = "ETag of the order you read")),
    request_body(content = UpdateOrder, example = json!({"advance_percent": "50"})),
    responses((status = 200, description = "Updated", body = OrderDetail))
)]
#[patch("/orders/{id}")]
pub async fn update_order(
    state: web::Data<AppState>,
    caller: SalesStaff,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateOrder>,
) -> ApiResult<HttpResponse> {
    let o = ops::update_order(state.db(), &caller, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, o.order.version, &o))
}

/// Reads an order with its rows.
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Order id")),
    responses((status = 200, description = "The order", body = OrderDetail))
)]
#[get("/orders/{id}")]
pub async fn get_order(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let o = ops::get_order(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, o.order.version, &o))
}

/// Manual actions: `confirm-terms` (draft → awaiting_advance; straight to confirmed when the
/// advance is 0 or already paid), `complete` (confirmed → completed), `cancel` (with a
/// `reason`, before completion). Confirmation by the advance is not an action: payments
/// record it. A wrong action is 409 `invalid_transition` naming the status and the allowed
/// actions.
#[utoipa::path(
    tag = "documents",
    params(OrderActionPath, ("If-Match" = Option<String>, Header, description = "ETag of the order you read")),
    request_body(content = OrderActionRequest, example = json!({"reason": "Клиент отказался от заказа"})),
    responses((status = 200, description = "The order after the action", body = OrderDetail))
)]
#[post("/orders/{id}/actions/{action}")]
pub async fn order_action(
    state: web::Data<AppState>,
    caller: SalesStaff,
    path: web::Path<OrderActionPath>,
    if_match: IfMatch,
    body: OptionalJsonBody<OrderActionRequest>,
) -> ApiResult<HttpResponse> {
    let OrderActionPath { id, action } = path.into_inner();
    let o = ops::act_on_order(state.db(), &caller, id, &action, if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, o.order.version, &o))
}

/// The status changes of an order, oldest first: who (none when a payment confirmed it),
/// when, from, to, why.
#[utoipa::path(
    tag = "documents",
    params(FormatParam, ("id" = Uuid, Path, description = "Order id")),
    responses((status = 200, description = "Transitions", body = ListPage<TransitionView>))
)]
#[get("/orders/{id}/transitions")]
pub async fn order_transitions(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let out: Vec<TransitionView> =
        ops::order_transitions(state.db(), &caller, id.into_inner()).await?;
    whole_answer(&req, out)
}
