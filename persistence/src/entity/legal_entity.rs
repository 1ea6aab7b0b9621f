use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "legal_entities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    /// `legal_entity`, `entrepreneur` or `individual`.
    pub kind: String,
    pub full_name: String,
    pub short_name: String,
    pub inn: String,
    pub kpp: Option<String>,
    pub ogrn: Option<String>,
    pub legal_address: Option<String>,
    pub postal_address: Option<String>,
    pub signatory_name: Option<String>,
    /// What the signatory acts on, e.g. `Устав` or a power of attorney.
    pub signatory_basis: Option<String>,
    pub external_ids: Json,
    /// Lower-cased names and INN.
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
