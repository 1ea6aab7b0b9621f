//! HTTP routes. Each handler is registered with `utoipa-actix-web`, so a route cannot exist
//! without its entry in the OpenAPI document.

pub mod api_tokens;
pub mod auth;
pub mod batch;
pub mod bulk;
pub mod companies;
pub mod contacts;
pub mod departments;
pub mod events;
pub mod health;
pub mod imports;
pub mod leads;
pub mod legal_entities;
pub mod organizations;
pub mod timeline;
pub mod users;
// Sales
pub mod deals;
pub mod pipelines;
pub mod products;
// Work (ACT-1..ACT-5)
pub mod activities;
pub mod calendar;
pub mod comments;
pub mod files;
pub mod notifications;
// Sales documents (DOC-1, DOC-2)
pub mod orders;
pub mod quotes;
// Money documents (WF-NUM, DOC-3, DOC-4), automation rules, reports.
pub mod automation_rules;
pub mod invoices;
pub mod numbering_templates;
pub mod payments;
pub mod reports;
// Approvals: the shared task model (SPEC §3) and WF-INV
pub mod pools;
pub mod processes;
pub mod supplier_invoices;
pub mod tasks;
// CommerceML 2 exchange (INT-1C-1)
pub mod commerceml;
// 1C exchange (INT-1C-2)
pub mod bank_exports;
pub mod bank_statements;
// Integration: webhooks (INT-1)
pub mod webhooks;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use serde::Serialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::extract::etag;

/// Everything under `/api/v1`.
pub fn api_v1(cfg: &mut ServiceConfig) {
    // Literal paths under a collection first: `/companies/bulk-upsert` is not `/companies/{id}`.
    cfg.configure(bulk::routes)
        .configure(auth::routes)
        .configure(users::routes)
        .configure(departments::routes)
        .configure(organizations::routes)
        .configure(api_tokens::routes)
        .configure(timeline::routes)
        .configure(companies::routes)
        .configure(legal_entities::routes)
        .configure(contacts::routes)
        // Sales
        .configure(products::routes)
        .configure(pipelines::routes)
        .configure(deals::routes)
        .configure(activities::routes)
        .configure(calendar::routes)
        .configure(notifications::routes)
        .configure(files::routes)
        .configure(comments::routes)
        .configure(leads::routes)
        .configure(imports::routes)
        .configure(quotes::routes)
        .configure(orders::routes)
        .configure(numbering_templates::routes)
        .configure(invoices::routes)
        .configure(payments::routes)
        .configure(automation_rules::routes)
        .configure(reports::routes)
        .configure(webhooks::routes)
        .configure(pools::routes)
        .configure(tasks::routes)
        .configure(processes::routes)
        .configure(supplier_invoices::routes)
        // Integration
        .configure(events::routes)
        .configure(commerceml::routes)
        .configure(batch::routes);
    cfg.configure(bank_statements::routes)
        .configure(bank_exports::routes);
}

/// A JSON answer carrying the record's version as `ETag` (API-5).
pub fn versioned<T: Serialize>(status: StatusCode, version: i32, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

/// `201 Created` with `Location` and `ETag`.
pub fn created<T: Serialize>(location: String, version: i32, body: &T) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

pub use sdelka_persistence::ops::ensure_exists;
