use sea_orm::entity::prelude::*;

/// WF-NUM-1: how the numbers of one document type of one own organisation are made.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "numbering_templates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organization_id: Uuid,
    /// `invoice`, `quote`, `order`, `contract`, `act`, `supplier_invoice`.
    pub document_type: String,
    /// `domain::numbering` syntax, e.g. `СЧ-{ORG}/{YY}{MM}-{N:5}`.
    pub template: String,
    /// `never`, `yearly`, `quarterly`, `monthly`, `daily`.
    pub reset: String,
    /// Uniqueness of the live template per organisation and type (see the migration).
    #[serde(skip_serializing)]
    pub live_key: Option<String>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
