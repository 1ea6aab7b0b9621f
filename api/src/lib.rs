//! Sdelka's HTTP API: a thin layer that extracts and authorises requests, calls the domain
//! and the store, and maps results to DTOs and problem documents.

pub mod approvals;
pub mod auth;
pub mod batch;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod dto {
    //! Wire types shared by several areas live with the operations.
    pub use sdelka_persistence::ops::dto::*;
}
pub mod error;
pub mod extract;
pub mod heap;
pub mod imports;
pub mod jobs;
pub mod limits;
pub mod lists {
    //! The list conventions live with the operations; re-exported for the handlers.
    pub use sdelka_persistence::ops::list::*;
}
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
