use sea_orm::entity::prelude::*;

/// DOC-1: a quote (commercial proposal). Status, validity and totals mirror its current
/// version.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "quotes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub deal_id: Uuid,
    /// The seller: one of the own organisations.
    pub organization_id: Uuid,
    pub legal_entity_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub responsible_id: Uuid,
    pub currency: String,
    /// WF-NUM number; none until the numbering templates give one.
    pub number: Option<String>,
    pub title: String,
    pub current_version: i32,
    pub status: String,
    pub valid_until: Option<Date>,
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
