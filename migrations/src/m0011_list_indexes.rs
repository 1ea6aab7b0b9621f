//! Lists at a million records (API-3):
//!
//! - every sort of every list has its `(key, id)` index, which the keyset predicate
//!   `(key, id) > ($1, $2)` reads as one range, so a page deep in a list costs what the first
//!   one does (lists filtered by their parent — comments, the timeline — lead with it);
//! - on PostgreSQL the search text that `q=` matches with `LIKE '%…%'` gets a trigram GIN index
//!   (`pg_trgm`), so a rare word is found through the index instead of a scan of every row.
//!   SQLite keeps the scan: its trigram tokenizer only serves a separate FTS5 table, and the
//!   deployments SQLite is meant for hold thousands of records, not millions.
//!
//! A supplier invoice's `due_date` sort orders by the date with "no date" last, an expression;
//! its rows are few (one per incoming invoice), and it is left to the `state_since` and
//! `invoice_date` indexes' neighbours.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `(table, index, columns)` for the sorts that had no index of their own.
pub const SORT_INDEXES: &[(&str, &str, &[&str])] = &[
    ("activities", "ix_activities_subject", &["subject", "id"]),
    ("api_tokens", "ix_api_tokens_created", &["created_at", "id"]),
    ("api_tokens", "ix_api_tokens_name", &["name", "id"]),
    (
        "api_tokens",
        "ix_api_tokens_user",
        &["user_id", "created_at", "id"],
    ),
    (
        "audit_records",
        "ix_audit_records_timeline",
        &["entity_type", "entity_id", "occurred_at", "id"],
    ),
    (
        "automation_rules",
        "ix_automation_rules_updated",
        &["updated_at", "id"],
    ),
    (
        "calendar_events",
        "ix_calendar_events_starts",
        &["starts_at", "id"],
    ),
    (
        "comments",
        "ix_comments_thread",
        &["entity_type", "entity_id", "created_at", "id"],
    ),
    (
        "departments",
        "ix_departments_created",
        &["created_at", "id"],
    ),
    (
        "departments",
        "ix_departments_updated",
        &["updated_at", "id"],
    ),
    ("departments", "ix_departments_name", &["name", "id"]),
    ("files", "ix_files_file_name", &["file_name", "id"]),
    ("invoices", "ix_invoices_total", &["total_minor", "id"]),
    ("leads", "ix_leads_title", &["title", "id"]),
    (
        "numbering_templates",
        "ix_numbering_templates_updated",
        &["updated_at", "id"],
    ),
    ("payments", "ix_payments_updated", &["updated_at", "id"]),
    ("pipelines", "ix_pipelines_created", &["created_at", "id"]),
    ("pipelines", "ix_pipelines_updated", &["updated_at", "id"]),
    (
        "supplier_invoices",
        "ix_supplier_invoices_amount",
        &["amount_kopecks", "id"],
    ),
    (
        "supplier_invoices",
        "ix_supplier_invoices_date",
        &["invoice_date", "id"],
    ),
    (
        "supplier_invoices",
        "ix_supplier_invoices_state_since",
        &["state_since", "id"],
    ),
    ("tasks", "ix_tasks_title", &["title", "id"]),
    ("users", "ix_users_created", &["created_at", "id"]),
    ("users", "ix_users_name", &["name", "id"]),
    ("users", "ix_users_email_id", &["email", "id"]),
];

/// The tables whose lists take `q=`, matched against `search_text`.
pub const SEARCHED: &[&str] = &[
    "organizations",
    "companies",
    "legal_entities",
    "contacts",
    "products",
    "deals",
    "leads",
    "supplier_invoices",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, name, cols) in SORT_INDEXES {
            let mut idx = Index::create();
            idx.name(*name).table(*table).if_not_exists();
            for c in *cols {
                idx.col(*c);
            }
            m.create_index(idx.to_owned()).await?;
        }
        let db = m.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                .await?;
            for table in SEARCHED {
                db.execute_unprepared(&format!(
                    "CREATE INDEX IF NOT EXISTS ix_{table}_search_trgm ON {table} \
                     USING gin (search_text gin_trgm_ops)"
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            for table in SEARCHED {
                db.execute_unprepared(&format!("DROP INDEX IF EXISTS ix_{table}_search_trgm"))
                    .await?;
            }
        }
        for (table, name, _) in SORT_INDEXES {
            m.drop_index(Index::drop().name(*name).table(*table).to_owned())
                .await?;
        }
        Ok(())
    }
}
