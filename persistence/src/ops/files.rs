//! `/files`: attachments (ACT-3). Uploads stream to a staging file (size limit enforced as the
//! bytes arrive, SHA-256 and content sniffing on the way), move into the file storage, and
//! only then is the metadata row committed; if that commit fails the stored bytes are
//! removed again. A deal's file also lands in its company's folder through `company_id`.
//!
//! A file is as visible as the record it hangs on (`access::ensure_visible`); a deal's file
//! takes the deal's company unless the uploader names one.

use super::access::ensure_visible;
use super::timeline::TimelineEntity;

use crate::attachments::{FileFilter, files_query, visible_files};
use crate::entity::{deal, file};
use crate::journal::now;
use crate::pagination::{CursorValue, SortKey, fetch_page};
use crate::records;
use chrono::{DateTime, Utc};
use sdelka_domain::files::{ContentVerdict, DocumentType, Sniffed, judge_content};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Caller, Db, Error, ErrorCode, ListPage, ListParams, OpResult, present};

pub const UPLOAD_PATH: &str = "/api/v1/files";

/// What a file is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileEntityType {
    Deal,
    Company,
    Contact,
    Lead,
    Invoice,
    Contract,
    Organization,
    /// A task or other activity.
    Activity,
    /// A supplier invoice of WF-INV: its file of each round and its closing documents.
    SupplierInvoice,
}

impl FileEntityType {
    pub const ALL: [FileEntityType; 9] = [
        FileEntityType::Deal,
        FileEntityType::Company,
        FileEntityType::Contact,
        FileEntityType::Lead,
        FileEntityType::Invoice,
        FileEntityType::Contract,
        FileEntityType::Organization,
        FileEntityType::Activity,
        FileEntityType::SupplierInvoice,
    ];

    pub fn parse(s: &str) -> Option<FileEntityType> {
        FileEntityType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The record type a file of this kind hangs on, for visibility checks.
    pub fn record(self) -> TimelineEntity {
        match self {
            FileEntityType::Deal => TimelineEntity::Deals,
            FileEntityType::Company => TimelineEntity::Companies,
            FileEntityType::Contact => TimelineEntity::Contacts,
            FileEntityType::Lead => TimelineEntity::Leads,
            FileEntityType::Invoice => TimelineEntity::Invoices,
            FileEntityType::Contract => TimelineEntity::Contracts,
            FileEntityType::Organization => TimelineEntity::Organizations,
            FileEntityType::Activity => TimelineEntity::Activities,
            FileEntityType::SupplierInvoice => TimelineEntity::SupplierInvoices,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FileEntityType::Deal => "deal",
            FileEntityType::Company => "company",
            FileEntityType::Contact => "contact",
            FileEntityType::Lead => "lead",
            FileEntityType::Invoice => "invoice",
            FileEntityType::Contract => "contract",
            FileEntityType::Organization => "organization",
            FileEntityType::Activity => "activity",
            FileEntityType::SupplierInvoice => "supplier_invoice",
        }
    }
}

/// The business meaning of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentTypeName {
    InvoiceScan,
    Contract,
    SignedScan,
    ClosingDocument,
    Other,
}

/// The multipart form of an upload.
#[derive(Debug, ToSchema)]
pub struct UploadFileForm {
    /// The file. If its part declares a Content-Type, the bytes must agree with it (PDF, PNG,
    /// JPEG, GIF, ZIP-based office documents and UTF-8 text are accepted).
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    pub entity_type: FileEntityType,
    pub entity_id: Uuid,
    pub document_type: DocumentTypeName,
    /// The company folder the file also belongs to; pass the deal's company for a deal file.
    pub company_id: Option<Uuid>,
}

/// The bytes of a file.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct FileContent(pub Vec<u8>);

/// An attached file's metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileView {
    pub id: Uuid,
    #[schema(value_type = FileEntityType)]
    pub entity_type: String,
    pub entity_id: Uuid,
    pub company_id: Option<Uuid>,
    #[schema(value_type = DocumentTypeName)]
    pub document_type: String,
    #[schema(example = "Счёт №17.pdf")]
    pub file_name: String,
    /// What the bytes are, as sniffed at upload.
    #[schema(example = "application/pdf")]
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    pub uploaded_by: Uuid,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&file::Model> for FileView {
    fn from(f: &file::Model) -> Self {
        FileView {
            id: f.id,
            entity_type: f.entity_type.clone(),
            entity_id: f.entity_id,
            company_id: f.company_id,
            document_type: f.document_type.clone(),
            file_name: f.file_name.clone(),
            content_type: f.content_type.clone(),
            size_bytes: f.size_bytes,
            sha256: f.sha256.clone(),
            uploaded_by: f.uploaded_by,
            version: f.version,
            created_at: f.created_at,
            updated_at: f.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileListFilter {
    /// With `entity_id`: the files of one record.
    #[param(inline)]
    pub entity_type: Option<FileEntityType>,
    pub entity_id: Option<Uuid>,
    /// A company's folder: files attached to it and files of its deals.
    pub company_id: Option<Uuid>,
    #[param(inline)]
    pub document_type: Option<DocumentTypeName>,
}

/// Reads a file's metadata if the caller may see it; else 404.
pub async fn visible_file<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> OpResult<file::Model> {
    let f = records::find::<file::Entity, _>(db, id).await?;
    // A file is as visible as the record it is attached to.
    let Some(owner) = FileEntityType::parse(&f.entity_type) else {
        return Err(Error::not_found());
    };
    ensure_visible(db, caller, owner.record(), f.entity_id, true).await?;
    Ok(f)
}

pub fn enum_to_str(d: DocumentTypeName) -> String {
    let domain = match d {
        DocumentTypeName::InvoiceScan => DocumentType::InvoiceScan,
        DocumentTypeName::Contract => DocumentType::Contract,
        DocumentTypeName::SignedScan => DocumentType::SignedScan,
        DocumentTypeName::ClosingDocument => DocumentType::ClosingDocument,
        DocumentTypeName::Other => DocumentType::Other,
    };
    domain.as_str().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Operations

fn public(f: &file::Model) -> serde_json::Value {
    present(&FileView::from(f))
}

/// A file already put into the file storage, to be recorded as attached to a record.
pub struct NewFile {
    pub entity_type: FileEntityType,
    pub entity_id: Uuid,
    pub document_type: DocumentTypeName,
    pub company_id: Option<Uuid>,
    /// The name, already cleaned.
    pub file_name: String,
    /// The part's own Content-Type, if it declared one.
    pub declared_content_type: Option<String>,
    /// What the first bytes showed.
    pub sniffed: Option<Sniffed>,
    pub size: u64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// Where the file storage keeps the bytes.
    pub storage_key: String,
}

/// Records a stored file as attached to a record the caller sees. The bytes decide the
/// content type (a contradicting declaration is refused); a company's file belongs to that
/// company's folder, a deal's file also to its company's. On refusal nothing is recorded and
/// the caller removes the stored bytes.
pub async fn record_file(db: Db<'_>, caller: &Caller, f: NewFile) -> OpResult<FileView> {
    if f.size == 0 {
        return Err(Error::field("file", "empty", "the file is empty"));
    }
    let content_type = match judge_content(f.sniffed, f.declared_content_type.as_deref()) {
        ContentVerdict::Accepted(ct) => ct,
        ContentVerdict::Unsupported => {
            return Err(Error::field(
                "file",
                "unsupported_content",
                "the file is none of PDF, PNG, JPEG, GIF, a ZIP-based office document or UTF-8 text",
            ));
        }
        ContentVerdict::Mismatch { declared, actual } => {
            return Err(Error::field(
                "file",
                "content_type_mismatch",
                format!("the part declares {declared} but the content is {actual}"),
            ));
        }
    };
    let mut company_id = f.company_id;
    if f.entity_type == FileEntityType::Company {
        if company_id.is_some_and(|c| c != f.entity_id) {
            return Err(Error::field(
                "company_id",
                "mismatch",
                "a company's file belongs to that company's folder",
            ));
        }
        company_id = Some(f.entity_id);
    }
    // The record the file is attached to must exist and be visible to the uploader.
    match ensure_visible(&db, caller, f.entity_type.record(), f.entity_id, false).await {
        Ok(()) => {}
        Err(e) if e.code == ErrorCode::NotFound => {
            return Err(Error::field(
                "entity_id",
                "not_found",
                format!("{} {} does not exist", f.entity_type.as_str(), f.entity_id),
            ));
        }
        Err(e) => return Err(e),
    }
    // A deal's file also lands in its company's folder.
    if f.entity_type == FileEntityType::Deal && company_id.is_none() {
        company_id = records::find::<deal::Entity, _>(&db, f.entity_id)
            .await?
            .company_id;
    }
    let at = now();
    let model = file::Model {
        id: Uuid::now_v7(),
        entity_type: f.entity_type.as_str().to_owned(),
        entity_id: f.entity_id,
        company_id,
        document_type: enum_to_str(f.document_type),
        file_name: f.file_name,
        content_type,
        size_bytes: i64::try_from(f.size).unwrap_or(i64::MAX),
        sha256: f.sha256,
        storage_key: f.storage_key,
        uploaded_by: caller.user_id,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let txn = db.begin().await?;
    let saved = records::create::<file::Entity, _>(&txn, &caller.actor(), model, public).await?;
    txn.commit().await?;
    Ok(FileView::from(&saved))
}

/// Files of one record (`entity_type` + `entity_id`) or a company's folder, as far as the
/// caller may see them, a page at a time.
pub async fn list_files(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
    f: FileListFilter,
) -> OpResult<ListPage<FileView>> {
    let sorts = [
        SortKey::<file::Entity> {
            name: "created_at",
            column: file::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey::<file::Entity> {
            name: "file_name",
            column: file::Column::FileName,
            key: |m| CursorValue::Text(m.file_name.clone()),
        },
    ];
    let req = page.page_request(&sorts, "created_at")?;
    let query = files_query(&FileFilter {
        entity_type: f.entity_type.map(|t| t.as_str().to_owned()),
        entity_id: f.entity_id,
        company_id: f.company_id,
        document_type: f.document_type.map(enum_to_str),
        updated_since: page.updated_since,
    });
    // A supplier invoice's folder is as visible as the invoice (pools and holders, not the
    // responsible-based scope the other records use).
    let query = match (f.entity_type, f.entity_id) {
        (Some(FileEntityType::SupplierInvoice), Some(id)) => {
            ensure_visible(&db, caller, TimelineEntity::SupplierInvoices, id, true).await?;
            query
        }
        _ => visible_files(query, &caller.visibility(&db).await?),
    };
    let page = fetch_page(&db, query, req, file::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |m| FileView::from(m)))
}

/// A file's metadata, if the caller may see it.
pub async fn get_file(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<FileView> {
    let f = visible_file(&db, caller, id).await?;
    Ok(FileView::from(&f))
}

/// A visible file's metadata and where the file storage keeps its bytes.
pub struct StoredFile {
    pub file: FileView,
    pub storage_key: String,
}

/// The file the caller wants to download, if he may see it; reading the bytes is the file
/// storage's job.
pub async fn open_file(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<StoredFile> {
    let f = visible_file(&db, caller, id).await?;
    Ok(StoredFile {
        file: FileView::from(&f),
        storage_key: f.storage_key,
    })
}

/// Deletes a file (the uploader or an admin); the record stays for the audit trail.
pub async fn delete_file(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
) -> OpResult<()> {
    let txn = db.begin().await?;
    let f = visible_file(&txn, caller, id).await?;
    if f.uploaded_by != caller.user_id && !caller.is_admin() {
        return Err(Error::forbidden(
            "only the uploader or an admin may delete a file",
        ));
    }
    records::soft_delete::<file::Entity, _>(&txn, &caller.actor(), id, if_match, public).await?;
    txn.commit().await?;
    Ok(())
}
