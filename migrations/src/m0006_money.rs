//! Money documents: numbering templates and their counters (WF-NUM), customer invoices with
//! their status transitions (DOC-3), incoming payments and their application to invoices
//! (DOC-4), and automation rules (WF-PAY-1 is the first, seeded enabled here).
//!
//! Money is BIGINT kopecks, percentages BIGINT hundredths, as everywhere else.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::prelude::{ChronoDateTimeUtc, ChronoUtc, Uuid};

use crate::common::{index, record_columns};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The deal payment watcher (WF-PAY-1) ships as a rule with a fixed id, so that it can be
/// found, disabled or changed like any other rule, and a second seeding is refused by the key.
pub const PAYMENT_WATCHER_RULE_ID: Uuid =
    Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_a070_0001);

/// The watcher as stored: typed JSON that `domain::automation` parses.
const PAYMENT_WATCHER_TRIGGER: &str = r#"{"type":"deal_payment_percent_changed"}"#;
const PAYMENT_WATCHER_CONDITIONS: &str = "[]";
const PAYMENT_WATCHER_ACTIONS: &str = r#"[{"type":"notify_supervisor","email":true}]"#;

fn now() -> ChronoDateTimeUtc {
    let t = ChronoUtc::now();
    ChronoDateTimeUtc::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            record_columns(
                Table::create()
                    .table("numbering_templates")
                    .col(uuid("id").primary_key())
                    .col(uuid("organization_id"))
                    .col(string("document_type"))
                    .col(string("template"))
                    .col(string("reset"))
                    // `organization_id:document_type` while live, NULL once deleted: one live
                    // template per organisation and document type, enforced by the key.
                    .col(string_null("live_key")),
            )
            .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "numbering_templates",
                "ux_numbering_templates_live",
                &["live_key"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "numbering_templates",
            "ix_numbering_templates_created",
            &["created_at", "id"],
        ))
        .await?;

        // One row per template and period; its value is the last number taken. Incremented in
        // the issuing transaction, so a rolled-back issue gives its number back (gap-free), and
        // the row lock is held only until that transaction commits.
        m.create_table(
            Table::create()
                .table("numbering_counters")
                .col(uuid("template_id"))
                .col(string("period"))
                .col(big_integer("value"))
                .primary_key(Index::create().col("template_id").col("period"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            record_columns(
                Table::create()
                    .table("invoices")
                    .col(uuid("id").primary_key())
                    .col(uuid("organization_id"))
                    .col(uuid_null("bank_account_id"))
                    .col(uuid("buyer_legal_entity_id"))
                    .col(uuid_null("deal_id"))
                    // Wired to orders (DOC-2) later; no foreign key on purpose.
                    .col(uuid_null("order_id"))
                    .col(uuid("responsible_id"))
                    .col(string("status"))
                    .col(string_null("number"))
                    .col(uuid_null("numbering_template_id"))
                    .col(string_null("numbering_period"))
                    .col(big_integer_null("numbering_counter"))
                    .col(date("invoice_date"))
                    .col(date_null("due_date"))
                    .col(string("currency"))
                    .col(big_integer("net_minor").default(0))
                    .col(big_integer("vat_minor").default(0))
                    .col(big_integer("total_minor").default(0))
                    .col(big_integer("paid_minor").default(0))
                    .col(text_null("comment"))
                    .col(timestamp_with_time_zone_null("issued_at"))
                    .col(timestamp_with_time_zone_null("cancelled_at")),
            )
            .to_owned(),
        )
        .await?;
        // Belt and braces for WF-NUM-2: the counter already makes numbers unique; the key
        // makes a duplicate impossible even if a template were edited into an old pattern.
        m.create_index(
            index(
                "invoices",
                "ux_invoices_number",
                &["organization_id", "number"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "invoices",
            "ix_invoices_created",
            &["created_at", "id"],
        ))
        .await?;
        m.create_index(index(
            "invoices",
            "ix_invoices_updated",
            &["updated_at", "id"],
        ))
        .await?;
        m.create_index(index("invoices", "ix_invoices_deal", &["deal_id"]))
            .await?;
        m.create_index(index(
            "invoices",
            "ix_invoices_status",
            &["status", "due_date"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("invoice_transitions")
                .col(uuid("id").primary_key())
                .col(uuid("invoice_id"))
                .col(string_null("from_status"))
                .col(string("to_status"))
                .col(string("action"))
                .col(uuid_null("actor_id"))
                .col(text_null("comment"))
                .col(timestamp_with_time_zone("at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "invoice_transitions",
            "ix_invoice_transitions_invoice",
            &["invoice_id", "at"],
        ))
        .await?;

        m.create_table(
            record_columns(
                Table::create()
                    .table("payments")
                    .col(uuid("id").primary_key())
                    .col(uuid_null("organization_id"))
                    .col(date("payment_date"))
                    .col(big_integer("amount_minor"))
                    // Sum of the live applications; `applied_minor <= amount_minor` is kept by
                    // a conditional update, so concurrent applications cannot over-apply.
                    .col(big_integer("applied_minor").default(0))
                    .col(string("currency"))
                    .col(uuid_null("payer_legal_entity_id"))
                    .col(string_null("payer_name"))
                    .col(string_null("payer_inn"))
                    .col(string_null("payment_order_number"))
                    .col(text_null("purpose"))
                    .col(uuid("created_by")),
            )
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "payments",
            "ix_payments_created",
            &["created_at", "id"],
        ))
        .await?;
        m.create_index(index("payments", "ix_payments_date", &["payment_date"]))
            .await?;

        m.create_table(
            Table::create()
                .table("payment_applications")
                .col(uuid("id").primary_key())
                .col(uuid("payment_id"))
                .col(uuid("invoice_id"))
                .col(big_integer("amount_minor"))
                // `payment_id:invoice_id` while applied, NULL once un-applied: one live
                // application of a payment to an invoice.
                .col(string_null("live_key"))
                .col(uuid_null("applied_by"))
                .col(timestamp_with_time_zone("applied_at"))
                .col(uuid_null("unapplied_by"))
                .col(timestamp_with_time_zone_null("unapplied_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "payment_applications",
                "ux_payment_applications_live",
                &["live_key"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "payment_applications",
            "ix_payment_applications_payment",
            &["payment_id"],
        ))
        .await?;
        m.create_index(index(
            "payment_applications",
            "ix_payment_applications_invoice",
            &["invoice_id"],
        ))
        .await?;

        m.create_table(
            record_columns(
                Table::create()
                    .table("automation_rules")
                    .col(uuid("id").primary_key())
                    .col(string("name"))
                    .col(string("trigger_type"))
                    .col(text("trigger"))
                    .col(text("conditions"))
                    .col(text("actions"))
                    // JSON array of pipeline ids; NULL = every pipeline.
                    .col(text_null("pipeline_ids"))
                    .col(boolean("enabled")),
            )
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "automation_rules",
            "ix_automation_rules_trigger",
            &["trigger_type", "enabled"],
        ))
        .await?;
        m.create_index(index(
            "automation_rules",
            "ix_automation_rules_created",
            &["created_at", "id"],
        ))
        .await?;
        seed_payment_watcher(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "automation_rules",
            "payment_applications",
            "payments",
            "invoice_transitions",
            "invoices",
            "numbering_counters",
            "numbering_templates",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

async fn seed_payment_watcher(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let at = now();
    let rule = Query::insert()
        .into_table("automation_rules")
        .columns([
            "id",
            "name",
            "trigger_type",
            "trigger",
            "conditions",
            "actions",
            "enabled",
            "version",
            "created_at",
            "updated_at",
        ])
        .values([
            PAYMENT_WATCHER_RULE_ID.into(),
            "Контроль оплаты сделки".into(),
            "deal_payment_percent_changed".into(),
            PAYMENT_WATCHER_TRIGGER.into(),
            PAYMENT_WATCHER_CONDITIONS.into(),
            PAYMENT_WATCHER_ACTIONS.into(),
            true.into(),
            1.into(),
            at.into(),
            at.into(),
        ])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .to_owned();
    m.get_connection().execute(&rule).await?;
    Ok(())
}
