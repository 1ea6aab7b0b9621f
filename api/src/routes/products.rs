//! `/products`: the catalog of products and services (CAT-1), and find-or-create by name.
//!
//! Every logged-in user reads the catalog (anyone pricing a document needs it); changing it
//! needs `admin`, `head` or `sales_manager` — the people who sell from it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_persistence::ops::products::{
    self as ops, CreateProduct, ProductListFilter, ProductView, UpdateProduct,
};
use uuid::Uuid;

use crate::auth::{Principal, SalesStaff};
use crate::error::ApiResult;
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::negotiate::list_answer;
use crate::routes::{created, versioned};
use crate::state::AppState;
use actix_web::HttpRequest;
use sdelka_persistence::ops::Caller;

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
    caller: Principal,
    req: HttpRequest,
    page: web::Query<ListParams>,
    filter: web::Query<ProductListFilter>,
) -> ApiResult<HttpResponse> {
    let caller = Caller::clone(&caller);
    list_answer(
        &req,
        page.into_inner(),
        filter.into_inner(),
        move |page, filter| {
            let (state, caller) = (state.clone(), caller.clone());
            async move { ops::list_products(state.db(), &caller, &page, filter).await }
        },
    )
    .await
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
    let p = ops::create_product(state.db(), &caller, body.0).await?;
    Ok(created(format!("/api/v1/products/{}", p.id), p.version, &p))
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
    let r = ops::find_or_create_product(state.db(), &caller, body.0).await?;
    let p = r.product;
    if r.created {
        Ok(created(format!("/api/v1/products/{}", p.id), p.version, &p))
    } else {
        Ok(versioned(StatusCode::OK, p.version, &p))
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
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let p = ops::get_product(state.db(), &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, p.version, &p))
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
    let p = ops::update_product(state.db(), &caller, id.into_inner(), if_match.0, body.0).await?;
    Ok(versioned(StatusCode::OK, p.version, &p))
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
    ops::delete_product(state.db(), &caller, id.into_inner(), if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
