//! The schema, expressed once through sea-query so that SQLite and PostgreSQL get the same
//! tables. Money is never stored as a float: amounts are kept as integer minor units
//! (kopecks) in BIGINT columns, which are exact on both backends.

pub use sea_orm_migration::prelude::*;

mod common;
mod m0001_platform;
mod m0002_clients;
mod m0003_sales;

pub use m0003_sales::DEFAULT_PIPELINE_ID;
mod m0004_work;
mod m0005_leads;
mod m0006_money;

pub use m0006_money::PAYMENT_WATCHER_RULE_ID;
mod m0007_quotes_orders;
mod m0008_approvals;
mod m0009_links;
mod m0010_vat_rates;
mod m0011_list_indexes;
mod m0015_feed;
mod m0016_webhooks;
mod m0017_webhook_secret_rotation;
mod m0018_bank_statements;
mod m0019_sqlite_search;
mod m0020_bank_statement_jobs;
mod m0021_cml_catalog_products;
mod m0022_commerceml;
mod m0023_processes;
mod m0024_process_templates;
mod m0025_task_billing;
mod m0026_webhook_receiving;
mod m0027_cml_orders;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_platform::Migration),
            Box::new(m0002_clients::Migration),
            Box::new(m0003_sales::Migration),
            Box::new(m0004_work::Migration),
            Box::new(m0005_leads::Migration),
            Box::new(m0006_money::Migration),
            Box::new(m0007_quotes_orders::Migration),
            Box::new(m0008_approvals::Migration),
            Box::new(m0009_links::Migration),
            Box::new(m0010_vat_rates::Migration),
            Box::new(m0011_list_indexes::Migration),
            Box::new(m0015_feed::Migration),
            Box::new(m0016_webhooks::Migration),
            Box::new(m0017_webhook_secret_rotation::Migration),
            Box::new(m0018_bank_statements::Migration),
            Box::new(m0019_sqlite_search::Migration),
            Box::new(m0020_bank_statement_jobs::Migration),
            Box::new(m0021_cml_catalog_products::Migration),
            Box::new(m0022_commerceml::Migration),
            Box::new(m0023_processes::Migration),
            Box::new(m0024_process_templates::Migration),
            Box::new(m0025_task_billing::Migration),
            Box::new(m0026_webhook_receiving::Migration),
            Box::new(m0027_cml_orders::Migration),
        ]
    }
}
