//! `/imports` (INT-CSV): the "large list of housing companies in a file" as leads, companies
//! or contacts.

use std::collections::BTreeMap;

use crate::clients::ExternalRef;
use crate::entity::import;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::import_jobs::{
    ImportKind, RowError, StoredMapping, imported_keys, parse_rows_apart, queued_import,
};
use super::{Caller, Db, Error, ListPage, ListParams, OpResult};
use crate::leads;
use crate::pagination::{CursorValue, SortKey, fetch_page};

pub const IMPORTS_PATH: &str = "/api/v1/imports";

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportEntity {
    Leads,
    Companies,
    Contacts,
}

impl From<ImportEntity> for ImportKind {
    fn from(e: ImportEntity) -> ImportKind {
        match e {
            ImportEntity::Leads => ImportKind::Leads,
            ImportEntity::Companies => ImportKind::Companies,
            ImportEntity::Contacts => ImportKind::Contacts,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartImport {
    /// What the rows become: leads, companies or contacts.
    pub entity: ImportEntity,
    /// The CSV text (UTF-8; a byte-order mark is ignored). The first line is the header.
    #[validate(length(min = 1))]
    pub content: String,
    /// CSV column header → field. Leads: title, company_name, contact_name, phone, email, inn,
    /// address, comment, category, potential_amount, probability, external_id. Companies:
    /// name, industry, source, tags (comma-separated), external_id. Contacts: full_name (or
    /// last_name, first_name, middle_name), position, phone, email, external_id.
    #[schema(example = json!({"Наименование": "company_name", "Телефон": "phone", "ИНН": "inn"}))]
    pub mapping: BTreeMap<String, String>,
    /// Check every row and report, writing nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// `;`, `,` or a tab; detected from the header line when absent.
    #[validate(length(equal = 1))]
    pub delimiter: Option<String>,
    /// Responsible of the created leads; default: the caller.
    pub responsible_id: Option<Uuid>,
}

impl StartImport {
    /// The settings, and the CSV text of the JSON form.
    pub fn into_parts(self) -> (ImportSettings, String) {
        (
            ImportSettings {
                entity: self.entity,
                mapping: self.mapping,
                dry_run: self.dry_run,
                delimiter: self.delimiter,
                responsible_id: self.responsible_id,
            },
            self.content,
        )
    }
}

/// How the rows of a file become records: everything `POST /imports` says besides the file,
/// whichever form (JSON, `text/csv`, multipart) it came in.
#[derive(Debug, Clone)]
pub struct ImportSettings {
    pub entity: ImportEntity,
    pub mapping: BTreeMap<String, String>,
    pub dry_run: bool,
    pub delimiter: Option<String>,
    pub responsible_id: Option<Uuid>,
}

/// The CSV file of an import, as received and decoded.
#[derive(Debug)]
pub struct ImportFile {
    /// The decoded text.
    pub text: String,
    /// The encoding it was read in (`UTF-8`, `windows-1251`, …).
    pub encoding: String,
    /// SHA-256 of the bytes as sent.
    pub sha256: String,
    /// Where the file store keeps the bytes (a real run); without one, the text is kept in
    /// the import's row.
    pub storage_key: Option<String>,
}

/// The CSV file itself (`text/csv`; the settings travel in the query string).
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct CsvBody(pub Vec<u8>);

/// The multipart form of an import (`multipart/form-data`).
#[derive(Debug, ToSchema)]
pub struct ImportForm {
    /// The CSV file. Its part's `Content-Type: text/csv; charset=…` names the encoding.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    pub entity: ImportEntity,
    /// JSON object: CSV column header → field (as in the JSON form).
    #[schema(example = json!("{\"Наименование\": \"company_name\", \"ИНН\": \"inn\"}"))]
    pub mapping: String,
    /// `true` to check and report only.
    pub dry_run: Option<bool>,
    /// `;`, `,` or a tab; detected from the header line when absent.
    pub delimiter: Option<String>,
    /// The file's encoding (`utf-8`, `windows-1251`); detected from the bytes when absent.
    pub charset: Option<String>,
    pub responsible_id: Option<Uuid>,
}

/// The outcome of a dry run: what a real run would do, row by row.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunReport {
    pub dry_run: bool,
    pub total_rows: u64,
    pub valid_rows: u64,
    /// Valid rows that are new.
    pub would_create: u64,
    /// Valid rows already imported before (or repeated in this file).
    pub would_skip: u64,
    /// Every bad row: line, column, reason.
    pub errors: Vec<RowError>,
}

/// A real import and its progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportView {
    pub id: Uuid,
    pub entity: String,
    /// queued → running → completed | failed
    #[schema(example = "running")]
    pub state: String,
    pub total_rows: i32,
    pub processed_rows: i32,
    pub created_count: i32,
    pub skipped_count: i32,
    pub error_count: i32,
    pub errors: Vec<RowError>,
    pub content_sha256: String,
    /// The encoding the file was read in (`UTF-8`, `windows-1251`, …).
    #[schema(example = "windows-1251")]
    pub encoding: Option<String>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<&import::Model> for ImportView {
    fn from(m: &import::Model) -> Self {
        ImportView {
            id: m.id,
            entity: m.entity_type.clone(),
            state: m.state.clone(),
            total_rows: m.total_rows,
            processed_rows: m.processed_rows,
            created_count: m.created_count,
            skipped_count: m.skipped_count,
            error_count: m.error_count,
            errors: serde_json::from_str(&m.errors).unwrap_or_default(),
            content_sha256: m.content_sha256.clone(),
            encoding: serde_json::from_str::<StoredMapping>(&m.mapping)
                .ok()
                .and_then(|s| s.encoding),
            created_by: m.created_by,
            created_at: m.created_at,
            finished_at: m.finished_at,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Operations

/// What starting an import gave: a dry run's report, or the queued job.
pub enum ImportStarted {
    DryRun(DryRunReport),
    Queued(ImportView),
}

/// Checks a CSV file and either reports on it (`dry_run`: nothing is written) or queues its
/// import for the background worker.
pub async fn start_import(
    db: Db<'_>,
    caller: &Caller,
    req: ImportSettings,
    file: ImportFile,
) -> OpResult<ImportStarted> {
    let delimiter = match req.delimiter.as_deref() {
        None => None,
        Some(";") => Some(b';'),
        Some(",") => Some(b','),
        Some("\t") => Some(b'\t'),
        Some(_) => {
            return Err(Error::field(
                "delimiter",
                "unknown_value",
                "delimiter is `;`, `,` or a tab",
            ));
        }
    };
    let kind = ImportKind::from(req.entity);
    let (parsed, text) = parse_rows_apart(kind, file.text, req.mapping.clone(), delimiter).await?;
    let responsible = req.responsible_id.unwrap_or(caller.user_id);
    if responsible != caller.user_id {
        let scope = caller.visibility(&db).await?;
        super::refs::responsible(&db, &scope, "responsible_id", responsible).await?;
    }
    if req.dry_run {
        let keys: Vec<&ExternalRef> = parsed.rows.iter().map(|r| &r.key).collect();
        let existing = imported_keys(&db, kind, &keys).await?;
        let mut seen = std::collections::HashSet::new();
        let mut would_skip = 0;
        for row in &parsed.rows {
            let key = (row.key.source.clone(), row.key.id.clone());
            if existing.contains(&key) || !seen.insert(key) {
                would_skip += 1;
            }
        }
        let valid = parsed.rows.len() as u64;
        return Ok(ImportStarted::DryRun(DryRunReport {
            dry_run: true,
            total_rows: parsed.total,
            valid_rows: valid,
            would_create: valid - would_skip,
            would_skip,
            errors: parsed.errors,
        }));
    }
    let total = parsed.total;
    drop(parsed);
    let in_row = if file.storage_key.is_some() {
        String::new()
    } else {
        text
    };
    let stored = StoredMapping {
        mapping: req.mapping,
        delimiter,
        responsible_id: responsible,
        content_key: file.storage_key,
        encoding: Some(file.encoding),
    };
    let job = queued_import(
        kind.as_str(),
        in_row,
        file.sha256,
        &stored,
        caller.user_id,
        total,
    );
    let txn = db.begin().await?;
    let job = leads::insert_import(&txn, job).await?;
    let view = ImportView::from(&job);
    let after = super::present(&view);
    crate::journal::record(
        &txn,
        &caller.actor(),
        crate::journal::Change {
            entity_type: "import",
            entity_id: job.id,
            action: "created",
            before: None,
            after: Some(&after),
            comment: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(ImportStarted::Queued(view))
}

/// An import's progress and outcome, for its creator and admins.
pub async fn get_import(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<ImportView> {
    let job = leads::get_import(&db, id)
        .await?
        .filter(|j| j.created_by == caller.user_id || caller.is_admin())
        .ok_or_else(Error::not_found)?;
    Ok(ImportView::from(&job))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportListFilter {
    /// queued, running, completed or failed.
    pub state: Option<String>,
    /// leads, companies or contacts.
    pub entity: Option<String>,
}

/// The imports the caller may see (his own; every import for admins), newest first by default.
pub async fn list_imports(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
    f: ImportListFilter,
) -> OpResult<ListPage<ImportView>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let sorts = [
        SortKey::<import::Entity> {
            name: "created_at",
            column: import::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey::<import::Entity> {
            name: "updated_at",
            column: import::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
    ];
    let req = page.page_request(&sorts, "-created_at")?;
    let mut query = import::Entity::find();
    if !caller.is_admin() {
        query = query.filter(import::Column::CreatedBy.eq(caller.user_id));
    }
    if let Some(state) = f.state.as_deref().filter(|s| !s.is_empty()) {
        if !["queued", "running", "completed", "failed"].contains(&state) {
            return Err(Error::field(
                "state",
                "unknown_value",
                "state is queued, running, completed or failed",
            ));
        }
        query = query.filter(import::Column::State.eq(state));
    }
    if let Some(entity) = f.entity.as_deref().filter(|s| !s.is_empty()) {
        if ImportKind::parse(entity).is_none() {
            return Err(Error::field(
                "entity",
                "unknown_value",
                "entity is leads, companies or contacts",
            ));
        }
        query = query.filter(import::Column::EntityType.eq(entity));
    }
    if let Some(since) = page.updated_since {
        query = query.filter(import::Column::UpdatedAt.gte(since));
    }
    let page = fetch_page(&db, query, req, import::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |m| ImportView::from(m)))
}
