//! Sdelka's HTTP API: a thin layer that extracts and authorises requests, calls the domain
//! and the store, and maps results to DTOs and problem documents.

pub mod approvals;
pub mod auth;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod dto;
pub mod error;
pub mod extract;
pub mod heap;
pub mod imports;
pub mod lists;
pub mod mail;
pub mod middleware;
pub mod negotiate;
pub mod openapi;
pub mod print;
pub mod routes;
pub mod server;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod workers;
