use sea_orm::entity::prelude::*;

/// CAT-1: a product or service of the catalog.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "products")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// The trimmed name while the product is live (unique), NULL once deleted.
    #[serde(skip_serializing)]
    pub name_key: Option<String>,
    pub sku: Option<String>,
    /// OKEI code, e.g. `796`.
    pub unit_code: String,
    /// OKEI short name, e.g. `шт`.
    pub unit_name: String,
    /// Kopecks.
    pub base_price_minor: i64,
    pub currency: String,
    /// `22`, `20`, `10`, `0` or `none`.
    pub vat_rate: String,
    pub section: Option<String>,
    pub active: bool,
    pub external_id: Option<String>,
    /// Lower-cased name and SKU (Cyrillic-aware case-insensitive search on both backends).
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
