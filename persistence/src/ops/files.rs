//! `/files`: attachments (ACT-3). Uploads stream to a staging file (size limit enforced as the
//! bytes arrive, SHA-256 and content sniffing on the way), move into the file storage, and
//! only then is the metadata row committed; if that commit fails the stored bytes are
//! removed again. A deal's file also lands in its company's folder through `company_id`.
//!
//! A file is as visible as the record it hangs on (`access::ensure_visible`); a deal's file
//! takes the deal's company unless the uploader names one.

use super::access::ensure_visible;
use super::timeline::TimelineEntity;

use crate::entity::file;
use crate::records;
use chrono::{DateTime, Utc};
use sdelka_domain::files::DocumentType;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Caller;
use super::{Error, OpResult};

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
