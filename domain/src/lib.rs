//! Sdelka's business language. Pure: no HTTP, no SQL, no async runtime.

pub mod clients;
pub mod email;
pub mod organisation;
pub mod requisites;
pub mod role;
pub mod validation;
