//! The shared model of human work (SPEC §3) and WF-INV supplier-invoice approval.
//!
//! `tasks` is the one inbox: a task is assigned to a user, a role or a pool, whatever created
//! it (a workflow step, an activity of type task). `approval_steps` groups tasks under a
//! completion rule with a due time, for contract routes and process templates; WF-INV uses a
//! "first one decides" step per decision round. `subject_type`/`subject_id` point at records
//! of several tables and carry no foreign key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::common::{index, record_columns};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(
    name: &str,
    from: (&'static str, &'static str),
    to: &'static str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to, "id")
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Pools per own organisation: `decision_makers` and `accountants` (WF-INV-2, WF-INV-4).
        m.create_table(
            record_columns(
                Table::create()
                    .table("pools")
                    .col(uuid("id").primary_key())
                    .col(uuid("organization_id"))
                    .col(string("kind"))
                    .col(string("name")),
            )
            .foreign_key(&mut fk(
                "fk_pools_organization",
                ("pools", "organization_id"),
                "organizations",
            ))
            .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "pools",
                "ux_pools_organization_kind",
                &["organization_id", "kind"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("pool_members")
                .col(uuid("pool_id"))
                .col(uuid("user_id"))
                .primary_key(Index::create().col("pool_id").col("user_id"))
                .foreign_key(&mut fk(
                    "fk_pool_members_pool",
                    ("pool_members", "pool_id"),
                    "pools",
                ))
                .foreign_key(&mut fk(
                    "fk_pool_members_user",
                    ("pool_members", "user_id"),
                    "users",
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index("pool_members", "ix_pool_members_user", &["user_id"]))
            .await?;

        // A step of a route: its tasks complete it by `completion_rule` (`all`, `quorum` with
        // `quorum`, `first`); due times remind and then escalate (WF-CON-2/3, WF-BP-2).
        m.create_table(
            record_columns(
                Table::create()
                    .table("approval_steps")
                    .col(uuid("id").primary_key())
                    .col(string("subject_type"))
                    .col(uuid("subject_id"))
                    .col(integer("round"))
                    .col(integer("position"))
                    .col(string("name"))
                    .col(string("completion_rule"))
                    .col(integer_null("quorum"))
                    .col(string("state"))
                    .col(string_null("outcome"))
                    .col(timestamp_with_time_zone_null("due_at"))
                    .col(integer_null("remind_before_minutes"))
                    .col(integer_null("escalate_after_minutes"))
                    .col(timestamp_with_time_zone_null("started_at"))
                    .col(timestamp_with_time_zone_null("finished_at")),
            )
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "approval_steps",
            "ix_approval_steps_subject",
            &["subject_type", "subject_id", "round", "position"],
        ))
        .await?;

        // The inbox. Exactly one of assignee_user_id / assignee_role / assignee_pool_id is set.
        m.create_table(
            record_columns(
                Table::create()
                    .table("tasks")
                    .col(uuid("id").primary_key())
                    .col(string("kind"))
                    .col(string("title"))
                    .col(text_null("description"))
                    .col(string_null("subject_type"))
                    .col(uuid_null("subject_id"))
                    .col(uuid_null("step_id"))
                    .col(uuid_null("assignee_user_id"))
                    .col(string_null("assignee_role"))
                    .col(uuid_null("assignee_pool_id"))
                    .col(string("state"))
                    .col(uuid_null("claimed_by"))
                    .col(timestamp_with_time_zone_null("claimed_at"))
                    // Comma-separated outcomes the task offers.
                    .col(string("outcomes"))
                    .col(string_null("outcome"))
                    .col(text_null("comment"))
                    .col(uuid_null("completed_by"))
                    .col(timestamp_with_time_zone_null("completed_at"))
                    .col(uuid_null("delegated_from"))
                    .col(timestamp_with_time_zone_null("due_at"))
                    .col(timestamp_with_time_zone_null("reminded_at"))
                    .col(timestamp_with_time_zone_null("escalated_at"))
                    .col(uuid_null("author_id")),
            )
            .foreign_key(&mut fk(
                "fk_tasks_step",
                ("tasks", "step_id"),
                "approval_steps",
            ))
            .foreign_key(&mut fk(
                "fk_tasks_assignee_user",
                ("tasks", "assignee_user_id"),
                "users",
            ))
            .foreign_key(&mut fk(
                "fk_tasks_assignee_pool",
                ("tasks", "assignee_pool_id"),
                "pools",
            ))
            .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_tasks_assignee_user", &["assignee_user_id", "state"][..]),
            ("ix_tasks_assignee_pool", &["assignee_pool_id", "state"]),
            ("ix_tasks_claimed_by", &["claimed_by", "state"]),
            ("ix_tasks_subject", &["subject_type", "subject_id"]),
            ("ix_tasks_created", &["created_at", "id"]),
            ("ix_tasks_updated", &["updated_at", "id"]),
            ("ix_tasks_due", &["state", "due_at"]),
        ] {
            m.create_index(index("tasks", name, cols)).await?;
        }

        // WF-INV-1. `holder_id` is whom the state names (the head who took it, the paying
        // accountant); `head_id` the decision maker of the latest round, kept after it.
        m.create_table(
            record_columns(
                Table::create()
                    .table("supplier_invoices")
                    .col(uuid("id").primary_key())
                    .col(uuid("organization_id"))
                    .col(uuid("supplier_legal_entity_id"))
                    .col(string("supplier_name"))
                    .col(string("supplier_email"))
                    .col(string("number"))
                    .col(date("invoice_date"))
                    .col(big_integer("amount_kopecks"))
                    .col(big_integer_null("vat_kopecks"))
                    .col(string("currency"))
                    .col(date_null("due_date"))
                    .col(text_null("description"))
                    .col(uuid("initiator_id"))
                    .col(string("state"))
                    .col(uuid_null("holder_id"))
                    .col(timestamp_with_time_zone("state_since"))
                    .col(integer("round").default(1))
                    .col(uuid_null("head_id"))
                    .col(uuid_null("payer_id"))
                    .col(date_null("paid_on"))
                    .col(big_integer_null("paid_amount_kopecks"))
                    .col(string_null("payment_order_number"))
                    .col(text_null("cancel_reason"))
                    .col(string("search_text")),
            )
            .foreign_key(&mut fk(
                "fk_supplier_invoices_organization",
                ("supplier_invoices", "organization_id"),
                "organizations",
            ))
            .foreign_key(&mut fk(
                "fk_supplier_invoices_supplier",
                ("supplier_invoices", "supplier_legal_entity_id"),
                "legal_entities",
            ))
            .foreign_key(&mut fk(
                "fk_supplier_invoices_initiator",
                ("supplier_invoices", "initiator_id"),
                "users",
            ))
            .to_owned(),
        )
        .await?;
        for (name, cols) in [
            (
                "ix_supplier_invoices_state",
                &["organization_id", "state"][..],
            ),
            ("ix_supplier_invoices_initiator", &["initiator_id"]),
            ("ix_supplier_invoices_holder", &["holder_id"]),
            ("ix_supplier_invoices_created", &["created_at", "id"]),
            ("ix_supplier_invoices_updated", &["updated_at", "id"]),
        ] {
            m.create_index(index("supplier_invoices", name, cols))
                .await?;
        }

        // Every transition with actor, time and comment; every round stays.
        m.create_table(
            Table::create()
                .table("supplier_invoice_transitions")
                .col(uuid("id").primary_key())
                .col(uuid("invoice_id"))
                .col(integer("round"))
                .col(string("action"))
                .col(string_null("from_state"))
                .col(string("to_state"))
                .col(uuid_null("actor_id"))
                .col(text_null("comment"))
                .col(text_null("details"))
                .col(timestamp_with_time_zone("occurred_at"))
                .foreign_key(&mut fk(
                    "fk_supplier_invoice_transitions_invoice",
                    ("supplier_invoice_transitions", "invoice_id"),
                    "supplier_invoices",
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "supplier_invoice_transitions",
            "ix_supplier_invoice_transitions_invoice",
            &["invoice_id", "occurred_at"],
        ))
        .await?;

        // Which files belong to which round: the invoice file of each round, the closing
        // documents. The bytes and metadata are the ordinary `files` rows.
        m.create_table(
            Table::create()
                .table("supplier_invoice_files")
                .col(uuid("invoice_id"))
                .col(uuid("file_id"))
                .col(integer("round"))
                .col(string("purpose"))
                .primary_key(Index::create().col("invoice_id").col("file_id"))
                .foreign_key(&mut fk(
                    "fk_supplier_invoice_files_invoice",
                    ("supplier_invoice_files", "invoice_id"),
                    "supplier_invoices",
                ))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "supplier_invoice_files",
            "supplier_invoice_transitions",
            "supplier_invoices",
            "tasks",
            "approval_steps",
            "pool_members",
            "pools",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
