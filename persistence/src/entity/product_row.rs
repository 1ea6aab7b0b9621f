use sea_orm::entity::prelude::*;

/// DEAL-3: a product row of a sales document (`document_type` `deal` for now).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "product_rows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub document_type: String,
    pub document_id: Uuid,
    pub product_id: Option<Uuid>,
    pub name: String,
    pub quantity_thousandths: i64,
    pub unit_code: String,
    pub unit_name: String,
    pub price_minor: i64,
    /// `percent` or `amount`.
    pub discount_kind: Option<String>,
    /// Hundredths of a percent, or kopecks.
    pub discount_value: Option<i64>,
    pub vat_rate: String,
    pub vat_included: bool,
    pub sum_minor: i64,
    pub discount_minor: i64,
    pub net_minor: i64,
    pub vat_minor: i64,
    pub total_minor: i64,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
