use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub short_name: String,
    pub code: String,
    pub inn: String,
    pub kpp: Option<String>,
    pub ogrn: Option<String>,
    pub vat_payer: bool,
    pub legal_address: String,
    pub postal_address: Option<String>,
    pub director_name: Option<String>,
    pub chief_accountant_name: Option<String>,
    pub external_id: Option<String>,
    /// Lower-cased name, short name and INN: a case-insensitive search that behaves the same
    /// for Cyrillic on SQLite (whose LIKE folds ASCII only) and PostgreSQL.
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
