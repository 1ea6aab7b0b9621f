//! Sdelka's business language. Pure: no HTTP, no SQL, no async runtime.

pub mod amount_in_words;
pub mod bank_exchange;
pub mod bank_matching;
pub mod billing;
pub mod clients;
pub mod commerceml;
pub mod commerceml_out;
pub mod email;
pub mod files;
pub mod lead;
pub mod numbering;
pub mod organisation;
pub mod process;
pub mod requisites;
pub mod role;
pub mod supplier_invoice;
pub mod task;
pub mod text_encoding;
pub mod validation;
pub mod workflow;

// Sales (CAT, DEAL): money, VAT and product rows are shared by every sales document.
pub mod deal;
pub mod money;
pub mod product_row;
pub mod vat;
pub mod work;
// Sales documents (DOC-1, DOC-2).
pub mod order;
pub mod quote;
// Money documents (DOC-3, DOC-4) and automation rules (WF-PAY).
pub mod automation;
pub mod customer_invoice;
pub mod webhook;
