//! INT-3, bulk upsert by the integrator's key: `POST /{records}/bulk-upsert` for companies,
//! contacts, legal entities, products, invoices and payments. Each item goes through the
//! record's own creation or change operation; see `sdelka_persistence::ops::bulk`.

use actix_web::{HttpResponse, post, web};
use sdelka_domain::role::Role;
use sdelka_persistence::ops::bulk::{
    self as ops, BulkUpsert, BulkUpsertResult, Parsers, Upsert,
    records::{Companies, Contacts, Invoices, LegalEntities, Payments, Products},
};

use crate::auth::{Authorized, Policy, Principal, SalesStaff};
use crate::error::{ApiResult, Problem};
use crate::extract::{JsonBody, parse_item};
use crate::state::AppState;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(bulk_companies)
        .service(bulk_contacts)
        .service(bulk_legal_entities)
        .service(bulk_products)
        .service(bulk_invoices)
        .service(bulk_payments);
}

/// Who may register payments: the roles of `POST /payments`.
pub struct MoneyStaffOnly;
impl Policy for MoneyStaffOnly {
    const ROLES: &'static [Role] = sdelka_persistence::ops::payments::MONEY_STAFF;
    const DESCRIPTION: &'static str = "admin, accountant, head or sales_manager";
}

async fn run<U: Upsert>(
    state: &AppState,
    caller: &Principal,
    body: BulkUpsert,
) -> ApiResult<HttpResponse>
where
    U::Create: serde::de::DeserializeOwned + validator::Validate,
    U::Update: serde::de::DeserializeOwned + validator::Validate,
{
    let parse = Parsers {
        create: parse_item::<U::Create>,
        update: parse_item::<U::Update>,
    };
    let result = ops::bulk_upsert::<U>(state.db(), caller, body, parse).await?;
    Ok(HttpResponse::Ok().json(result))
}

/// One `POST /{records}/bulk-upsert` handler: its doc comment and OpenAPI example, the path,
/// the caller's extractor (the single creation endpoint's) and the record type.
macro_rules! bulk_route {
    ($(#[doc = $doc:literal])* $name:ident, $path:literal, $caller:ty, $record:ty, [$($example:tt)*]) => {
        $(#[doc = $doc])*
        #[utoipa::path(
            tag = "integration",
            request_body(content = BulkUpsert, example = $($example)*),
            responses(
                (status = 200, description = "One result per item", body = BulkUpsertResult),
                (status = 422, description = "No items, or more than 1 000", body = Problem, content_type = "application/problem+json")
            )
        )]
        #[post($path)]
        pub async fn $name(
            state: web::Data<AppState>,
            caller: $caller,
            body: JsonBody<BulkUpsert>,
        ) -> ApiResult<HttpResponse> {
            run::<$record>(&state, &caller, body.0).await
        }
    };
}

bulk_route!(
    /// Creates or changes up to 1 000 companies keyed by `external_id {source, id}`.
    ///
    /// Items are processed in order, each in its own savepoint; the answer has one result per item
    /// in request order: `created`, `updated`, `unchanged` (nothing written, no event) or `error`
    /// with the problem the single `POST /companies` or `PATCH /companies/{id}` would answer. A key
    /// repeated within the request is an error for the later item. `mode: all_or_none` keeps nothing
    /// when any item fails; `dry_run: true` keeps nothing at all. An `Idempotency-Key` covers the
    /// whole request.
    bulk_companies, "/companies/bulk-upsert", Principal, Companies,
    [json!({"mode": "partial", "items": [
        {"external_id": {"source": "1c", "id": "6f1c2a9e-3b0d-11ee-be56-0242ac120002"}, "name": "ТСЖ «Берёзка»", "types": ["client"]}
    ]})]
);

bulk_route!(
    /// Creates or changes up to 1 000 contacts keyed by `external_id {source, id}` (as
    /// `/companies/bulk-upsert`).
    bulk_contacts, "/contacts/bulk-upsert", Principal, Contacts,
    [json!({"items": [
        {"external_id": {"source": "1c", "id": "c-0001"}, "last_name": "Иванова", "first_name": "Мария", "emails": ["m.ivanova@example.com"]}
    ]})]
);

bulk_route!(
    /// Creates or changes up to 1 000 legal entities keyed by `external_id {source, id}` or, without
    /// one, by INN + KPP (as `/companies/bulk-upsert`). `company_id` and `bank_accounts` are taken on
    /// creation only.
    bulk_legal_entities, "/legal-entities/bulk-upsert", Principal, LegalEntities,
    [json!({"items": [
        {"company_id": "0191d0a4-7b1e-7c3a-9a55-1f2e3d4c5b6a", "kind": "legal_entity", "full_name": "ООО «Ромашка»", "inn": "7707083893", "kpp": "773601001"}
    ]})]
);

bulk_route!(
    /// Creates or changes up to 1 000 products keyed by their `external_id` (as
    /// `/companies/bulk-upsert`).
    bulk_products, "/products/bulk-upsert", Principal, Products,
    [json!({"items": [
        {"external_id": "00-00000123", "name": "Камера IP 4 Мп", "base_price": "12500.00", "vat_rate": "22"}
    ]})]
);

bulk_route!(
    /// Creates or changes up to 1 000 invoices with their rows, keyed by `external_id {source, id}`
    /// (as `/companies/bulk-upsert`). An item is the body of `POST /invoices`; for an existing
    /// invoice it is the draft's `PATCH /invoices/{id}` (`lines` replace all rows;
    /// `organization_id`, `deal_id` and `order_id` are taken on creation only). An issued or
    /// cancelled invoice refuses a change as that endpoint does; an item naming only what it
    /// already has is `unchanged`.
    bulk_invoices, "/invoices/bulk-upsert", SalesStaff, Invoices,
    [json!({"items": [
        {"external_id": {"source": "1c", "id": "a7d1e2f0-3b0d-11ee-be56-0242ac120002"},
         "organization_id": "0191d0a4-7b1e-7c3a-9a55-1f2e3d4c5b6a",
         "buyer_legal_entity_id": "0191d0a4-7b1e-7c3a-9a55-1f2e3d4c5b6b",
         "date": "2026-03-02",
         "lines": [{"name": "Обслуживание лифтов, март", "quantity": "1", "price": "45000.00", "vat_rate": "22"}]}
    ]})]
);

bulk_route!(
    /// Registers up to 1 000 payments keyed by `external_id {source, id}` (as
    /// `/companies/bulk-upsert`), each as `POST /payments` registers one (with its applications).
    /// A registered payment is not changed: an item naming only what it has is `unchanged`, any
    /// other is a `409 conflict`.
    bulk_payments, "/payments/bulk-upsert", Authorized<MoneyStaffOnly>, Payments,
    [json!({"items": [
        {"external_id": {"source": "1c", "id": "p-2026-000123"}, "date": "2026-03-05", "amount": "45000.00",
         "payer_inn": "7707083893", "payment_order_number": "123", "purpose": "Оплата по счёту № 17"}
    ]})]
);
