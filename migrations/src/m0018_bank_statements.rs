//! INT-1C-2, bank statements. `bank_statements` keeps each imported file's account, balances,
//! warnings and per-document results; `bank_statement_documents` keeps each payment document
//! once, by its identity (account, number, date, amount, counterparty) under a unique index, so
//! that importing a file again — also two imports of it at once — creates nothing twice. A
//! document's match to an invoice waits there for review when it was not sure.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::common::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("bank_statements")
                .col(uuid("id").primary_key())
                .col(uuid_null("organization_id"))
                .col(string_null("account"))
                .col(string("format_version"))
                .col(string("encoding"))
                .col(string("content_sha256"))
                .col(integer("document_count"))
                // JSON: balances, warnings and the per-document results.
                .col(text("summary"))
                .col(uuid_null("created_by"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("bank_statement_documents")
                .col(uuid("id").primary_key())
                .col(string("identity_key"))
                .col(uuid("statement_id"))
                .col(integer("position"))
                .col(string("kind"))
                .col(string("direction"))
                .col(string_null("number"))
                .col(date_null("document_date"))
                .col(big_integer("amount_minor"))
                .col(string_null("payer_inn"))
                .col(string_null("payer_name"))
                .col(string_null("recipient_inn"))
                .col(text("purpose"))
                .col(uuid_null("payment_id"))
                .col(uuid_null("invoice_id"))
                .col(uuid_null("supplier_invoice_id"))
                // sure | unsure | none
                .col(string("confidence"))
                .col(text_null("reason"))
                // none | pending | confirmed | rejected | applied
                .col(string("review_status"))
                .col(uuid_null("reviewed_by"))
                .col(timestamp_with_time_zone_null("reviewed_at"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "bank_statement_documents",
                "ux_bank_statement_documents_identity",
                &["identity_key"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "bank_statement_documents",
            "ix_bank_statement_documents_statement",
            &["statement_id", "position"],
        ))
        .await?;
        m.create_index(index(
            "bank_statement_documents",
            "ix_bank_statement_documents_review",
            &["review_status"],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("bank_statement_documents").to_owned())
            .await?;
        m.drop_table(Table::drop().table("bank_statements").to_owned())
            .await
    }
}
