//! Maps Sdelka's domain onto SQLite and PostgreSQL through SeaORM.
//!
//! Every write goes through a transaction that also writes its audit record and domain event
//! (`journal`), and any outgoing message (`outbox`), so that a state change and its effects
//! commit or vanish together.

pub mod accounts;
pub mod clients;
pub mod credentials;
pub mod db;
pub mod entity;
pub mod error;
pub mod feed;
pub mod idempotency;
pub mod jobs;
pub mod journal;
pub mod leads;
pub mod organizations;
pub mod outbox;
pub mod pagination;
pub mod people;
pub mod records;
pub mod sales;
pub mod search;
pub mod visibility;
// Work (ACT-1..ACT-5)
pub mod activities;
pub mod attachments;
pub mod notifications;
pub mod reminders;
// The shared task model (SPEC §3) and WF-INV
pub mod approvals;

pub use db::{Backend, Store};
pub use error::StoreError;
pub use journal::Actor;
// Sales documents (DOC-1, DOC-2)
pub mod orders;
pub mod quotes;
// Money documents (WF-NUM, DOC-3, DOC-4).
pub mod automation;
pub mod numbering;
// The application core: every use case as one operation.
pub mod ops;
