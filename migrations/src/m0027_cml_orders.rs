//! INT-1C-1, orders in the CommerceML exchange: per order, what the last `type=sale&mode=query`
//! of a session sent (confirmed by that session's `mode=success`), what 1C has confirmed, and
//! what 1C reported back about the order (its number, status, payment and shipment).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("cml_order_states")
                .col(uuid("order_id").primary_key())
                .col(integer_null("sent_version"))
                .col(uuid_null("sent_session"))
                .col(integer_null("exported_version"))
                .col(timestamp_with_time_zone_null("exported_at"))
                .col(string_len_null("number_1c", 100))
                .col(string_len_null("status_1c", 200))
                .col(string_len_null("paid_1c", 100))
                .col(string_len_null("shipped_1c", 100))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_cml_order_states_sent_session")
                .table("cml_order_states")
                .col("sent_session")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("cml_order_states").to_owned())
            .await
    }
}
