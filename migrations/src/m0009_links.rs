//! Data-model debts paid, keeping every existing row:
//!
//! - a deal's contacts become a real link, `deal_contacts (deal_id, contact_id, position)`,
//!   instead of a JSON array in `deals.contact_ids` (which goes away; `contacts_revision`
//!   counts their changes so that the deal's version moves with them);
//! - the references between records that had no foreign key get one.
//!
//! On PostgreSQL a foreign key is added `NOT VALID`: it holds for every row written from now on,
//! while rows written before it (when references were not checked) stay as they are. SQLite
//! cannot add a constraint to a table, so each table is rebuilt with its constraints — the
//! documented procedure: foreign keys off, new table, copy, drop, rename, indexes again — in one
//! transaction; rows whose references dangle are kept there too.
//!
//! Polymorphic references (`entity_id`, `owner_id`, `subject_id`, `target_id`,
//! `document_id`, `record_id`) point at records of several tables and the journal
//! (`audit_records`, `domain_events`) must outlive what it describes: these carry no key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `(table, column, referenced table)`: every reference that gets a key.
pub const REFERENCES: &[(&str, &str, &str)] = &[
    ("activities", "author_id", "users"),
    ("calendar_events", "author_id", "users"),
    ("comments", "author_id", "users"),
    ("api_tokens", "user_id", "users"),
    ("refresh_tokens", "user_id", "users"),
    ("companies", "responsible_id", "users"),
    ("contacts", "responsible_id", "users"),
    ("deals", "responsible_id", "users"),
    ("deals", "company_id", "companies"),
    ("deals", "legal_entity_id", "legal_entities"),
    ("deal_stage_changes", "from_stage_id", "pipeline_stages"),
    ("deal_stage_changes", "to_stage_id", "pipeline_stages"),
    ("departments", "head_id", "users"),
    ("departments", "parent_id", "departments"),
    ("files", "company_id", "companies"),
    ("invoice_transitions", "invoice_id", "invoices"),
    ("invoices", "organization_id", "organizations"),
    ("invoices", "bank_account_id", "organization_bank_accounts"),
    ("invoices", "buyer_legal_entity_id", "legal_entities"),
    ("invoices", "deal_id", "deals"),
    ("invoices", "order_id", "orders"),
    ("invoices", "numbering_template_id", "numbering_templates"),
    ("invoices", "responsible_id", "users"),
    ("leads", "responsible_id", "users"),
    ("leads", "converted_company_id", "companies"),
    ("leads", "converted_contact_id", "contacts"),
    ("leads", "converted_deal_id", "deals"),
    ("leads", "import_id", "imports"),
    ("numbering_counters", "template_id", "numbering_templates"),
    ("numbering_templates", "organization_id", "organizations"),
    ("orders", "organization_id", "organizations"),
    ("orders", "deal_id", "deals"),
    ("orders", "legal_entity_id", "legal_entities"),
    ("orders", "contact_id", "contacts"),
    ("orders", "live_quote_id", "quotes"),
    ("orders", "responsible_id", "users"),
    ("payment_applications", "payment_id", "payments"),
    ("payment_applications", "invoice_id", "invoices"),
    ("payments", "organization_id", "organizations"),
    ("payments", "payer_legal_entity_id", "legal_entities"),
    ("quote_versions", "sent_to_contact_id", "contacts"),
    ("quotes", "organization_id", "organizations"),
    ("quotes", "deal_id", "deals"),
    ("quotes", "legal_entity_id", "legal_entities"),
    ("quotes", "contact_id", "contacts"),
    ("quotes", "responsible_id", "users"),
    ("reminders", "notification_id", "notifications"),
    ("supplier_invoice_files", "file_id", "files"),
    ("supplier_invoices", "head_id", "users"),
    ("supplier_invoices", "holder_id", "users"),
    ("supplier_invoices", "payer_id", "users"),
    ("tasks", "author_id", "users"),
    ("users", "department_id", "departments"),
    ("users", "deputy_id", "users"),
    ("users", "supervisor_id", "users"),
];

fn key_name(table: &str, column: &str) -> String {
    format!("fk_{table}_{}", column.trim_end_matches("_id"))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        m.create_table(
            Table::create()
                .table("deal_contacts")
                .col(uuid("deal_id"))
                .col(uuid("contact_id"))
                // The order the contacts were given in: the first is the deal's main contact.
                .col(integer("position"))
                .primary_key(Index::create().col("deal_id").col("contact_id"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_deal_contacts_deal")
                        .from("deal_contacts", "deal_id")
                        .to("deals", "id"),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_deal_contacts_contact")
                        .from("deal_contacts", "contact_id")
                        .to("contacts", "id"),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_deal_contacts_contact")
                .table("deal_contacts")
                .col("contact_id")
                .col("deal_id")
                .to_owned(),
        )
        .await?;
        // The deal's version moves with its contacts, as it does with its rows.
        m.alter_table(
            Table::alter()
                .table("deals")
                .add_column(integer("contacts_revision").default(0))
                .to_owned(),
        )
        .await?;
        move_deal_contacts(db).await?;
        match db.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared("ALTER TABLE deals DROP COLUMN contact_ids")
                    .await?;
                for (table, column, target) in REFERENCES {
                    db.execute_unprepared(&format!(
                        "ALTER TABLE {table} ADD CONSTRAINT {} FOREIGN KEY ({column}) \
                         REFERENCES {target} (id) NOT VALID",
                        key_name(table, column)
                    ))
                    .await?;
                }
            }
            _ => rebuild_sqlite_tables(db).await?,
        }
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "m0009 keeps every row but cannot be undone: restore from a backup".into(),
        ))
    }
}

/// Every deal's `contact_ids` array becomes rows of `deal_contacts`, in order. An id that names
/// no contact (references were not checked when it was written) cannot be a link; it is dropped
/// and counted in the log.
async fn move_deal_contacts(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id, contact_ids FROM deals",
        ))
        .await?;
    let mut dangling = 0usize;
    for row in rows {
        let deal: uuid::Uuid = row.try_get("", "id")?;
        let text: String = row.try_get("", "contact_ids")?;
        let ids: Vec<uuid::Uuid> = serde_json::from_str(&text).unwrap_or_default();
        let mut position = 0i32;
        for contact in ids {
            let exists = db
                .query_one_raw(Statement::from_sql_and_values(
                    backend,
                    numbered(backend, "SELECT 1 AS one FROM contacts WHERE id = $1"),
                    [contact.into()],
                ))
                .await?
                .is_some();
            if !exists {
                dangling += 1;
                continue;
            }
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                numbered(
                    backend,
                    "INSERT INTO deal_contacts (deal_id, contact_id, position) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                ),
                [deal.into(), contact.into(), position.into()],
            ))
            .await?;
            position += 1;
        }
    }
    if dangling > 0 {
        tracing::warn!(
            dangling,
            "deal contact ids naming no contact were not carried into deal_contacts"
        );
    }
    Ok(())
}

fn numbered(backend: DbBackend, sql: &str) -> String {
    if backend == DbBackend::Sqlite {
        sql.replace('$', "?")
    } else {
        sql.to_owned()
    }
}

/// Rebuilds each table that gets keys with its `CREATE TABLE` statement extended by them (and,
/// for `deals`, without `contact_ids`), copying every row and recreating its indexes.
async fn rebuild_sqlite_tables(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let backend = DbBackend::Sqlite;
    let mut tables: Vec<&str> = REFERENCES.iter().map(|(t, _, _)| *t).collect();
    tables.dedup();
    tables.sort_unstable();
    tables.dedup();
    // Keys are not checked while the tables are rebuilt (the procedure requires it; the pragma
    // has no effect inside a transaction, so it is set before BEGIN).
    db.execute_unprepared("PRAGMA foreign_keys = OFF").await?;
    db.execute_unprepared("BEGIN IMMEDIATE").await?;
    let result = async {
        for table in &tables {
            let create: String = db
                .query_one_raw(Statement::from_sql_and_values(
                    backend,
                    "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
                    [(*table).into()],
                ))
                .await?
                .ok_or_else(|| DbErr::Migration(format!("table {table} is missing")))?
                .try_get("", "sql")?;
            let indexes: Vec<String> = db
                .query_all_raw(Statement::from_sql_and_values(
                    backend,
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 \
                     AND sql IS NOT NULL",
                    [(*table).into()],
                ))
                .await?
                .iter()
                .filter_map(|r| r.try_get::<String>("", "sql").ok())
                .collect();
            let keys: Vec<String> = REFERENCES
                .iter()
                .filter(|(t, _, _)| t == table)
                .map(|(t, column, target)| {
                    format!(
                        "CONSTRAINT \"{}\" FOREIGN KEY (\"{column}\") REFERENCES \"{target}\" (\"id\")",
                        key_name(t, column)
                    )
                })
                .collect();
            let drop_contacts = *table == "deals";
            let new_sql = extend_create(&create, table, &keys, drop_contacts)?;
            let columns = table_columns(db, table).await?;
            let kept: Vec<&String> = columns
                .iter()
                .filter(|c| !(drop_contacts && c.as_str() == "contact_ids"))
                .collect();
            let list = kept
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ");
            db.execute_unprepared(&new_sql).await?;
            db.execute_unprepared(&format!(
                "INSERT INTO \"{table}__new\" ({list}) SELECT {list} FROM \"{table}\""
            ))
            .await?;
            db.execute_unprepared(&format!("DROP TABLE \"{table}\"")).await?;
            db.execute_unprepared(&format!(
                "ALTER TABLE \"{table}__new\" RENAME TO \"{table}\""
            ))
            .await?;
            for ix in indexes {
                db.execute_unprepared(&ix).await?;
            }
        }
        Ok::<(), DbErr>(())
    }
    .await;
    match result {
        Ok(()) => {
            db.execute_unprepared("COMMIT").await?;
        }
        Err(e) => {
            let _ = db.execute_unprepared("ROLLBACK").await;
            let _ = db.execute_unprepared("PRAGMA foreign_keys = ON").await;
            return Err(e);
        }
    }
    db.execute_unprepared("PRAGMA foreign_keys = ON").await?;
    Ok(())
}

async fn table_columns(
    db: &SchemaManagerConnection<'_>,
    table: &str,
) -> Result<Vec<String>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!("PRAGMA table_info(\"{table}\")"),
        ))
        .await?;
    rows.iter()
        .map(|r| r.try_get::<String>("", "name"))
        .collect()
}

/// The `CREATE TABLE` of `table` renamed to `{table}__new`, with `keys` appended to its
/// definitions and, when asked, without its `contact_ids` column.
fn extend_create(
    create: &str,
    table: &str,
    keys: &[String],
    drop_contacts: bool,
) -> Result<String, DbErr> {
    let open = create
        .find('(')
        .ok_or_else(|| DbErr::Migration(format!("cannot read the definition of {table}")))?;
    let close = create
        .rfind(')')
        .ok_or_else(|| DbErr::Migration(format!("cannot read the definition of {table}")))?;
    let mut body = create[open + 1..close].to_owned();
    if drop_contacts {
        body = split_definitions(&body)
            .into_iter()
            .filter(|d| {
                let d = d.trim_start();
                !(d.starts_with("\"contact_ids\"") || d.starts_with("contact_ids "))
            })
            .collect::<Vec<_>>()
            .join(",");
    }
    let mut defs = body;
    for k in keys {
        defs.push_str(", ");
        defs.push_str(k);
    }
    Ok(format!("CREATE TABLE \"{table}__new\" ({defs})"))
}

/// The comma-separated definitions of a `CREATE TABLE` body, commas inside parentheses kept.
fn split_definitions(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    for ch in body.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(ch);
    }
    out.push(current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contacts_column_goes_and_keys_are_appended() {
        let create = "CREATE TABLE \"deals\" ( \"id\" uuid NOT NULL PRIMARY KEY, \"contact_ids\" text NOT NULL, \"amount_minor\" bigint NOT NULL, CONSTRAINT \"fk_x\" FOREIGN KEY (\"pipeline_id\") REFERENCES \"pipelines\" (\"id\") )";
        let out = extend_create(
            create,
            "deals",
            &["CONSTRAINT \"fk_deals_company\" FOREIGN KEY (\"company_id\") REFERENCES \"companies\" (\"id\")".into()],
            true,
        )
        .unwrap();
        assert!(out.starts_with("CREATE TABLE \"deals__new\" ("));
        assert!(!out.contains("contact_ids"));
        assert!(out.contains("\"amount_minor\" bigint NOT NULL"));
        assert!(out.contains("REFERENCES \"pipelines\""));
        assert!(out.ends_with("REFERENCES \"companies\" (\"id\"))"));
    }

    #[test]
    fn every_reference_is_named_once() {
        let mut names: Vec<String> = REFERENCES.iter().map(|(t, c, _)| key_name(t, c)).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
