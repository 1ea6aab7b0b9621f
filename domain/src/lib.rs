//! Sdelka's business language. Pure: no HTTP, no SQL, no async runtime.

pub mod email;
pub mod files;
pub mod organisation;
pub mod requisites;
pub mod role;
pub mod validation;
pub mod work;
