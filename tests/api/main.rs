//! End-to-end tests: the real server over HTTP. SQLite by default; set
//! `SDELKA_TEST_DATABASE_URL=postgres://…/postgres-db` to run the same suite on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod approvals;
mod auth;
mod bank;
mod bank_export;
mod batch;
mod billing;
mod bulk;
mod clients;
mod commerceml;
mod conventions;
mod deal_to_cash;
mod documents;
mod events;
mod feed;
mod files_s3;
mod funnel;
mod imports_large;
mod leads;
mod listing;
mod lists;
mod money;
mod operations;
mod organisation;
mod outbox;
mod processes;
mod sales;
mod search;
mod security;
mod seed_scenario;
mod tax;
mod webhooks;
mod work;
mod workflows;
