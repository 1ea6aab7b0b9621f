//! INT-1 webhooks: subscriptions, deliveries (one per subscription and event, each attempt
//! logged in the row), and the dispatcher's offset in the change feed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

use crate::common::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("webhooks")
                .col(uuid("id").primary_key())
                .col(string_len("url", 2000))
                .col(string_len_null("description", 500))
                // JSON array of event types or `prefix.*` patterns; empty: every event.
                .col(text("event_types"))
                .col(boolean("skip_own_credential").default(false))
                .col(boolean("active").default(true))
                .col(string_len("secret", 200))
                .col(uuid("owner_id"))
                .col(uuid_null("api_token_id"))
                .col(string_len_null("disabled_reason", 500))
                .col(timestamp_with_time_zone_null("disabled_at"))
                .col(integer("version").default(1))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_webhooks_owner_id")
                        .from("webhooks", "owner_id")
                        .to("users", "id"),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("webhook_deliveries")
                .col(uuid("id").primary_key())
                .col(uuid("webhook_id"))
                // The event id: the `webhook-id` header, constant across attempts.
                .col(uuid("event_id"))
                .col(string_len("event_type", 200))
                .col(big_integer_null("position"))
                // The exact body sent, captured when the delivery was created.
                .col(text("payload"))
                // pending | delivered | failed
                .col(string_len("state", 20))
                .col(integer("attempts").default(0))
                .col(timestamp_with_time_zone("next_attempt_at"))
                .col(string_len_null("lease_owner", 200))
                .col(timestamp_with_time_zone_null("lease_until"))
                .col(integer_null("last_status"))
                .col(text_null("last_error"))
                // JSON array of {at, status, latency_ms, error, response}.
                .col(text("attempt_log"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .col(timestamp_with_time_zone_null("delivered_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_webhook_deliveries_webhook_id")
                        .from("webhook_deliveries", "webhook_id")
                        .to("webhooks", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "webhook_deliveries",
            "ix_webhook_deliveries_due",
            &["state", "next_attempt_at"],
        ))
        .await?;
        m.create_index(index(
            "webhook_deliveries",
            "ix_webhook_deliveries_webhook",
            &["webhook_id", "created_at"],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("webhook_dispatch_offset")
                .col(integer("id").primary_key())
                .col(big_integer("position"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        // The dispatcher starts at the feed's head: events before webhooks existed are not sent.
        m.get_connection()
            .execute_unprepared(
                "INSERT INTO webhook_dispatch_offset (id, position, updated_at) \
                 SELECT 1, position, CURRENT_TIMESTAMP FROM event_feed_head WHERE id = 1",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["webhook_dispatch_offset", "webhook_deliveries", "webhooks"] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
