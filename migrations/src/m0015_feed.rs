//! INT-2, the change feed. A domain event gets its feed `position` after it commits, from one
//! sequencer at a time (serialised by a lock on the single row of `event_feed_head`), so that
//! a reader who has passed position N never later finds an event before N — which numbering at
//! insert cannot promise on PostgreSQL, where sequence values commit out of order. Events
//! written before this migration are numbered here, in their insertion order.
//!
//! `responsible_id` is the responsible user of the record the event is about, as the event
//! saw it: what decides who may read the event of a record that no longer exists.
//! `event_consumers` keeps named reader offsets, so that a consumer's lag can be seen.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

use crate::common::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("domain_events")
                .add_column(big_integer_null("position"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("domain_events")
                .add_column(uuid_null("responsible_id"))
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        // Everything committed so far is numbered in insertion order.
        db.execute_unprepared("UPDATE domain_events SET position = seq")
            .await?;
        m.create_index(
            index("domain_events", "ux_domain_events_position", &["position"])
                .unique()
                .to_owned(),
        )
        .await?;
        // The sequencer's work list: the events not numbered yet, oldest first.
        db.execute_unprepared(
            "CREATE INDEX ix_domain_events_unnumbered ON domain_events (seq) WHERE position IS NULL",
        )
        .await?;
        m.create_index(index(
            "domain_events",
            "ix_domain_events_occurred",
            &["occurred_at"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("event_feed_head")
                .col(integer("id").primary_key())
                // The last position handed out.
                .col(big_integer("position"))
                // Events up to this position were removed by retention: a cursor before it is
                // expired.
                .col(big_integer("pruned_through").default(0))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO event_feed_head (id, position, pruned_through, updated_at) \
             SELECT 1, COALESCE(MAX(seq), 0), 0, CURRENT_TIMESTAMP FROM domain_events",
        )
        .await?;

        m.create_table(
            Table::create()
                .table("event_consumers")
                .col(string_len("name", 100).primary_key())
                .col(big_integer("position"))
                .col(uuid("owner_id"))
                .col(uuid_null("api_token_id"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_event_consumers_owner_id")
                        .from("event_consumers", "owner_id")
                        .to("users", "id"),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("event_consumers").to_owned())
            .await?;
        m.drop_table(Table::drop().table("event_feed_head").to_owned())
            .await?;
        let db = m.get_connection();
        db.execute_unprepared("DROP INDEX ix_domain_events_unnumbered")
            .await?;
        m.drop_index(
            Index::drop()
                .name("ix_domain_events_occurred")
                .table("domain_events")
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("ux_domain_events_position")
                .table("domain_events")
                .to_owned(),
        )
        .await?;
        for col in ["responsible_id", "position"] {
            m.alter_table(
                Table::alter()
                    .table("domain_events")
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
