//! INT-3, bulk upsert by the integrator's key: `POST /{records}/bulk-upsert` for companies,
//! contacts, legal entities and products. Each item goes through the record's own creation or
//! change operation; see `sdelka_persistence::ops::bulk`.

use actix_web::{HttpResponse, post, web};
use sdelka_persistence::ops::bulk::{
    self as ops, BulkUpsert, BulkUpsertResult, Parsers, Upsert,
    records::{Companies, Contacts, LegalEntities, Products},
};

use crate::auth::Principal;
use crate::error::{ApiResult, Problem};
use crate::extract::{JsonBody, parse_item};
use crate::state::AppState;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(bulk_companies)
        .service(bulk_contacts)
        .service(bulk_legal_entities)
        .service(bulk_products);
}

async fn run<U: Upsert>(
    state: &AppState,
    caller: &Principal,
    body: BulkUpsert,
    parse: Parsers<U::Create, U::Update>,
) -> ApiResult<HttpResponse> {
    let result = ops::bulk_upsert::<U>(state.db(), caller, body, parse).await?;
    Ok(HttpResponse::Ok().json(result))
}

/// Creates or changes up to 1 000 companies keyed by `external_id {source, id}`.
///
/// Items are processed in order, each in its own savepoint; the answer has one result per item
/// in request order: `created`, `updated`, `unchanged` (nothing written, no event) or `error`
/// with the problem the single `POST /companies` or `PATCH /companies/{id}` would answer. A key
/// repeated within the request is an error for the later item. `mode: all_or_none` keeps nothing
/// when any item fails; `dry_run: true` keeps nothing at all. An `Idempotency-Key` covers the
/// whole request.
#[utoipa::path(
    tag = "integration",
    request_body(content = BulkUpsert, example = json!({"mode": "partial", "items": [
        {"external_id": {"source": "1c", "id": "6f1c2a9e-3b0d-11ee-be56-0242ac120002"}, "name": "ТСЖ «Берёзка»", "types": ["client"]}
    ]})),
    responses(
        (status = 200, description = "One result per item", body = BulkUpsertResult),
        (status = 422, description = "No items, or more than 1 000", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/companies/bulk-upsert")]
pub async fn bulk_companies(
    state: web::Data<AppState>,
    caller: Principal,
    body: JsonBody<BulkUpsert>,
) -> ApiResult<HttpResponse> {
    let parse = Parsers {
        create: parse_item,
        update: parse_item,
    };
    run::<Companies>(&state, &caller, body.0, parse).await
}

/// Creates or changes up to 1 000 contacts keyed by `external_id {source, id}` (as
/// `/companies/bulk-upsert`).
#[utoipa::path(
    tag = "integration",
    request_body(content = BulkUpsert, example = json!({"items": [
        {"external_id": {"source": "1c", "id": "c-0001"}, "last_name": "Иванова", "first_name": "Мария", "emails": ["m.ivanova@example.com"]}
    ]})),
    responses(
        (status = 200, description = "One result per item", body = BulkUpsertResult),
        (status = 422, description = "No items, or more than 1 000", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/contacts/bulk-upsert")]
pub async fn bulk_contacts(
    state: web::Data<AppState>,
    caller: Principal,
    body: JsonBody<BulkUpsert>,
) -> ApiResult<HttpResponse> {
    let parse = Parsers {
        create: parse_item,
        update: parse_item,
    };
    run::<Contacts>(&state, &caller, body.0, parse).await
}

/// Creates or changes up to 1 000 legal entities keyed by `external_id {source, id}` or, without
/// one, by INN + KPP (as `/companies/bulk-upsert`). `company_id` and `bank_accounts` are taken on
/// creation only.
#[utoipa::path(
    tag = "integration",
    request_body(content = BulkUpsert, example = json!({"items": [
        {"company_id": "0191d0a4-7b1e-7c3a-9a55-1f2e3d4c5b6a", "kind": "legal_entity", "full_name": "ООО «Ромашка»", "inn": "7707083893", "kpp": "773601001"}
    ]})),
    responses(
        (status = 200, description = "One result per item", body = BulkUpsertResult),
        (status = 422, description = "No items, or more than 1 000", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/legal-entities/bulk-upsert")]
pub async fn bulk_legal_entities(
    state: web::Data<AppState>,
    caller: Principal,
    body: JsonBody<BulkUpsert>,
) -> ApiResult<HttpResponse> {
    let parse = Parsers {
        create: parse_item,
        update: parse_item,
    };
    run::<LegalEntities>(&state, &caller, body.0, parse).await
}

/// Creates or changes up to 1 000 products keyed by their `external_id` (as
/// `/companies/bulk-upsert`).
#[utoipa::path(
    tag = "integration",
    request_body(content = BulkUpsert, example = json!({"items": [
        {"external_id": "00-00000123", "name": "Камера IP 4 Мп", "base_price": "12500.00", "vat_rate": "22"}
    ]})),
    responses(
        (status = 200, description = "One result per item", body = BulkUpsertResult),
        (status = 422, description = "No items, or more than 1 000", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/products/bulk-upsert")]
pub async fn bulk_products(
    state: web::Data<AppState>,
    caller: Principal,
    body: JsonBody<BulkUpsert>,
) -> ApiResult<HttpResponse> {
    let parse = Parsers {
        create: parse_item,
        update: parse_item,
    };
    run::<Products>(&state, &caller, body.0, parse).await
}
