//! DOC-1 quotes with their versions, DOC-2 orders, and the transitions of both.
//!
//! Product rows of a quote version and of an order live in `product_rows` (m0003) with
//! `document_type` `quote_version` / `order`. Money in BIGINT kopecks, percentages in BIGINT
//! hundredths, as everywhere. The seller (`organization_id`), buyer (`legal_entity_id`,
//! `contact_id`), deal and responsible user are plain UUIDs, checked by the API: this
//! migration only refers to its own tables.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::common::{index, record_columns};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A transition row: who moved which record from what to what, when, and why.
fn transitions(table: &'static str, owner: &'static str) -> TableCreateStatement {
    Table::create()
        .table(table)
        .col(uuid("id").primary_key())
        .col(uuid(owner))
        .col(string("action"))
        .col(string("from_status"))
        .col(string("to_status"))
        .col(uuid_null("actor_id"))
        .col(text_null("comment"))
        .col(timestamp_with_time_zone("occurred_at"))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The quote as a whole; status, validity and totals are those of its current version,
        // kept here for lists and filters.
        m.create_table(
            record_columns(
                Table::create()
                    .table("quotes")
                    .col(uuid("id").primary_key())
                    .col(uuid("deal_id"))
                    .col(uuid("organization_id"))
                    .col(uuid_null("legal_entity_id"))
                    .col(uuid_null("contact_id"))
                    // Copied from the deal: who sees the quote (like the deal).
                    .col(uuid("responsible_id"))
                    .col(string("currency"))
                    // Given by the numbering templates (WF-NUM) when the quote is first sent;
                    // a draft has none.
                    .col(string_null("number"))
                    .col(string("title"))
                    .col(integer("current_version"))
                    .col(string("status"))
                    .col(date_null("valid_until"))
                    .col(big_integer("net_minor"))
                    .col(big_integer("vat_minor"))
                    .col(big_integer("total_minor")),
            )
            .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_quotes_created", &["created_at", "id"][..]),
            ("ix_quotes_updated", &["updated_at", "id"]),
            ("ix_quotes_total", &["total_minor", "id"]),
            ("ix_quotes_deal", &["deal_id", "created_at", "id"]),
            (
                "ix_quotes_responsible",
                &["responsible_id", "created_at", "id"],
            ),
            ("ix_quotes_status", &["status", "created_at", "id"]),
        ] {
            m.create_index(index("quotes", name, cols)).await?;
        }

        m.create_table(
            record_columns(
                Table::create()
                    .table("quote_versions")
                    .col(uuid("id").primary_key())
                    .col(uuid("quote_id"))
                    // 1, 2, 3 … within the quote.
                    .col(integer("number"))
                    .col(string("status"))
                    .col(date_null("valid_until"))
                    .col(big_integer("net_minor"))
                    .col(big_integer("vat_minor"))
                    .col(big_integer("total_minor"))
                    .col(text_null("comment"))
                    .col(timestamp_with_time_zone_null("sent_at"))
                    .col(uuid_null("sent_to_contact_id"))
                    .col(string_null("sent_to_email"))
                    .col(timestamp_with_time_zone_null("decided_at"))
                    .col(text_null("reject_reason")),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_quote_versions_quote")
                    .from("quote_versions", "quote_id")
                    .to("quotes", "id"),
            )
            .to_owned(),
        )
        .await?;
        // Two concurrent "new version" requests cannot both make version n.
        m.create_index(
            index(
                "quote_versions",
                "ux_quote_versions_number",
                &["quote_id", "number"],
            )
            .unique()
            .to_owned(),
        )
        .await?;

        m.create_table(
            transitions("quote_transitions", "quote_id")
                .col(integer("version_number"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_quote_transitions_quote")
                        .from("quote_transitions", "quote_id")
                        .to("quotes", "id"),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "quote_transitions",
            "ix_quote_transitions_quote",
            &["quote_id", "occurred_at", "id"],
        ))
        .await?;

        m.create_table(
            record_columns(
                Table::create()
                    .table("orders")
                    .col(uuid("id").primary_key())
                    .col(uuid("deal_id"))
                    .col(uuid_null("quote_id"))
                    .col(integer_null("quote_version"))
                    // The quote while the order is not cancelled; NULL once it is, so that a
                    // cancelled order frees its quote for a new one. Unique: one live order
                    // per quote, also under concurrent requests (NULLs are distinct on both
                    // backends).
                    .col(uuid_null("live_quote_id"))
                    .col(uuid("organization_id"))
                    .col(uuid_null("legal_entity_id"))
                    .col(uuid_null("contact_id"))
                    .col(uuid("responsible_id"))
                    .col(string("currency"))
                    // WF-NUM: given when the terms are confirmed; a draft has none.
                    .col(string_null("number"))
                    .col(string("title"))
                    .col(string("status"))
                    .col(big_integer("net_minor"))
                    .col(big_integer("vat_minor"))
                    .col(big_integer("total_minor"))
                    .col(big_integer("advance_minor"))
                    // Set when the advance was asked as a share of the total.
                    .col(big_integer_null("advance_percent_hundredths"))
                    // What the payments area reports as paid against the order.
                    .col(big_integer("paid_minor").default(0))
                    .col(timestamp_with_time_zone_null("confirmed_at"))
                    .col(text_null("cancel_reason")),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_orders_quote")
                    .from("orders", "quote_id")
                    .to("quotes", "id"),
            )
            .to_owned(),
        )
        .await?;
        m.create_index(
            index("orders", "ux_orders_live_quote", &["live_quote_id"])
                .unique()
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_orders_created", &["created_at", "id"][..]),
            ("ix_orders_updated", &["updated_at", "id"]),
            ("ix_orders_total", &["total_minor", "id"]),
            ("ix_orders_deal", &["deal_id", "created_at", "id"]),
            ("ix_orders_quote", &["quote_id", "created_at", "id"]),
            (
                "ix_orders_responsible",
                &["responsible_id", "created_at", "id"],
            ),
            ("ix_orders_status", &["status", "created_at", "id"]),
        ] {
            m.create_index(index("orders", name, cols)).await?;
        }

        m.create_table(
            transitions("order_transitions", "order_id")
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_order_transitions_order")
                        .from("order_transitions", "order_id")
                        .to("orders", "id"),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "order_transitions",
            "ix_order_transitions_order",
            &["order_id", "occurred_at", "id"],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "order_transitions",
            "orders",
            "quote_transitions",
            "quote_versions",
            "quotes",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
