use sea_orm::entity::prelude::*;

/// DOC-4: incoming money.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The receiving own organisation, when known.
    pub organization_id: Option<Uuid>,
    pub payment_date: Date,
    pub amount_minor: i64,
    /// Sum of the live applications; never above `amount_minor`.
    pub applied_minor: i64,
    pub currency: String,
    pub payer_legal_entity_id: Option<Uuid>,
    pub payer_name: Option<String>,
    pub payer_inn: Option<String>,
    /// The number of the payer's payment order ("платёжное поручение №").
    pub payment_order_number: Option<String>,
    pub purpose: Option<String>,
    pub created_by: Uuid,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
