use sea_orm::entity::prelude::*;

/// DOC-1: one version of a quote, with its own status; its rows are `product_rows` of
/// document type `quote_version`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "quote_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub quote_id: Uuid,
    /// 1, 2, 3 … within the quote.
    pub number: i32,
    pub status: String,
    pub valid_until: Option<Date>,
    pub net_minor: i64,
    pub vat_minor: i64,
    pub total_minor: i64,
    /// What changed in this version (the client's feedback it answers).
    pub comment: Option<String>,
    pub sent_at: Option<DateTimeUtc>,
    pub sent_to_contact_id: Option<Uuid>,
    pub sent_to_email: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    pub reject_reason: Option<String>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
