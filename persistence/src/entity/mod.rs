//! SeaORM entities: one per table of the migrations crate.

pub mod api_token;
pub mod audit_record;
pub mod bank_account;
pub mod department;
pub mod domain_event;
pub mod event_consumer;
pub mod event_feed_head;
pub mod idempotency_key;
pub mod import;
pub mod lead;
pub mod organization;
pub mod outbox_message;
pub mod refresh_token;
pub mod user;
// CRM-1..3 clients.
pub mod company;
pub mod contact;
pub mod contact_legal_entity;
pub mod external_id;
pub mod legal_entity;
pub mod legal_entity_bank_account;
// Sales
pub mod deal;
pub mod deal_contact;
pub mod deal_stage_change;
pub mod pipeline;
pub mod pipeline_stage;
pub mod product;
pub mod product_row;
pub mod vat_rate;
// Work (ACT-1..ACT-5)
pub mod activity;
pub mod activity_time_entry;
pub mod calendar_event;
pub mod calendar_event_participant;
pub mod comment;
pub mod file;
pub mod notification;
pub mod reminder;
// Sales documents (DOC-1, DOC-2)
pub mod order;
pub mod order_transition;
pub mod quote;
pub mod quote_transition;
pub mod quote_version;
// Money documents (WF-NUM, DOC-3, DOC-4) and automation rules.
pub mod automation_rule;
pub mod invoice;
pub mod invoice_transition;
pub mod numbering_template;
pub mod payment;
pub mod payment_application;
// Approvals: the shared task model (SPEC §3) and WF-INV
pub mod approval_step;
pub mod bank_statement;
pub mod bank_statement_document;
pub mod pool;
pub mod pool_member;
pub mod supplier_invoice;
pub mod supplier_invoice_file;
pub mod supplier_invoice_transition;
pub mod task;
// CommerceML 2 exchange (INT-1C-1)
pub mod cml_catalog_product;
pub mod cml_exchange_file;
pub mod cml_exchange_import;
pub mod cml_order_state;
pub mod price_type;
pub mod product_group;
pub mod product_group_member;
pub mod product_offer;
pub mod product_price;
pub mod product_stock;
pub mod task_billing;
pub mod warehouse;
pub mod webhook;
pub mod webhook_delivery;
// Business processes (WF-BP-1..6)
pub mod process_action;
pub mod process_instance;
pub mod process_step;
pub mod process_task;
pub mod process_template;
pub mod process_template_version;
pub mod process_timer;
