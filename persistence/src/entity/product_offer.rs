use sea_orm::entity::prelude::*;

/// INT-1C-1: an offer of 1C: a product or one of its characteristics.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "product_offers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub external_id: String,
    pub product_id: Uuid,
    pub name: Option<String>,
    pub article: Option<String>,
    /// Decimal text.
    pub quantity: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
