use sea_orm::entity::prelude::*;

/// DOC-4: part of a payment applied to an invoice.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "payment_applications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub payment_id: Uuid,
    pub invoice_id: Uuid,
    pub amount_minor: i64,
    /// `payment:invoice` while applied, NULL once un-applied (see the migration).
    #[serde(skip_serializing)]
    pub live_key: Option<String>,
    pub applied_by: Option<Uuid>,
    pub applied_at: DateTimeUtc,
    pub unapplied_by: Option<Uuid>,
    pub unapplied_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
