//! End-to-end tests: the real server over HTTP. SQLite by default; set
//! `SDELKA_TEST_DATABASE_URL=postgres://…/postgres-db` to run the same suite on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod approvals;
mod auth;
mod clients;
mod conventions;
mod deal_to_cash;
mod documents;
mod events;
mod funnel;
mod leads;
mod listing;
mod lists;
mod money;
mod operations;
mod organisation;
mod outbox;
mod sales;
mod seed_scenario;
mod work;
mod workflows;
