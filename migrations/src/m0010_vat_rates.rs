//! Money rules that live in data:
//!
//! - `vat_rates` (CAT-2): each VAT rate with the period in which a document may carry it, and
//!   which rate is the standard one in that period. The next change of a rate's validity (as
//!   on 2026-01-01, when 22 % replaced 20 %) is a row, not a release. A rate code the
//!   application does not know is ignored.
//! - the same supplier invoice (supplier legal entity, number, date) is registered once while
//!   it is not cancelled: a partial unique index, so that two concurrent registrations cannot
//!   both succeed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `(code, standard, valid_from, valid_to)`, both ends inclusive, `None` unbounded.
pub const SEED: &[(&str, bool, Option<&str>, Option<&str>)] = &[
    ("22", true, Some("2026-01-01"), None),
    ("20", true, None, Some("2025-12-31")),
    ("10", false, None, None),
    ("0", false, None, None),
    ("none", false, None, None),
];

const DUPLICATES: &str = "SELECT supplier_legal_entity_id, number, invoice_date, COUNT(*) \
     FROM supplier_invoices WHERE state <> 'cancelled' AND deleted_at IS NULL \
     GROUP BY supplier_legal_entity_id, number, invoice_date HAVING COUNT(*) > 1";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        m.create_table(
            Table::create()
                .table("vat_rates")
                .col(pk_auto("id"))
                // `22`, `20`, `10`, `0`, `none`.
                .col(string("code"))
                // The rate a line without one gets on a document dated in the period.
                .col(boolean("standard").default(false))
                .col(date_null("valid_from"))
                .col(date_null("valid_to"))
                .to_owned(),
        )
        .await?;
        for (code, standard, from, to) in SEED {
            let date = |d: &Option<&str>| d.map_or("NULL".to_owned(), |d| format!("'{d}'"));
            db.execute_unprepared(&format!(
                "INSERT INTO vat_rates (code, standard, valid_from, valid_to) \
                 VALUES ('{code}', {standard}, {}, {})",
                date(from),
                date(to)
            ))
            .await?;
        }

        let backend = db.get_database_backend();
        let dups = db
            .query_all_raw(Statement::from_string(backend, DUPLICATES))
            .await?;
        if !dups.is_empty() {
            return Err(DbErr::Migration(format!(
                "{} supplier invoices are registered more than once (same supplier legal entity, \
                 number and date, not cancelled); cancel the extra ones, then migrate again:\n{DUPLICATES}",
                dups.len()
            )));
        }
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_supplier_invoices_live_number ON supplier_invoices \
             (supplier_legal_entity_id, number, invoice_date) \
             WHERE state <> 'cancelled' AND deleted_at IS NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("DROP INDEX ux_supplier_invoices_live_number")
            .await?;
        m.drop_table(Table::drop().table("vat_rates").to_owned())
            .await
    }
}
