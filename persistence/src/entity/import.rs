use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "imports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub entity_type: String,
    /// queued → running → completed | failed
    pub state: String,
    /// JSON object: CSV column header → field.
    pub mapping: String,
    /// The uploaded CSV text, kept until the import has run.
    #[serde(skip_serializing)]
    pub content: String,
    pub content_sha256: String,
    pub total_rows: i32,
    pub processed_rows: i32,
    pub created_count: i32,
    pub skipped_count: i32,
    pub error_count: i32,
    /// JSON array of `{line, column, reason}`.
    pub errors: String,
    pub created_by: Uuid,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
