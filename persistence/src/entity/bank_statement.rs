use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "bank_statements")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organization_id: Option<Uuid>,
    pub account: Option<String>,
    pub format_version: String,
    pub encoding: String,
    pub content_sha256: String,
    pub document_count: i32,
    /// JSON: balances, warnings and the per-document results.
    pub summary: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    /// `queued`, `running`, `completed` or `failed`.
    pub state: String,
    pub processed_documents: i32,
    /// The file (base64) until its job is done.
    #[serde(skip_serializing)]
    pub content: Option<String>,
    pub error: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
