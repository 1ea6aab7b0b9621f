//! CRM-4 leads and INT-CSV imports.

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
                .table("leads")
                .col(uuid("id").primary_key())
                .col(string("title"))
                .col(string("source"))
                .col(string("status"))
                .col(string_null("category"))
                // Money as exact kopecks.
                .col(big_integer_null("potential_amount_minor"))
                .col(string("currency").default("RUB"))
                .col(integer_null("probability"))
                .col(uuid("responsible_id"))
                .col(string_null("company_name"))
                .col(string_null("contact_name"))
                .col(string_null("phone"))
                .col(string_null("email"))
                .col(string_null("inn"))
                .col(text_null("address"))
                .col(text_null("comment"))
                .col(string_null("external_id"))
                // Identity of an imported row: re-running a file finds its rows here.
                .col(string_null("import_key"))
                .col(uuid_null("import_id"))
                .col(timestamp_with_time_zone_null("converted_at"))
                .col(uuid_null("converted_contact_id"))
                .col(uuid_null("converted_company_id"))
                .col(uuid_null("converted_deal_id"))
                .col(text("search_text"))
                .col(integer("version").default(1))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .col(timestamp_with_time_zone_null("deleted_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("leads", "ux_leads_import_key", &["import_key"])
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("leads", "ux_leads_external_id", &["external_id"])
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(index("leads", "ix_leads_created", &["created_at", "id"]))
            .await?;
        m.create_index(index("leads", "ix_leads_updated", &["updated_at", "id"]))
            .await?;
        m.create_index(index(
            "leads",
            "ix_leads_status",
            &["status", "created_at", "id"],
        ))
        .await?;
        m.create_index(index(
            "leads",
            "ix_leads_responsible",
            &["responsible_id", "created_at", "id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("imports")
                .col(uuid("id").primary_key())
                .col(string("entity_type"))
                .col(string("state"))
                .col(text("mapping"))
                .col(text("content"))
                .col(string("content_sha256"))
                .col(integer("total_rows").default(0))
                .col(integer("processed_rows").default(0))
                .col(integer("created_count").default(0))
                .col(integer("skipped_count").default(0))
                .col(integer("error_count").default(0))
                .col(text("errors"))
                .col(uuid("created_by"))
                .col(string_null("lease_owner"))
                .col(timestamp_with_time_zone_null("lease_until"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .col(timestamp_with_time_zone_null("finished_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "imports",
            "ix_imports_state",
            &["state", "created_at"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("imports").to_owned())
            .await?;
        m.drop_table(Table::drop().table("leads").to_owned()).await
    }
}
