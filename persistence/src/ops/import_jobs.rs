//! INT-CSV: reading a CSV file into lead rows through a column mapping, checking every row,
//! and the background worker that runs a real import in batches.
//!
//! A real run is idempotent: each row gets an import key (its external id when one is mapped,
//! else a hash of its mapped values), stored with the lead under a unique index, so running
//! the same file again — or a file that repeats rows — creates nothing twice.

use std::collections::BTreeMap;

use crate::clients::{self, ExternalRef};
use crate::entity::{company, contact, import, lead};
use crate::{Actor, Store, StoreError, leads, records};
use sdelka_domain::lead::{LeadFields, LeadSource, ValidLeadFields, check_lead_fields};
use sdelka_domain::validation::{FieldViolation, Violations};
use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::Error;

/// What the rows of a file become.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    Leads,
    Companies,
    Contacts,
}

impl ImportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Leads => "leads",
            ImportKind::Companies => "companies",
            ImportKind::Contacts => "contacts",
        }
    }

    pub fn parse(s: &str) -> Option<ImportKind> {
        [
            ImportKind::Leads,
            ImportKind::Companies,
            ImportKind::Contacts,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Fields a CSV column can be mapped to.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            ImportKind::Leads => LEAD_FIELDS,
            ImportKind::Companies => COMPANY_FIELDS,
            ImportKind::Contacts => CONTACT_FIELDS,
        }
    }

    /// The record type of the journal and of external ids.
    pub fn record_type(self) -> &'static str {
        match self {
            ImportKind::Leads => "lead",
            ImportKind::Companies => "company",
            ImportKind::Contacts => "contact",
        }
    }
}

pub const COMPANY_FIELDS: &[&str] = &["name", "industry", "source", "tags", "external_id"];

pub const CONTACT_FIELDS: &[&str] = &[
    "full_name",
    "last_name",
    "first_name",
    "middle_name",
    "position",
    "phone",
    "email",
    "external_id",
];

/// Lead fields a CSV column can be mapped to.
pub const LEAD_FIELDS: &[&str] = &[
    "title",
    "company_name",
    "contact_name",
    "phone",
    "email",
    "inn",
    "address",
    "comment",
    "category",
    "potential_amount",
    "probability",
    "external_id",
];

/// One bad row: where and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RowError {
    /// Line in the file (the header is line 1).
    pub line: u64,
    /// The CSV column (header) the bad value came from, or the lead field when no column maps
    /// to it.
    pub column: String,
    pub reason: String,
}

/// A checked company row.
#[derive(Debug, Clone)]
pub struct CompanyRow {
    pub name: String,
    pub industry: Option<String>,
    pub source: Option<String>,
    pub tags: Vec<String>,
}

/// A checked contact row.
#[derive(Debug, Clone)]
pub struct ContactRow {
    pub last_name: String,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub position: Option<String>,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum RowRecord {
    Lead(ValidLeadFields),
    Company(CompanyRow),
    Contact(ContactRow),
}

/// A checked row ready to become a record.
pub struct GoodRow {
    pub line: u64,
    /// Identity of the row across runs: an external id of the record.
    pub key: ExternalRef,
    pub record: RowRecord,
}

pub struct ParsedFile {
    pub rows: Vec<GoodRow>,
    pub errors: Vec<RowError>,
    pub total: u64,
}

/// Picks `;` (Excel in Russian locales), tab or `,` by what the header line contains.
fn detect_delimiter(content: &str) -> u8 {
    let header = content.lines().next().unwrap_or("");
    [b';', b'\t', b',']
        .into_iter()
        .max_by_key(|d| header.bytes().filter(|b| b == d).count())
        .unwrap_or(b',')
}

/// Checks the mapping against the file's header: every mapped column must exist, every target
/// must be a lead field, and no field may be fed by two columns.
pub fn check_mapping(
    kind: ImportKind,
    content: &str,
    mapping: &BTreeMap<String, String>,
    delimiter: Option<u8>,
) -> Result<(Vec<String>, u8), Error> {
    let delimiter = delimiter.unwrap_or_else(|| detect_delimiter(content));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(content.trim_start_matches('\u{feff}').as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| {
            Error::field(
                "content",
                "invalid_csv",
                format!("the header line cannot be read: {e}"),
            )
        })?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut v = sdelka_domain::validation::Violations::new();
    let mut targets = BTreeMap::new();
    for (column, field) in mapping {
        let at = format!("mapping.{column}");
        if !headers.iter().any(|h| h == column) {
            v.push(sdelka_domain::validation::FieldViolation::new(
                at.clone(),
                "unknown_column",
                format!(
                    "the file has no column `{column}`; it has: {}",
                    headers.join(", ")
                ),
            ));
        }
        if !kind.fields().contains(&field.as_str()) {
            v.push(sdelka_domain::validation::FieldViolation::new(
                at.clone(),
                "unknown_field",
                format!(
                    "`{field}` is not a field of {}; one of: {}",
                    kind.as_str(),
                    kind.fields().join(", ")
                ),
            ));
        }
        if let Some(other) = targets.insert(field.clone(), column.clone()) {
            v.push(sdelka_domain::validation::FieldViolation::new(
                at,
                "duplicate_target",
                format!("`{field}` is already fed by column `{other}`"),
            ));
        }
    }
    if v.is_empty() {
        Ok((headers, delimiter))
    } else {
        Err(Error::validation(v))
    }
}

/// Reads and checks every row. Nothing is written.
pub fn parse_rows(
    kind: ImportKind,
    content: &str,
    mapping: &BTreeMap<String, String>,
    delimiter: Option<u8>,
) -> Result<ParsedFile, Error> {
    let (headers, delimiter) = check_mapping(kind, content, mapping, delimiter)?;
    let column_of: BTreeMap<&str, &str> = mapping
        .iter()
        .map(|(c, f)| (f.as_str(), c.as_str()))
        .collect();
    let index_of = |field: &str| -> Option<usize> {
        let column = column_of.get(field)?;
        headers.iter().position(|h| h == column)
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(content.trim_start_matches('\u{feff}').as_bytes());
    let mut out = ParsedFile {
        rows: Vec::new(),
        errors: Vec::new(),
        total: 0,
    };
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                out.total += 1;
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                out.errors.push(RowError {
                    line,
                    column: String::new(),
                    reason: format!("the line cannot be read as CSV: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        out.total += 1;
        let get = |field: &str| {
            index_of(field)
                .and_then(|i| record.get(i))
                .map(str::to_owned)
        };
        let checked = match kind {
            ImportKind::Leads => check_lead_fields(&lead_fields(&get)).map(RowRecord::Lead),
            ImportKind::Companies => check_company_row(&get).map(RowRecord::Company),
            ImportKind::Contacts => check_contact_row(&get).map(RowRecord::Contact),
        };
        match checked {
            Ok(record_value) => {
                let key = import_key(get("external_id"), mapping, &record, &headers);
                out.rows.push(GoodRow {
                    line,
                    key,
                    record: record_value,
                })
            }
            Err(violations) => {
                for f in violations.into_vec() {
                    out.errors.push(RowError {
                        line,
                        column: column_for(&column_of, &f.field),
                        reason: f.message,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// [`parse_rows`] on a blocking thread: reading 50 000 rows takes a while, and the async
/// workers serving requests must not wait for it. Gives the text back.
pub async fn parse_rows_apart(
    kind: ImportKind,
    content: String,
    mapping: BTreeMap<String, String>,
    delimiter: Option<u8>,
) -> Result<(ParsedFile, String), Error> {
    tokio::task::spawn_blocking(move || {
        parse_rows(kind, &content, &mapping, delimiter).map(|p| (p, content))
    })
    .await
    .map_err(|e| Error::internal(format!("reading the file failed: {e}")))?
}

/// The column to blame for a field's error. A missing title is blamed on the column it is
/// taken from when no column maps to it (the company, else the contact name).
fn column_for(column_of: &BTreeMap<&str, &str>, field: &str) -> String {
    let candidates: &[&str] = if field == "title" {
        &["title", "company_name", "contact_name"]
    } else {
        &[]
    };
    candidates
        .iter()
        .chain(std::iter::once(&field))
        .find_map(|f| column_of.get(f))
        .map(|c| (*c).to_owned())
        .unwrap_or_else(|| field.to_owned())
}

/// The identity of a row: the external id when one is mapped, else the hash of its mapped
/// values (a file that repeats a row, or runs twice, finds the row's record by it).
fn import_key(
    external_id: Option<String>,
    mapping: &BTreeMap<String, String>,
    record: &csv::StringRecord,
    headers: &[String],
) -> ExternalRef {
    if let Some(ext) = external_id
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty())
    {
        return ExternalRef {
            source: "import".into(),
            id: ext,
        };
    }
    let mut h = Sha256::new();
    for (column, field) in mapping {
        let value = headers
            .iter()
            .position(|x| x == column)
            .and_then(|i| record.get(i))
            .unwrap_or("")
            .trim();
        h.update(field.as_bytes());
        h.update([0x1f]);
        h.update(value.as_bytes());
        h.update([0x1e]);
    }
    ExternalRef {
        source: "csv-row".into(),
        id: hex::encode(h.finalize()),
    }
}

fn lead_fields(get: &dyn Fn(&str) -> Option<String>) -> LeadFields {
    LeadFields {
        title: get("title"),
        company_name: get("company_name"),
        contact_name: get("contact_name"),
        phone: get("phone"),
        email: get("email"),
        inn: get("inn"),
        address: get("address"),
        comment: get("comment"),
        category: get("category"),
        potential_amount: get("potential_amount"),
        probability: get("probability"),
        external_id: get("external_id"),
    }
}

fn present(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn check_company_row(get: &dyn Fn(&str) -> Option<String>) -> Result<CompanyRow, Violations> {
    let mut v = Violations::new();
    let name = present(get("name"));
    match &name {
        None => v.push(FieldViolation::new(
            "name",
            "required",
            "a company needs a name",
        )),
        Some(n) if n.chars().count() > 500 => v.push(FieldViolation::new(
            "name",
            "too_long",
            "name is longer than 500 characters",
        )),
        Some(_) => {}
    }
    let tags: Vec<String> = present(get("tags"))
        .map(|t| {
            t.split([',', ';'])
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if tags
        .iter()
        .any(|t| t.chars().count() > 100 || t.contains('|'))
    {
        v.push(FieldViolation::new(
            "tags",
            "invalid_format",
            "a tag is 1 to 100 characters without '|'",
        ));
    }
    match name {
        Some(name) if v.is_empty() => Ok(CompanyRow {
            name,
            industry: present(get("industry")),
            source: present(get("source")).or_else(|| Some("import".into())),
            tags,
        }),
        _ => Err(v),
    }
}

fn check_contact_row(get: &dyn Fn(&str) -> Option<String>) -> Result<ContactRow, Violations> {
    use sdelka_domain::clients::Phone;
    use sdelka_domain::email::Email;
    let mut v = Violations::new();
    // Either the parts, or "Фамилия Имя Отчество" in one column.
    let mut last = present(get("last_name"));
    let mut first = present(get("first_name"));
    let mut middle = present(get("middle_name"));
    if let Some(full) = present(get("full_name")) {
        let mut parts = full.split_whitespace();
        last = last.or_else(|| parts.next().map(str::to_owned));
        first = first.or_else(|| parts.next().map(str::to_owned));
        let rest: Vec<&str> = parts.collect();
        middle = middle.or_else(|| (!rest.is_empty()).then(|| rest.join(" ")));
    }
    if last.is_none() {
        let field = if present(get("full_name")).is_some() {
            "full_name"
        } else {
            "last_name"
        };
        v.push(FieldViolation::new(
            field,
            "required",
            "a contact needs a last name",
        ));
    }
    let phones = present(get("phone"))
        .and_then(|p| v.check("phone", Phone::parse(&p)))
        .map(|p| vec![p.as_str().to_owned()])
        .unwrap_or_default();
    let emails = present(get("email"))
        .and_then(|e| v.check("email", Email::parse(&e)))
        .map(|e| vec![e.as_str().to_owned()])
        .unwrap_or_default();
    match last {
        Some(last_name) if v.is_empty() => Ok(ContactRow {
            last_name,
            first_name: first,
            middle_name: middle,
            position: present(get("position")),
            phones,
            emails,
        }),
        _ => Err(v),
    }
}

/// Which of `keys` exist already (earlier runs): a few queries of many keys each, rather than
/// one query per row — a file of 50 000 rows is checked in a hundred round trips.
pub async fn imported_keys<C: sea_orm::ConnectionTrait>(
    db: &C,
    kind: ImportKind,
    keys: &[&ExternalRef],
) -> Result<std::collections::HashSet<(String, String)>, StoreError> {
    use crate::entity::external_id;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    const CHUNK: usize = 500;
    let mut found = std::collections::HashSet::new();
    for chunk in keys.chunks(CHUNK) {
        match kind {
            ImportKind::Leads => {
                let by_lead_key: std::collections::HashMap<String, &ExternalRef> =
                    chunk.iter().map(|k| (lead_key(k), *k)).collect();
                let rows: Vec<Option<String>> = lead::Entity::find()
                    .select_only()
                    .column(lead::Column::ImportKey)
                    .filter(lead::Column::ImportKey.is_in(by_lead_key.keys().cloned()))
                    .into_tuple()
                    .all(db)
                    .await?;
                for k in rows.into_iter().flatten() {
                    if let Some(r) = by_lead_key.get(&k) {
                        found.insert((r.source.clone(), r.id.clone()));
                    }
                }
            }
            ImportKind::Companies | ImportKind::Contacts => {
                let rows: Vec<(String, String)> = external_id::Entity::find()
                    .select_only()
                    .column(external_id::Column::Source)
                    .column(external_id::Column::ExternalId)
                    .filter(external_id::Column::RecordType.eq(kind.record_type()))
                    // The key's columns in the key's order: an index range per source.
                    .filter(
                        external_id::Column::Source.is_in(
                            chunk
                                .iter()
                                .map(|k| k.source.clone())
                                .collect::<std::collections::BTreeSet<_>>(),
                        ),
                    )
                    .filter(
                        external_id::Column::ExternalId.is_in(chunk.iter().map(|k| k.id.clone())),
                    )
                    .into_tuple()
                    .all(db)
                    .await?;
                found.extend(rows);
            }
        }
    }
    Ok(found)
}

/// Leads keep their import key in a column of their own.
fn lead_key(key: &ExternalRef) -> String {
    if key.source == "import" {
        format!("lead:ext:{}", key.id)
    } else {
        format!("lead:{}", key.id)
    }
}

/// Why one row was not created.
enum Refused {
    /// Its record exists already (another run got there first).
    Duplicate,
    Row(String),
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate(_) => Refused::Duplicate,
            other => Refused::Store(other),
        }
    }
}

pub fn content_hash(content: &[u8]) -> String {
    hex::encode(Sha256::digest(content))
}

/// The state an import keeps between batches (stored in the `imports` row).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredMapping {
    pub mapping: BTreeMap<String, String>,
    pub delimiter: Option<u8>,
    pub responsible_id: Uuid,
    /// Where the file store keeps the uploaded file; absent for imports whose text was kept
    /// in the row itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_key: Option<String>,
    /// The encoding the file was read in (`UTF-8`, `windows-1251`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// Why an import's file could not be read.
enum Unreadable {
    /// For good (missing, or not in its encoding): the import fails.
    Gone(String),
    /// For now (the store did not answer): the import is tried again later.
    ForNow(String),
}

/// Where the runner reads an import's file from (and removes it once the import has run):
/// the same file store that keeps attachments, so that any instance can run any import.
#[async_trait::async_trait]
pub trait ImportFiles: Send + Sync {
    async fn read(&self, key: &str) -> std::io::Result<Vec<u8>>;
    async fn remove(&self, key: &str) -> std::io::Result<()>;
}

const LEASE_SECONDS: i64 = 120;
const BATCH: usize = 200;

/// Runs queued imports, one batch per [`ImportRunner::tick`]. Any instance may run it; a lease
/// keeps one import on one runner.
pub struct ImportRunner {
    pub store: Store,
    /// Names this runner in the import's lease.
    pub owner: String,
    pub files: std::sync::Arc<dyn ImportFiles>,
}

impl ImportRunner {
    /// The import's CSV text: from the file store (decoded in the encoding found at upload),
    /// or from the row for imports that kept it there.
    async fn text_of(
        &self,
        job: &import::Model,
        stored: &StoredMapping,
    ) -> Result<String, Unreadable> {
        let Some(key) = &stored.content_key else {
            return Ok(job.content.clone());
        };
        let bytes = self.files.read(key).await.map_err(|e| {
            let reason = format!("the uploaded file cannot be read from the file store: {e}");
            if e.kind() == std::io::ErrorKind::NotFound {
                Unreadable::Gone(reason)
            } else {
                Unreadable::ForNow(reason)
            }
        })?;
        sdelka_domain::text_encoding::decode(&bytes, stored.encoding.as_deref())
            .map(|d| d.text)
            .map_err(|e| Unreadable::Gone(e.to_string()))
    }

    /// The uploaded file is only needed to run the import.
    async fn remove_file(&self, stored: &StoredMapping) {
        if let Some(key) = &stored.content_key
            && let Err(e) = self.files.remove(key).await
        {
            tracing::warn!(error = %e, key, "could not remove the file of a finished import");
        }
    }

    async fn fail(&self, mut job: import::Model, reason: String) -> Result<bool, StoreError> {
        job.state = "failed".into();
        job.errors = serde_json::to_string(&[RowError {
            line: 0,
            column: String::new(),
            reason,
        }])
        .unwrap_or_else(|_| "[]".into());
        let lease = chrono::Duration::seconds(LEASE_SECONDS);
        leads::save_progress(&self.store.conn, &job, &self.owner, lease, true).await?;
        Ok(true)
    }

    /// Creates the record of one row with the row's import key.
    async fn create<C: sea_orm::ConnectionTrait>(
        &self,
        db: &C,
        actor: &Actor,
        job: &import::Model,
        stored: &StoredMapping,
        row: &GoodRow,
    ) -> Result<(), Refused> {
        let responsible = stored.responsible_id;
        match &row.record {
            RowRecord::Lead(fields) => {
                let model = super::leads::new_lead(fields.clone(), LeadSource::Import, responsible)
                    .map_err(|e| Refused::Row(e.detail))?;
                let model = lead::Model {
                    import_key: Some(lead_key(&row.key)),
                    import_id: Some(job.id),
                    ..model
                };
                records::create::<lead::Entity, _>(db, actor, model, records::snapshot).await?;
            }
            RowRecord::Company(c) => {
                let mut model = super::companies::new_company(
                    c.name.clone(),
                    responsible,
                    &[super::companies::CompanyType::Client],
                );
                model.industry = c.industry.clone();
                model.source = c.source.clone();
                model.external_ids =
                    super::clients::external_ids_json(std::slice::from_ref(&row.key));
                super::companies::set_tags(&mut model, c.tags.clone());
                let saved =
                    records::create::<company::Entity, _>(db, actor, model, records::snapshot)
                        .await?;
                clients::set_external_ids(db, "company", saved.id, std::slice::from_ref(&row.key))
                    .await?;
            }
            RowRecord::Contact(c) => {
                let mut model = super::contacts::new_contact(
                    c.last_name.clone(),
                    c.phones.clone(),
                    c.emails.clone(),
                    responsible,
                );
                model.first_name = c.first_name.clone();
                model.middle_name = c.middle_name.clone();
                model.position = c.position.clone();
                model.external_ids =
                    super::clients::external_ids_json(std::slice::from_ref(&row.key));
                super::contacts::refresh_search(&mut model);
                let saved =
                    records::create::<contact::Entity, _>(db, actor, model, records::snapshot)
                        .await?;
                clients::set_external_ids(db, "contact", saved.id, std::slice::from_ref(&row.key))
                    .await?;
            }
        }
        Ok(())
    }

    /// Claims one import and runs it to the end. Returns whether there was one.
    pub async fn tick(&self) -> Result<bool, StoreError> {
        let lease = chrono::Duration::seconds(LEASE_SECONDS);
        let Some(mut job) = leads::claim_import(&self.store.conn, &self.owner, lease).await? else {
            return Ok(false);
        };
        let stored: StoredMapping = match serde_json::from_str(&job.mapping) {
            Ok(s) => s,
            Err(e) => {
                return self
                    .fail(job, format!("the stored mapping cannot be read: {e}"))
                    .await;
            }
        };
        let Some(kind) = ImportKind::parse(&job.entity_type) else {
            return self.fail(job, "unknown import kind".into()).await;
        };
        let text = match self.text_of(&job, &stored).await {
            Ok(t) => t,
            Err(Unreadable::Gone(reason)) => return self.fail(job, reason).await,
            Err(Unreadable::ForNow(reason)) => {
                // The store may be back by the time the lease runs out and a runner (this
                // one or another) claims the import again.
                tracing::warn!(import_id = %job.id, reason, "import postponed");
                return Ok(false);
            }
        };
        let parsed = parse_rows_apart(kind, text, stored.mapping.clone(), stored.delimiter).await;
        let parsed = match parsed {
            Ok((p, _)) => p,
            Err(e) => {
                let failed = self.fail(job, e.detail).await;
                self.remove_file(&stored).await;
                return failed;
            }
        };
        let mut errors = parsed.errors;
        job.total_rows = parsed.total as i32;
        job.error_count = errors.len() as i32;
        let actor = Actor {
            user_id: Some(job.created_by),
            api_token_id: None,
            request_id: Some(format!("import:{}", job.id)),
        };
        let bad_rows = {
            let mut lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
            lines.dedup();
            lines.len() as i32
        };
        job.processed_rows = bad_rows;
        for batch in parsed.rows.chunks(BATCH) {
            let txn = self.store.begin().await?;
            let keys: Vec<&ExternalRef> = batch.iter().map(|r| &r.key).collect();
            let existing = imported_keys(&txn, kind, &keys).await?;
            for row in batch {
                if existing.contains(&(row.key.source.clone(), row.key.id.clone())) {
                    job.skipped_count += 1;
                    continue;
                }
                // A savepoint per row: a row another import inserted a moment ago (or a
                // duplicate external id) is skipped without losing the batch.
                let row_txn = txn.begin().await?;
                match self.create(&row_txn, &actor, &job, &stored, row).await {
                    Ok(()) => {
                        row_txn.commit().await?;
                        job.created_count += 1;
                    }
                    Err(Refused::Duplicate) => {
                        row_txn.rollback().await?;
                        job.skipped_count += 1;
                    }
                    Err(Refused::Row(reason)) => {
                        row_txn.rollback().await?;
                        errors.push(RowError {
                            line: row.line,
                            column: String::new(),
                            reason,
                        });
                    }
                    Err(Refused::Store(e)) => return Err(e),
                }
            }
            job.processed_rows += batch.len() as i32;
            job.error_count = errors.len() as i32;
            job.errors = serde_json::to_string(&errors).unwrap_or_else(|_| "[]".into());
            leads::save_progress(&txn, &job, &self.owner, lease, false).await?;
            txn.commit().await?;
        }
        job.state = "completed".into();
        job.processed_rows = job.total_rows;
        job.errors = serde_json::to_string(&errors).unwrap_or_else(|_| "[]".into());
        leads::save_progress(&self.store.conn, &job, &self.owner, lease, true).await?;
        self.remove_file(&stored).await;
        tracing::info!(import_id = %job.id, created = job.created_count, skipped = job.skipped_count, errors = job.error_count, "import finished");
        Ok(true)
    }
}

/// A new queued import row.
/// `content` is the CSV text kept in the row — empty when the file store keeps the file
/// (`stored.content_key`); `content_sha256` is the hash of the file's bytes as sent.
pub fn queued_import(
    entity_type: &str,
    content: String,
    content_sha256: String,
    stored: &StoredMapping,
    created_by: Uuid,
    total_rows: u64,
) -> import::Model {
    let at = crate::journal::now();
    import::Model {
        id: Uuid::now_v7(),
        entity_type: entity_type.to_owned(),
        state: "queued".into(),
        mapping: serde_json::to_string(stored).unwrap_or_default(),
        content_sha256,
        content,
        total_rows: total_rows as i32,
        processed_rows: 0,
        created_count: 0,
        skipped_count: 0,
        error_count: 0,
        errors: "[]".into(),
        created_by,
        lease_owner: None,
        lease_until: None,
        created_at: at,
        updated_at: at,
        finished_at: None,
    }
}
