use sea_orm::entity::prelude::*;

/// DOC-2: an order, from an accepted quote or from a deal; its rows are `product_rows` of
/// document type `order`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub deal_id: Uuid,
    pub quote_id: Option<Uuid>,
    /// The accepted version of the quote the rows were copied from.
    pub quote_version: Option<i32>,
    /// `quote_id` while the order is not cancelled (one live order per quote).
    #[serde(skip_serializing)]
    pub live_quote_id: Option<Uuid>,
    pub organization_id: Uuid,
    pub legal_entity_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub responsible_id: Uuid,
    pub currency: String,
    /// WF-NUM number; none until the numbering templates give one.
    pub number: Option<String>,
    pub title: String,
    pub status: String,
    pub net_minor: i64,
    pub vat_minor: i64,
    pub total_minor: i64,
    pub advance_minor: i64,
    pub advance_percent_hundredths: Option<i64>,
    pub paid_minor: i64,
    pub confirmed_at: Option<DateTimeUtc>,
    pub cancel_reason: Option<String>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
