//! Business processes (WF-BP-1..6): templates bound to an entity type, their versions (drafts
//! are edited, a published version is frozen with its checked definition), the running
//! instances with their serialized state and a version for compare-and-set, and what the
//! queries and reports read without parsing that state: one row per step and round, the link
//! of each inbox task to its (instance, step, round, participant), the timers claimed by
//! lease, and one row per action run, whose unique key makes an action run exactly once per
//! (instance, step, round) — the row and the action's writes commit together or not at all.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::common::{index, record_columns};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 7] = [
    "process_actions",
    "process_timers",
    "process_tasks",
    "process_steps",
    "process_instances",
    "process_template_versions",
    "process_templates",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            record_columns(
                Table::create()
                    .table("process_templates")
                    .col(uuid("id").primary_key())
                    .col(string_len("code", 100))
                    .col(string_len("name", 200))
                    .col(text_null("description"))
                    .col(string_len("entity_type", 40))
                    // `manual`, `on_create` (the entity type's default process), `on_change`.
                    .col(string_len("start_mode", 20))
                    .col(uuid_null("published_version_id")),
            )
            .to_owned(),
        )
        .await?;
        m.create_table(
            record_columns(
                Table::create()
                    .table("process_template_versions")
                    .col(uuid("id").primary_key())
                    .col(uuid("template_id"))
                    .col(integer("number"))
                    // `draft` or `published`.
                    .col(string_len("state", 20))
                    .col(text("definition"))
                    // The frozen form instances run on: the definition and the field schema
                    // it was checked against.
                    .col(text_null("stored"))
                    .col(timestamp_with_time_zone_null("published_at"))
                    .col(uuid_null("published_by")),
            )
            .to_owned(),
        )
        .await?;
        m.create_table(
            record_columns(
                Table::create()
                    .table("process_instances")
                    .col(uuid("id").primary_key())
                    .col(uuid("template_id"))
                    .col(uuid("template_version_id"))
                    .col(string_len("entity_type", 40))
                    .col(uuid("entity_id"))
                    // `running`, `completed`, `cancelled`.
                    .col(string_len("status", 20))
                    .col(text("state"))
                    .col(uuid_null("parent_instance_id"))
                    .col(string_len_null("parent_step", 64))
                    .col(integer_null("parent_round"))
                    .col(uuid_null("started_by"))
                    .col(timestamp_with_time_zone("started_at"))
                    .col(timestamp_with_time_zone_null("ended_at"))
                    .col(text_null("cancel_reason"))
                    .col(big_integer("cost_minor").default(0)),
            )
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("process_steps")
                .col(uuid("id").primary_key())
                .col(uuid("instance_id"))
                .col(uuid("template_id"))
                .col(string_len("step_id", 64))
                .col(integer("round"))
                .col(string_len("kind", 20))
                .col(string_len("status", 20))
                .col(timestamp_with_time_zone_null("started_at"))
                .col(timestamp_with_time_zone_null("finished_at"))
                .col(timestamp_with_time_zone_null("due_at"))
                .col(string_len_null("outcome", 64))
                .col(big_integer("cost_minor").default(0))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("process_tasks")
                .col(uuid("task_id").primary_key())
                .col(uuid("instance_id"))
                .col(string_len("step_id", 64))
                .col(integer("round"))
                .col(integer("participant"))
                // JSON: what completing needs, and the outcomes with their labels.
                .col(text("requires"))
                .col(text("outcomes"))
                .col(big_integer_null("cost_minor"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("process_timers")
                .col(uuid("id").primary_key())
                .col(uuid("instance_id"))
                .col(string_len("step_id", 64))
                .col(integer("round"))
                // `wait`, `timeout`, `remind`, `escalate:N`.
                .col(string_len("purpose", 40))
                .col(timestamp_with_time_zone("due_at"))
                // `pending`, `fired`, `cancelled`.
                .col(string_len("state", 20))
                .col(integer("attempts").default(0))
                .col(string_len_null("lease_owner", 200))
                .col(timestamp_with_time_zone_null("lease_until"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("fired_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("process_actions")
                .col(uuid("id").primary_key())
                .col(uuid("instance_id"))
                .col(string_len("step_id", 64))
                .col(integer("round"))
                .col(string_len("kind", 40))
                // `done` or `failed` (the process went on; `result` says why).
                .col(string_len("state", 20))
                .col(text_null("result"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        let unique: [(&'static str, &'static str, &[&'static str]); 5] = [
            (
                "process_template_versions",
                "ux_process_versions_number",
                &["template_id", "number"],
            ),
            (
                "process_steps",
                "ux_process_steps_round",
                &["instance_id", "step_id", "round"],
            ),
            (
                "process_tasks",
                "ux_process_tasks_key",
                &["instance_id", "step_id", "round", "participant"],
            ),
            (
                "process_timers",
                "ux_process_timers_key",
                &["instance_id", "step_id", "round", "purpose"],
            ),
            (
                "process_actions",
                "ux_process_actions_key",
                &["instance_id", "step_id", "round"],
            ),
        ];
        for (table, name, cols) in unique {
            m.create_index(index(table, name, cols).unique().to_owned())
                .await?;
        }
        let plain: [(&'static str, &'static str, &[&'static str]); 5] = [
            (
                "process_templates",
                "ix_process_templates_entity",
                &["entity_type", "start_mode"],
            ),
            ("process_templates", "ix_process_templates_code", &["code"]),
            (
                "process_instances",
                "ix_process_instances_entity",
                &["entity_type", "entity_id"],
            ),
            (
                "process_instances",
                "ix_process_instances_status",
                &["status"],
            ),
            (
                "process_timers",
                "ix_process_timers_due",
                &["state", "due_at"],
            ),
        ];
        for (table, name, cols) in plain {
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
