//! SeaORM entities: one per table of the migrations crate.

pub mod api_token;
pub mod audit_record;
pub mod bank_account;
pub mod department;
pub mod domain_event;
pub mod idempotency_key;
pub mod organization;
pub mod outbox_message;
pub mod refresh_token;
pub mod user;
// Work (ACT-1..ACT-5)
pub mod activity;
pub mod activity_time_entry;
pub mod calendar_event;
pub mod calendar_event_participant;
pub mod comment;
pub mod file;
pub mod notification;
pub mod reminder;
