//! Work: activities with time entries, calendar events with participants, durable reminders,
//! the notification inbox, comments and file attachments (ACT-1..ACT-5).
//!
//! Owner references (`owner_type`, `owner_id`; `entity_type`, `entity_id`) point at records of
//! several tables (deals, companies, invoices, …), so they carry no foreign key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::common::{index, record_columns};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // ACT-1. `responsible_id` is the assignee; a later shared task inbox can add an
        // assignee role or pool next to it without changing what is here.
        m.create_table(
            record_columns(
                Table::create()
                    .table("activities")
                    .col(uuid("id").primary_key())
                    .col(string("kind"))
                    .col(string_null("owner_type"))
                    .col(uuid_null("owner_id"))
                    .col(string("subject"))
                    .col(text_null("description"))
                    .col(uuid("responsible_id"))
                    .col(uuid("author_id"))
                    .col(timestamp_with_time_zone_null("deadline"))
                    .col(timestamp_with_time_zone_null("completed_at"))
                    .col(text_null("result"))
                    .col(string_null("call_direction"))
                    .col(string_null("call_result")),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_activities_responsible")
                    .from("activities", "responsible_id")
                    .to("users", "id"),
            )
            .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_activities_owner", &["owner_type", "owner_id"][..]),
            (
                "ix_activities_responsible",
                &["responsible_id", "created_at"],
            ),
            ("ix_activities_created", &["created_at", "id"]),
            ("ix_activities_updated", &["updated_at", "id"]),
            ("ix_activities_deadline", &["deadline", "id"]),
        ] {
            m.create_index(index("activities", name, cols)).await?;
        }

        m.create_table(
            record_columns(
                Table::create()
                    .table("activity_time_entries")
                    .col(uuid("id").primary_key())
                    .col(uuid("activity_id"))
                    .col(uuid("user_id"))
                    .col(integer("minutes"))
                    .col(date("work_date"))
                    .col(text_null("comment")),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_time_entries_activity")
                    .from("activity_time_entries", "activity_id")
                    .to("activities", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_time_entries_user")
                    .from("activity_time_entries", "user_id")
                    .to("users", "id"),
            )
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "activity_time_entries",
            "ix_time_entries_activity",
            &["activity_id", "created_at"],
        ))
        .await?;

        // ACT-2
        m.create_table(
            record_columns(
                Table::create()
                    .table("calendar_events")
                    .col(uuid("id").primary_key())
                    .col(string("title"))
                    .col(text_null("description"))
                    .col(timestamp_with_time_zone("starts_at"))
                    .col(timestamp_with_time_zone("ends_at"))
                    .col(string_null("place"))
                    .col(string_null("owner_type"))
                    .col(uuid_null("owner_id"))
                    .col(uuid("responsible_id"))
                    .col(uuid("author_id")),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_calendar_events_responsible")
                    .from("calendar_events", "responsible_id")
                    .to("users", "id"),
            )
            .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_calendar_events_time", &["starts_at", "ends_at"][..]),
            ("ix_calendar_events_created", &["created_at", "id"]),
            ("ix_calendar_events_updated", &["updated_at", "id"]),
        ] {
            m.create_index(index("calendar_events", name, cols)).await?;
        }
        m.create_table(
            Table::create()
                .table("calendar_event_participants")
                .col(uuid("event_id"))
                .col(uuid("user_id"))
                .primary_key(Index::create().col("event_id").col("user_id"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_participants_event")
                        .from("calendar_event_participants", "event_id")
                        .to("calendar_events", "id"),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_participants_user")
                        .from("calendar_event_participants", "user_id")
                        .to("users", "id"),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "calendar_event_participants",
            "ix_participants_user",
            &["user_id"],
        ))
        .await?;

        // ACT-2 reminders: claimed by lease like outbox messages, fired once.
        m.create_table(
            Table::create()
                .table("reminders")
                .col(uuid("id").primary_key())
                .col(string("target_type"))
                .col(uuid("target_id"))
                .col(timestamp_with_time_zone("remind_at"))
                .col(text_null("message"))
                .col(string("state"))
                .col(integer("attempts").default(0))
                .col(string_null("lease_owner"))
                .col(timestamp_with_time_zone_null("lease_until"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("fired_at"))
                .col(uuid_null("notification_id"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "reminders",
            "ix_reminders_due",
            &["state", "remind_at"],
        ))
        .await?;
        m.create_index(index(
            "reminders",
            "ix_reminders_target",
            &["target_type", "target_id"],
        ))
        .await?;

        // ACT-5
        m.create_table(
            Table::create()
                .table("notifications")
                .col(uuid("id").primary_key())
                .col(uuid("user_id"))
                .col(string("kind"))
                .col(string("title"))
                .col(text("body"))
                .col(string_null("entity_type"))
                .col(uuid_null("entity_id"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("read_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_notifications_user")
                        .from("notifications", "user_id")
                        .to("users", "id"),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "notifications",
            "ix_notifications_inbox",
            &["user_id", "created_at", "id"],
        ))
        .await?;

        // ACT-4 comments; each also leaves a "commented" entry in the record's journal.
        m.create_table(
            Table::create()
                .table("comments")
                .col(uuid("id").primary_key())
                .col(string("entity_type"))
                .col(uuid("entity_id"))
                .col(uuid_null("author_id"))
                .col(text("text"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "comments",
            "ix_comments_entity",
            &["entity_type", "entity_id", "created_at"],
        ))
        .await?;

        // ACT-3 attachments; the bytes live in the file storage under `storage_key`.
        m.create_table(
            record_columns(
                Table::create()
                    .table("files")
                    .col(uuid("id").primary_key())
                    .col(string("entity_type"))
                    .col(uuid("entity_id"))
                    .col(uuid_null("company_id"))
                    .col(string("document_type"))
                    .col(string("file_name"))
                    .col(string("content_type"))
                    .col(big_integer("size_bytes"))
                    .col(string("sha256"))
                    .col(string("storage_key"))
                    .col(uuid("uploaded_by")),
            )
            .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_files_entity", &["entity_type", "entity_id"][..]),
            ("ix_files_company", &["company_id"]),
            ("ix_files_created", &["created_at", "id"]),
        ] {
            m.create_index(index("files", name, cols)).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "files",
            "comments",
            "notifications",
            "reminders",
            "calendar_event_participants",
            "calendar_events",
            "activity_time_entries",
            "activities",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
