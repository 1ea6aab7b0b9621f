//! INT-1C-1, the CommerceML 2 exchange: what 1C sends that products alone do not hold —
//! product groups (the classifier's tree), price types, warehouses, offers (a product or one
//! of its characteristics, `товар#характеристика`) with their prices and stock — and the
//! exchange's own state, kept in the database so that any instance continues a session:
//! the uploaded files (one row per posted part) and each import's position.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::common::{index, record_columns};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 9] = [
    "cml_exchange_files",
    "cml_exchange_imports",
    "product_group_members",
    "product_stock",
    "product_prices",
    "product_offers",
    "warehouses",
    "price_types",
    "product_groups",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            record_columns(
                Table::create()
                    .table("product_groups")
                    .col(uuid("id").primary_key())
                    .col(string_len("external_id", 255))
                    .col(string_len("name", 500))
                    .col(uuid_null("parent_id")),
            )
            .to_owned(),
        )
        .await?;
        m.create_table(
            record_columns(
                Table::create()
                    .table("price_types")
                    .col(uuid("id").primary_key())
                    .col(string_len("external_id", 255))
                    .col(string_len("name", 500))
                    .col(string_len("currency", 3))
                    .col(boolean("vat_included")),
            )
            .to_owned(),
        )
        .await?;
        m.create_table(
            record_columns(
                Table::create()
                    .table("warehouses")
                    .col(uuid("id").primary_key())
                    .col(string_len("external_id", 255))
                    .col(string_len("name", 500)),
            )
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("product_offers")
                .col(uuid("id").primary_key())
                .col(string_len("external_id", 511))
                .col(uuid("product_id"))
                .col(string_len_null("name", 500))
                .col(string_len_null("article", 255))
                // Decimal text: the total stock of the offer.
                .col(string_len_null("quantity", 40))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("product_prices")
                .col(uuid("id").primary_key())
                .col(uuid("offer_id"))
                .col(uuid("price_type_id"))
                .col(big_integer("price_minor"))
                .col(string_len("currency", 3))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("product_stock")
                .col(uuid("id").primary_key())
                .col(uuid("offer_id"))
                .col(uuid("warehouse_id"))
                .col(string_len("quantity", 40))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("product_group_members")
                .col(uuid("id").primary_key())
                .col(uuid("product_id"))
                .col(uuid("group_id"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("cml_exchange_files")
                .col(uuid("id").primary_key())
                .col(uuid("session_id"))
                .col(string_len("filename", 255))
                .col(integer("seq"))
                .col(blob("content"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("cml_exchange_imports")
                .col(uuid("id").primary_key())
                .col(uuid("session_id"))
                .col(string_len("filename", 255))
                .col(big_integer("position"))
                .col(big_integer("total"))
                .col(boolean("done"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        for (table, name, cols) in [
            (
                "product_groups",
                "ux_product_groups_external",
                &["external_id"][..],
            ),
            (
                "price_types",
                "ux_price_types_external",
                &["external_id"][..],
            ),
            ("warehouses", "ux_warehouses_external", &["external_id"][..]),
            (
                "product_offers",
                "ux_product_offers_external",
                &["external_id"][..],
            ),
            (
                "product_prices",
                "ux_product_prices_offer_type",
                &["offer_id", "price_type_id"][..],
            ),
            (
                "product_stock",
                "ux_product_stock_offer_warehouse",
                &["offer_id", "warehouse_id"][..],
            ),
            (
                "product_group_members",
                "ux_product_group_members",
                &["product_id", "group_id"][..],
            ),
            (
                "cml_exchange_files",
                "ux_cml_exchange_files_part",
                &["session_id", "filename", "seq"][..],
            ),
            (
                "cml_exchange_imports",
                "ux_cml_exchange_imports_file",
                &["session_id", "filename"][..],
            ),
        ] {
            m.create_index(index(table, name, cols).unique().to_owned())
                .await?;
        }
        for (table, name, cols) in [
            (
                "product_groups",
                "ix_product_groups_created",
                &["created_at", "id"][..],
            ),
            (
                "price_types",
                "ix_price_types_created",
                &["created_at", "id"][..],
            ),
            (
                "product_offers",
                "ix_product_offers_product",
                &["product_id"][..],
            ),
        ] {
            m.create_index(index(table, name, cols)).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in TABLES {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
