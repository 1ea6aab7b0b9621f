//! `/orders` (DOC-2): the client's order, from an accepted quote (the accepted version's rows)
//! or straight from a deal (the deal's rows).
//!
//! Status, by the pure state machine `sdelka_domain::order`: draft → `confirm-terms` →
//! awaiting_advance → (the advance payment arrives) → confirmed → `complete` → completed; or
//! `cancel` (with a reason) before completion. "Confirming obligations = the advance arrived":
//! no person confirms an order — the payments area calls
//! `sdelka_persistence::orders::record_payment` in its transaction whenever the money applied
//! to the order's invoices changes. Visibility and permissions are those of deals.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, patch, post, web};
use sdelka_domain::order::{
    OrderAction, OrderActionKind, OrderStatus, advance_of, check_edit, decide,
};
use sdelka_domain::quote::QuoteStatus;
use sdelka_persistence::StoreError;
use sdelka_persistence::entity::{order, quote};
use sdelka_persistence::journal::now;
use sdelka_persistence::numbering::take_number_if_templated;
use sdelka_persistence::orders::{
    ORDER_ROWS, OrderFilter, Raced, order_of_quote, orders_query, record_transition, transitions_of,
};
use sdelka_persistence::pagination::fetch_page;
use sdelka_persistence::quotes::{copy_rows, rows_of_version, version_of};
use sdelka_persistence::records;
use sdelka_persistence::sales::{DEAL_ROWS, rows_of};
use uuid::Uuid;

use crate::auth::{Principal, SalesStaff};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{IfMatch, JsonBody, OptionalJsonBody};
use crate::lists::{ListPage, ListParams};
use crate::routes::{created, versioned};
use crate::state::AppState;
use sdelka_persistence::ops::deals::visible_deal;
use sdelka_persistence::ops::documents::{TransitionView, check_parties, totals};
#[allow(unused_imports)]
use sdelka_persistence::ops::orders::*;

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
    page: web::Query<ListParams>,
    filter: web::Query<OrderListFilter>,
) -> ApiResult<HttpResponse> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let f = filter.into_inner();
    if let Some(s) = &f.status
        && OrderStatus::parse(s).is_none()
    {
        return Err(ApiError::field(
            "status",
            "unknown_value",
            "status is draft, awaiting_advance, confirmed, completed or cancelled",
        ));
    }
    let scope = caller.visibility(&state.store.conn).await?;
    let query = scope.apply(
        orders_query(&OrderFilter {
            deal_id: f.deal_id,
            quote_id: f.quote_id,
            status: f.status,
            responsible_id: f.responsible_id,
            updated_since: page.updated_since,
        }),
        order::Column::ResponsibleId,
    );
    let page = fetch_page(&state.store.conn, query, req, order::Column::Id, |m| m.id).await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, |m| OrderView::from(m))))
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
    let req = body.0;
    let actor = caller.actor();
    let (advance_amount, advance_percent) = advance_fields(
        req.advance_amount.as_deref(),
        req.advance_percent.as_deref(),
    )?;
    let txn = state.store.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let order_id = Uuid::now_v7();
    let at = now();
    let mut o = order::Model {
        id: order_id,
        deal_id: Uuid::nil(),
        quote_id: None,
        quote_version: None,
        live_quote_id: None,
        organization_id: Uuid::nil(),
        legal_entity_id: None,
        contact_id: None,
        responsible_id: caller.user_id,
        currency: String::new(),
        number: None,
        title: String::new(),
        status: OrderStatus::Draft.as_str().to_owned(),
        net_minor: 0,
        vat_minor: 0,
        total_minor: 0,
        advance_minor: 0,
        advance_percent_hundredths: advance_percent,
        paid_minor: 0,
        confirmed_at: None,
        cancel_reason: None,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let rows = match (req.quote_id, req.deal_id) {
        (Some(quote_id), None) => {
            let q = match records::find::<quote::Entity, _>(&txn, quote_id).await {
                Ok(q) if scope.allows(Some(q.responsible_id)) => q,
                Ok(_) | Err(StoreError::NotFound) => {
                    return Err(ApiError::field(
                        "quote_id",
                        "not_found",
                        format!("quote_id {quote_id} does not exist"),
                    ));
                }
                Err(e) => return Err(e.into()),
            };
            if QuoteStatus::parse(&q.status) != Some(QuoteStatus::Accepted) {
                return Err(ApiError::new(
                    ErrorCode::InvalidTransition,
                    format!(
                        "an order is made from an accepted quote; quote {} is {} (version {})",
                        q.id, q.status, q.current_version
                    ),
                ));
            }
            if let Some(existing) = order_of_quote(&txn, q.id).await? {
                return Err(ApiError::new(
                    ErrorCode::Duplicate,
                    format!("quote {} already has order {}", q.id, existing.id),
                ));
            }
            let v = version_of(&txn, q.id, q.current_version)
                .await?
                .ok_or_else(ApiError::not_found)?;
            o.deal_id = q.deal_id;
            o.quote_id = Some(q.id);
            o.live_quote_id = Some(q.id);
            o.quote_version = Some(v.number);
            o.organization_id = req.organization_id.unwrap_or(q.organization_id);
            o.legal_entity_id = req.legal_entity_id.or(q.legal_entity_id);
            o.contact_id = req.contact_id.or(q.contact_id);
            o.responsible_id = q.responsible_id;
            o.currency = q.currency.clone();
            o.title = clean(&req.title).unwrap_or_else(|| q.title.clone());
            let source = rows_of_version(&txn, v.id).await?;
            copy_rows(&txn, &actor, &source, ORDER_ROWS, order_id).await?
        }
        (None, Some(deal_id)) => {
            let d = match visible_deal(&txn, &scope, deal_id).await {
                Ok(d) => d,
                Err(e) if e.code == ErrorCode::NotFound => {
                    return Err(ApiError::field(
                        "deal_id",
                        "not_found",
                        format!("deal_id {deal_id} does not exist"),
                    ));
                }
                Err(e) => return Err(e.into()),
            };
            let Some(org) = req.organization_id else {
                return Err(ApiError::field(
                    "organization_id",
                    "required",
                    "an order made from a deal needs the seller: organization_id",
                ));
            };
            o.deal_id = d.id;
            o.organization_id = org;
            o.legal_entity_id = req.legal_entity_id.or(d.legal_entity_id);
            o.contact_id = req.contact_id.or_else(|| {
                serde_json::from_str::<Vec<Uuid>>(&d.contact_ids)
                    .ok()
                    .and_then(|v| v.first().copied())
            });
            o.responsible_id = d.responsible_id;
            o.currency = d.currency.clone();
            o.title = clean(&req.title).unwrap_or_else(|| d.title.clone());
            let source = rows_of(&txn, DEAL_ROWS, d.id).await?;
            if source.is_empty() {
                return Err(ApiError::field(
                    "deal_id",
                    "no_rows",
                    "the deal has no product rows to order",
                ));
            }
            copy_rows(&txn, &actor, &source, ORDER_ROWS, order_id).await?
        }
        (Some(_), Some(_)) | (None, None) => {
            return Err(ApiError::field(
                "quote_id",
                "one_of_required",
                "give either quote_id (an accepted quote) or deal_id",
            ));
        }
    };
    check_parties(
        &txn,
        &caller,
        req.organization_id,
        req.legal_entity_id,
        req.contact_id,
    )
    .await?;
    (o.net_minor, o.vat_minor, o.total_minor) = totals(&rows)?;
    o.advance_minor = advance_of(o.total_minor, advance_amount, advance_percent)
        .map_err(|e| ApiError::field(e.field(), e.code(), e.to_string()))?;
    let saved = match records::create::<order::Entity, _>(&txn, &actor, o, records::snapshot).await
    {
        Ok(s) => s,
        // Another request made the quote's order first.
        Err(StoreError::Duplicate(_)) => {
            return Err(ApiError::new(
                ErrorCode::Duplicate,
                "the quote already has an order",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let view = detail_of(&saved, &rows);
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/orders/{}", saved.id),
        saved.version,
        &view,
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
    let req = body.0;
    let actor = caller.actor();
    let (advance_amount, advance_percent) = advance_fields(
        req.advance_amount.as_deref(),
        req.advance_percent.as_deref(),
    )?;
    if req.title.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err(ApiError::field(
            "title",
            "required",
            "title must not be blank",
        ));
    }
    let txn = state.store.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let o = visible_order(&txn, &scope, id.into_inner()).await?;
    check_edit(OrderStatus::parse(&o.status).unwrap_or(OrderStatus::Draft)).map_err(refusal)?;
    check_parties(&txn, &caller, None, req.legal_entity_id, req.contact_id).await?;
    let advance = match (advance_amount, advance_percent) {
        (None, None) => None,
        (a, p) => Some((
            advance_of(o.total_minor, a, p)
                .map_err(|e| ApiError::field(e.field(), e.code(), e.to_string()))?,
            p,
        )),
    };
    let saved = records::update::<order::Entity, _, _, ApiError>(
        &txn,
        &actor,
        o.id,
        if_match.0,
        |m| {
            // Still the draft that was checked: `update` compares the version read.
            if m.status != OrderStatus::Draft.as_str() {
                return Err(raced().into());
            }
            if let Some(t) = &req.title {
                m.title = t.trim().to_owned();
            }
            if let Some(l) = req.legal_entity_id {
                m.legal_entity_id = Some(l);
            }
            if let Some(c) = req.contact_id {
                m.contact_id = Some(c);
            }
            if let Some((a, p)) = advance {
                m.advance_minor = a;
                m.advance_percent_hundredths = p;
            }
            Ok(())
        },
        records::snapshot,
    )
    .await??;
    let view = detail(&txn, &saved).await?;
    txn.commit().await?;
    Ok(versioned(StatusCode::OK, saved.version, &view))
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
    let db = &state.store.conn;
    let scope = caller.visibility(db).await?;
    let o = visible_order(db, &scope, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, o.version, &detail(db, &o).await?))
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
    let Some(kind) = OrderActionKind::parse(&action) else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!(
                "there is no order action `{action}`; actions: confirm-terms, complete, cancel"
            ),
        ));
    };
    let req = body.0;
    let actor = caller.actor();
    let txn = state.store.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let o = visible_order(&txn, &scope, id).await?;
    if let Some(e) = if_match.0
        && e != o.version
    {
        return Err(StoreError::StaleVersion {
            expected: e,
            current: o.version,
        }
        .into());
    }
    let from = OrderStatus::parse(&o.status).unwrap_or(OrderStatus::Draft);
    let reason = clean(&req.reason);
    let command = match kind {
        OrderActionKind::ConfirmTerms => OrderAction::ConfirmTerms {
            advance_minor: o.advance_minor,
            paid_minor: o.paid_minor,
        },
        OrderActionKind::Complete => OrderAction::Complete,
        OrderActionKind::Cancel => OrderAction::Cancel {
            reason: reason.clone().unwrap_or_default(),
        },
    };
    let to = decide(from, &command).map_err(refusal)?;
    let mut next = o.clone();
    next.status = to.as_str().to_owned();
    match kind {
        OrderActionKind::ConfirmTerms => {
            // WF-NUM-2: an order is numbered when its terms are confirmed, from the seller's
            // "order" template when it keeps one, dated the day of confirmation.
            if next.number.is_none() {
                next.number =
                    take_number_if_templated(&txn, o.organization_id, "order", now().date_naive())
                        .await?;
            }
            if to == OrderStatus::Confirmed {
                next.confirmed_at = Some(now());
            }
        }
        OrderActionKind::Complete => {}
        OrderActionKind::Cancel => {
            next.cancel_reason = reason.clone();
            // The quote may be ordered again.
            next.live_quote_id = None;
        }
    }
    let note = match (
        reason.filter(|_| kind == OrderActionKind::Cancel),
        clean(&req.comment),
    ) {
        (Some(r), Some(c)) => Some(format!("{r} ({c})")),
        (r, c) => r.or(c),
    };
    let saved = record_transition(&txn, &actor, kind.as_str(), &o, next, note.as_deref())
        .await?
        .map_err(|Raced| raced())?;
    let view = detail(&txn, &saved).await?;
    txn.commit().await?;
    Ok(versioned(StatusCode::OK, saved.version, &view))
}

/// The status changes of an order, oldest first: who (none when a payment confirmed it),
/// when, from, to, why.
#[utoipa::path(
    tag = "documents",
    params(("id" = Uuid, Path, description = "Order id")),
    responses((status = 200, description = "Transitions", body = Vec<TransitionView>))
)]
#[get("/orders/{id}/transitions")]
pub async fn order_transitions(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let db = &state.store.conn;
    let scope = caller.visibility(db).await?;
    let o = visible_order(db, &scope, id.into_inner()).await?;
    let out: Vec<TransitionView> = transitions_of(db, o.id)
        .await?
        .into_iter()
        .map(|t| TransitionView {
            action: t.action,
            from_status: t.from_status,
            to_status: t.to_status,
            actor_id: t.actor_id,
            comment: t.comment,
            occurred_at: t.occurred_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}
