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

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_domain::deal::seconds_in_stage;
use sdelka_domain::money::{Money, Quantity};
use sdelka_domain::validation::{FieldViolation, Violations};
use sdelka_domain::vat::VatRate;
use sdelka_persistence::entity::{deal, product_row};
use sdelka_persistence::journal::now;
use sdelka_persistence::pagination::fetch_page;
use sdelka_persistence::records;
use sdelka_persistence::sales::{
    DEAL_ROWS, DealFilter, close_date_sort, deal_search_text, deals_query, record_stage_change,
    rows_of, stage_history, stages_by_ids,
};
use uuid::Uuid;

use crate::auth::{Principal, SalesStaff};
use crate::error::{ApiError, ApiResult};
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::routes::{created, versioned};
use crate::state::AppState;
#[allow(unused_imports)]
use sdelka_persistence::ops::deals::*;
use sdelka_persistence::ops::pipelines::kind_of;
use sdelka_persistence::ops::products::{currency, money_field, okei_code, vat_rate_field};

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
    page: web::Query<ListParams>,
    filter: web::Query<DealListFilter>,
) -> ApiResult<HttpResponse> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let f = filter.into_inner();
    let amount_min = f
        .amount_min
        .as_deref()
        .map(|a| amount_minor("amount_min", a))
        .transpose()?;
    let amount_max = f
        .amount_max
        .as_deref()
        .map(|a| amount_minor("amount_max", a))
        .transpose()?;
    let scope = caller.visibility(&state.store.conn).await?;
    let query = scope.apply(
        deals_query(&DealFilter {
            q: f.q,
            pipeline_id: f.pipeline_id,
            stage_id: f.stage_id,
            responsible_id: f.responsible_id,
            company_id: f.company_id,
            amount_min,
            amount_max,
            close_date_from: f.close_date_from,
            close_date_to: f.close_date_to,
            updated_since: page.updated_since,
        }),
        deal::Column::ResponsibleId,
    );
    let page = fetch_page(&state.store.conn, query, req, deal::Column::Id, |m| m.id).await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, |m| DealView::from(m))))
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
    let req = body.0;
    let title = req.title.trim().to_owned();
    if title.is_empty() {
        return Err(ApiError::field(
            "title",
            "required",
            "title must not be blank",
        ));
    }
    let currency = currency("currency", req.currency.as_deref())
        .map_err(|v| ApiError::validation(v.into()))?;
    let amount = match &req.amount {
        Some(a) => amount_minor("amount", a)?,
        None => 0,
    };
    let txn = state.store.begin().await?;
    let saved = open_deal(
        &txn,
        &caller,
        NewDeal {
            title,
            pipeline_id: req.pipeline_id,
            stage_id: req.stage_id,
            company_id: req.company_id,
            legal_entity_id: req.legal_entity_id,
            contact_ids: req.contact_ids,
            responsible_id: req.responsible_id,
            currency,
            amount_minor: amount,
            expected_close_date: req.expected_close_date,
            loss_reason: req.loss_reason,
            order_number: req.order_number,
            invoice_numbers: req.invoice_numbers,
            source: req.source,
            external_id: req.external_id,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/deals/{}", saved.id),
        saved.version,
        &DealView::from(&saved),
    ))
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
    let scope = caller.visibility(&state.store.conn).await?;
    let d = visible_deal(&state.store.conn, &scope, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, d.version, &DealView::from(&d)))
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
    let id = id.into_inner();
    let req = body.0;
    let actor = caller.actor();
    let mut v = Violations::new();
    if req.title.as_deref().is_some_and(|t| t.trim().is_empty()) {
        v.push(FieldViolation::new(
            "title",
            "required",
            "title must not be blank",
        ));
    }
    let currency = req
        .currency
        .as_deref()
        .map(|c| currency("currency", Some(c)))
        .transpose()
        .map_err(|e| v.push(e))
        .ok()
        .flatten();
    if !v.is_empty() {
        return Err(v.into());
    }
    let amount = req
        .amount
        .as_deref()
        .map(|a| amount_minor("amount", a))
        .transpose()?;

    let txn = state.store.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let current = visible_deal(&txn, &scope, id).await?;
    if let Some(r) = req.responsible_id
        && r != current.responsible_id
    {
        check_responsible(&txn, &scope, r).await?;
    }
    if amount.is_some() && !rows_of(&txn, DEAL_ROWS, id).await?.is_empty() {
        return Err(ApiError::field(
            "amount",
            "computed_from_rows",
            "the deal has product rows: its amount is their sum; change the rows instead",
        ));
    }
    // Where the deal will stand: a new pipeline without a stage means its first open stage.
    let target = match (req.pipeline_id, req.stage_id) {
        (None, None) => None,
        (Some(p), None) if p == current.pipeline_id => None,
        (Some(p), s) => Some(resolve_stage(&txn, Some(p), s).await?),
        (None, Some(s)) => Some(resolve_stage(&txn, Some(current.pipeline_id), Some(s)).await?),
    };
    let loss_reason = match &req.loss_reason {
        Some(r) => clean(r),
        None => current.loss_reason.clone(),
    };
    let moved_to = match &target {
        Some((_, stage)) if stage.id != current.stage_id => {
            stage_entry(stage, loss_reason.as_deref())?;
            Some(stage.id)
        }
        _ => None,
    };
    let at = now();
    let updated = records::update::<deal::Entity, _, _, ApiError>(
        &txn,
        &actor,
        id,
        if_match.0,
        |d| {
            if let Some(t) = &req.title {
                d.title = t.trim().to_owned();
                d.search_text = deal_search_text(&d.title);
            }
            if let Some((p, s)) = &target {
                d.pipeline_id = p.id;
                d.stage_id = s.id;
            }
            if moved_to.is_some() {
                d.stage_changed_at = at;
            }
            if let Some(c) = req.company_id {
                d.company_id = c;
            }
            if let Some(l) = req.legal_entity_id {
                d.legal_entity_id = l;
            }
            if let Some(c) = &req.contact_ids {
                let ids: Vec<Uuid> = c
                    .iter()
                    .copied()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                d.contact_ids = json_text(&ids);
            }
            if let Some(r) = req.responsible_id {
                d.responsible_id = r;
            }
            if let Some(c) = &currency {
                d.currency = c.clone();
            }
            if let Some(a) = amount {
                d.amount_minor = a;
            }
            if let Some(e) = req.expected_close_date {
                d.expected_close_date = e;
                d.close_date_sort = close_date_sort(e);
            }
            d.loss_reason = loss_reason.clone();
            if let Some(o) = &req.order_number {
                d.order_number = clean(o);
            }
            if let Some(i) = &req.invoice_numbers {
                d.invoice_numbers = json_text(i);
            }
            if let Some(s) = &req.source {
                d.source = clean(s);
            }
            if let Some(e) = &req.external_id {
                d.external_id = e.clone();
            }
            Ok(())
        },
        records::snapshot,
    )
    .await??;
    if let Some(to) = moved_to {
        record_stage_change(&txn, id, Some(current.stage_id), to, actor.user_id, at).await?;
    }
    txn.commit().await?;
    Ok(versioned(
        StatusCode::OK,
        updated.version,
        &DealView::from(&updated),
    ))
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
    let id = id.into_inner();
    let txn = state.store.begin().await?;
    let scope = caller.visibility(&txn).await?;
    visible_deal(&txn, &scope, id).await?;
    records::soft_delete::<deal::Entity, _>(
        &txn,
        &caller.actor(),
        id,
        if_match.0,
        records::snapshot,
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The stages a deal went through, oldest first, with the time spent in each (the last entry
/// is the current stage, counted until now).
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path, description = "Deal id")),
    responses((status = 200, description = "Stage history", body = Vec<StageHistoryEntry>))
)]
#[get("/deals/{id}/stage-history")]
pub async fn deal_stage_history(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let db = &state.store.conn;
    let scope = caller.visibility(db).await?;
    let d = visible_deal(db, &scope, id.into_inner()).await?;
    let changes = stage_history(db, d.id).await?;
    let ids: Vec<Uuid> = changes
        .iter()
        .map(|c| c.to_stage_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let stages = stages_by_ids(db, &ids).await?;
    let at = now();
    let entries: Vec<StageHistoryEntry> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let left_at = changes.get(i + 1).map(|n| n.changed_at);
            let stage = stages.iter().find(|s| s.id == c.to_stage_id);
            StageHistoryEntry {
                id: c.id,
                from_stage_id: c.from_stage_id,
                to_stage_id: c.to_stage_id,
                to_stage_name: stage.map(|s| s.name.clone()),
                to_stage_kind: stage.map(|s| kind_of(s).as_str().to_owned()),
                actor_id: c.actor_id,
                changed_at: c.changed_at,
                left_at,
                seconds_in_stage: seconds_in_stage(c.changed_at, left_at, at),
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(entries))
}

// ---------------------------------------------------------------------------------------------
// Product rows

/// The product rows of a deal with their computed amounts, in the order they were added.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path, description = "Deal id")),
    responses((status = 200, description = "Product rows", body = Vec<ProductRowView>))
)]
#[get("/deals/{id}/product-rows")]
pub async fn list_product_rows(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let db = &state.store.conn;
    let scope = caller.visibility(db).await?;
    let d = visible_deal(db, &scope, id.into_inner()).await?;
    let rows = rows_of(db, DEAL_ROWS, d.id).await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(ProductRowView::from).collect::<Vec<_>>()))
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
    let req = body.0;
    let actor = caller.actor();
    let txn = state.store.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let d = visible_deal(&txn, &scope, deal_id).await?;
    let row = priced_row(&txn, &req, &d.currency, DEAL_ROWS, deal_id).await?;
    let saved =
        records::create::<product_row::Entity, _>(&txn, &actor, row, records::snapshot).await?;
    refresh_deal_amount(&txn, &actor, deal_id).await?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/deals/{deal_id}/product-rows/{}", saved.id),
        saved.version,
        &ProductRowView::from(&saved),
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
    let req = body.0;
    let actor = caller.actor();
    let txn = state.store.begin().await?;
    let scope = caller.visibility(&txn).await?;
    visible_deal(&txn, &scope, id).await?;
    let current = row_of_deal(&txn, id, row_id).await?;

    let mut v = Violations::new();
    let quantity = match &req.quantity {
        Some(q) => Quantity::parse(q)
            .map_err(|e| v.push(violation("quantity", e)))
            .ok(),
        None => Quantity::from_thousandths(current.quantity_thousandths).ok(),
    };
    let price = match &req.price {
        Some(p) => money_field("price", p).map_err(|e| v.push(e)).ok(),
        None => Some(Money::from_minor(current.price_minor)),
    };
    let discount = match (&req.discount_percent, &req.discount_amount) {
        (None, None) => stored_discount(&current),
        (p, a) => discount_from(
            p.as_ref().and_then(|p| p.as_deref()),
            a.as_ref().and_then(|a| a.as_deref()),
            &mut v,
        ),
    };
    let vat_rate = match &req.vat_rate {
        Some(r) => vat_rate_field("vat_rate", r)
            .map_err(|e| v.push(e))
            .ok()
            .map(Some),
        None => Some(None),
    };
    let unit_code = match &req.unit_code {
        Some(c) => okei_code("unit_code", c).map_err(|e| v.push(e)).ok(),
        None => Some(current.unit_code.clone()),
    };
    if req.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        v.push(FieldViolation::new(
            "name",
            "required",
            "name must not be blank",
        ));
    }
    let (Some(quantity), Some(price), Some(vat_rate), Some(unit_code), true) =
        (quantity, price, vat_rate, unit_code, v.is_empty())
    else {
        return Err(v.into());
    };
    // A newly given rate must be valid today; an unchanged one stays what it was priced with.
    let vat_rate = match vat_rate {
        Some(r) => vat_rate_today("vat_rate", r)?,
        None => VatRate::parse(&current.vat_rate)
            .map_err(|e| ApiError::validation(violation("vat_rate", e).into()))?,
    };
    let vat_included = req.vat_included.unwrap_or(current.vat_included);
    let saved = records::update::<product_row::Entity, _, _, ApiError>(
        &txn,
        &actor,
        row_id,
        if_match.0,
        |r| {
            if let Some(n) = &req.name {
                r.name = n.trim().to_owned();
            }
            r.unit_code = unit_code.clone();
            if let Some(u) = &req.unit_name {
                r.unit_name = u.trim().to_owned();
            }
            price_row(r, quantity, price, discount, vat_rate, vat_included).map_err(ApiError::from)
        },
        records::snapshot,
    )
    .await??;
    refresh_deal_amount(&txn, &actor, id).await?;
    txn.commit().await?;
    Ok(versioned(
        StatusCode::OK,
        saved.version,
        &ProductRowView::from(&saved),
    ))
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
    let actor = caller.actor();
    let txn = state.store.begin().await?;
    let scope = caller.visibility(&txn).await?;
    visible_deal(&txn, &scope, id).await?;
    row_of_deal(&txn, id, row_id).await?;
    records::soft_delete::<product_row::Entity, _>(
        &txn,
        &actor,
        row_id,
        if_match.0,
        records::snapshot,
    )
    .await?;
    refresh_deal_amount(&txn, &actor, id).await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
