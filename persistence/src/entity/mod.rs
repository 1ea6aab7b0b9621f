//! SeaORM entities: one per table of the migrations crate.

pub mod api_token;
pub mod audit_record;
pub mod bank_account;
pub mod department;
pub mod domain_event;
pub mod idempotency_key;
pub mod import;
pub mod lead;
pub mod organization;
pub mod outbox_message;
pub mod refresh_token;
pub mod user;
