use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "companies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// `["client", "supplier"]`: a company may be several at once.
    pub types: Json,
    /// `|client|supplier|`, for the `type` filter.
    #[serde(skip_serializing)]
    pub type_index: String,
    pub industry: Option<String>,
    pub responsible_id: Uuid,
    pub source: Option<String>,
    pub tags: Json,
    /// `|tag one|tag two|` (lower-cased), for the `tag` filter.
    #[serde(skip_serializing)]
    pub tag_index: String,
    /// `[{"source": "1c", "id": "…"}]`; uniqueness is kept by the `external_ids` table.
    pub external_ids: Json,
    /// Lower-cased name: a case-insensitive search that behaves the same for Cyrillic on
    /// SQLite and PostgreSQL.
    #[serde(skip_serializing)]
    pub search_text: String,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
