//! `/products`: the catalog of products and services (CAT-1), and find-or-create by name.
//!
//! Every logged-in user reads the catalog (anyone pricing a document needs it); changing it
//! needs `admin`, `head` or `sales_manager` — the people who sell from it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_domain::money::Money;
use sdelka_domain::validation::{FieldViolation, Violations};
use sdelka_persistence::StoreError;
use sdelka_persistence::entity::product;
use sdelka_persistence::pagination::fetch_page;
use sdelka_persistence::records;
use sdelka_persistence::sales::{
    ProductFilter, product_by_name, product_name_key, product_search_text, products_query,
    release_product_name,
};
use uuid::Uuid;

use crate::auth::{Principal, SalesStaff};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::routes::{created, versioned};
use crate::state::AppState;
#[allow(unused_imports)]
use sdelka_persistence::ops::products::*;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_products)
        .service(find_or_create_product)
        .service(create_product)
        .service(get_product)
        .service(update_product)
        .service(delete_product);
}

/// Lists the catalog.
#[utoipa::path(
    tag = "sales",
    params(ListParams, ProductListFilter),
    responses((status = 200, description = "A page of products", body = ListPage<ProductView>))
)]
#[get("/products")]
pub async fn list_products(
    state: web::Data<AppState>,
    _caller: Principal,
    page: web::Query<ListParams>,
    filter: web::Query<ProductListFilter>,
) -> ApiResult<HttpResponse> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let f = filter.into_inner();
    let query = products_query(&ProductFilter {
        q: f.q,
        section: f.section,
        active: f.active,
        sku: f.sku,
        updated_since: page.updated_since,
    });
    let page = fetch_page(&state.store.conn, query, req, product::Column::Id, |m| m.id).await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, |m| ProductView::from(m))))
}

/// Adds a product or service to the catalog. Names are unique among live products (409).
#[utoipa::path(
    tag = "sales",
    request_body = CreateProduct,
    responses((status = 201, description = "Created", body = ProductView))
)]
#[post("/products")]
pub async fn create_product(
    state: web::Data<AppState>,
    caller: SalesStaff,
    body: JsonBody<CreateProduct>,
) -> ApiResult<HttpResponse> {
    let model = new_product(&body.0)?;
    let txn = state.store.begin().await?;
    let saved = match records::create::<product::Entity, _>(
        &txn,
        &caller.actor(),
        model,
        records::snapshot,
    )
    .await
    {
        Ok(p) => p,
        Err(StoreError::Duplicate(_)) => return Err(duplicate_name(body.0.name.trim()).into()),
        Err(e) => return Err(e.into()),
    };
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/products/{}", saved.id),
        saved.version,
        &ProductView::from(&saved),
    ))
}

/// Finds the live product whose name equals `name` (outer spaces ignored, case kept), or
/// creates it from the body. Answers 200 with the existing product, 201 with a new one. Safe
/// under concurrency: simultaneous calls with one name create one product, the others get it
/// with 200. The other fields are only used when creating; an existing product is returned
/// unchanged.
#[utoipa::path(
    tag = "sales",
    request_body = CreateProduct,
    responses(
        (status = 200, description = "Found", body = ProductView),
        (status = 201, description = "Created", body = ProductView)
    )
)]
#[post("/products/find-or-create")]
pub async fn find_or_create_product(
    state: web::Data<AppState>,
    caller: SalesStaff,
    body: JsonBody<CreateProduct>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let model = new_product(&req)?;
    if let Some(found) = product_by_name(&state.store.conn, &req.name).await? {
        return Ok(versioned(
            StatusCode::OK,
            found.version,
            &ProductView::from(&found),
        ));
    }
    let txn = state.store.begin().await?;
    match records::create::<product::Entity, _>(&txn, &caller.actor(), model, records::snapshot)
        .await
    {
        Ok(saved) => {
            txn.commit().await?;
            Ok(created(
                format!("/api/v1/products/{}", saved.id),
                saved.version,
                &ProductView::from(&saved),
            ))
        }
        // Another caller created it between our lookup and our insert: the unique name index
        // refused ours, and theirs is the product.
        Err(StoreError::Duplicate(_)) => {
            txn.rollback().await?;
            match product_by_name(&state.store.conn, &req.name).await? {
                Some(found) => Ok(versioned(
                    StatusCode::OK,
                    found.version,
                    &ProductView::from(&found),
                )),
                None => Err(ApiError::new(
                    ErrorCode::Conflict,
                    "the product was changed concurrently; retry the request",
                )),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Reads one product.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path, description = "Product id")),
    responses((status = 200, description = "The product", body = ProductView))
)]
#[get("/products/{id}")]
pub async fn get_product(
    state: web::Data<AppState>,
    _caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let p = records::find::<product::Entity, _>(&state.store.conn, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, p.version, &ProductView::from(&p)))
}

/// Changes a product. Rows already priced from it keep their own copy of name and price.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path, description = "Product id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body = UpdateProduct,
    responses((status = 200, description = "Updated", body = ProductView))
)]
#[patch("/products/{id}")]
pub async fn update_product(
    state: web::Data<AppState>,
    caller: SalesStaff,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateProduct>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let txn = state.store.begin().await?;
    let updated = records::update::<product::Entity, _, _, ApiError>(
        &txn,
        &caller.actor(),
        id.into_inner(),
        if_match.0,
        |p| {
            let mut v = Violations::new();
            if let Some(n) = &req.name {
                let name = blank_is_refused("name", n, &mut v);
                p.name_key = Some(product_name_key(&name));
                p.name = name;
            }
            if let Some(s) = &req.sku {
                p.sku = s.as_deref().map(str::trim).map(str::to_owned);
            }
            if let Some(c) = &req.unit_code {
                match okei_code("unit_code", c) {
                    Ok(c) => p.unit_code = c,
                    Err(e) => v.push(e),
                }
            }
            if let Some(u) = &req.unit_name {
                p.unit_name = u.trim().to_owned();
            }
            if let Some(b) = &req.base_price {
                match money_field("base_price", b).map(Money::to_minor) {
                    Ok(Ok(m)) => p.base_price_minor = m,
                    Ok(Err(e)) => v.push(FieldViolation::new(
                        "base_price",
                        "out_of_range",
                        e.to_string(),
                    )),
                    Err(e) => v.push(e),
                }
            }
            if let Some(c) = &req.currency {
                match currency("currency", Some(c)) {
                    Ok(c) => p.currency = c,
                    Err(e) => v.push(e),
                }
            }
            if let Some(r) = &req.vat_rate {
                match vat_rate_field("vat_rate", r) {
                    Ok(r) => p.vat_rate = r.code().to_owned(),
                    Err(e) => v.push(e),
                }
            }
            if let Some(s) = &req.section {
                p.section = s.as_deref().map(str::trim).map(str::to_owned);
            }
            if let Some(a) = req.active {
                p.active = a;
            }
            if let Some(e) = &req.external_id {
                p.external_id = e.clone();
            }
            p.search_text = product_search_text(&p.name, p.sku.as_deref());
            if v.is_empty() { Ok(()) } else { Err(v.into()) }
        },
        records::snapshot,
    )
    .await;
    let updated = match updated {
        Ok(r) => r?,
        Err(StoreError::Duplicate(_)) => {
            return Err(ApiError::from(duplicate_name(
                req.name.as_deref().map(str::trim).unwrap_or_default(),
            )));
        }
        Err(e) => return Err(e.into()),
    };
    txn.commit().await?;
    Ok(versioned(
        StatusCode::OK,
        updated.version,
        &ProductView::from(&updated),
    ))
}

/// Deletes a product; rows priced from it keep their copy, and the name becomes free.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path, description = "Product id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/products/{id}")]
pub async fn delete_product(
    state: web::Data<AppState>,
    caller: SalesStaff,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let txn = state.store.begin().await?;
    records::soft_delete::<product::Entity, _>(
        &txn,
        &caller.actor(),
        id,
        if_match.0,
        records::snapshot,
    )
    .await?;
    release_product_name(&txn, id).await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
