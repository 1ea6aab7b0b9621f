use sea_orm::entity::prelude::*;

/// DEAL-2: a deal.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "deals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub title: String,
    /// Lower-cased title (Cyrillic-aware case-insensitive search on both backends).
    #[serde(skip_serializing)]
    pub search_text: String,
    pub pipeline_id: Uuid,
    pub stage_id: Uuid,
    pub stage_changed_at: DateTimeUtc,
    /// Clients area (CRM-1..3); not checked here.
    pub company_id: Option<Uuid>,
    pub legal_entity_id: Option<Uuid>,
    pub responsible_id: Uuid,
    pub currency: String,
    /// Kopecks: the sum of the product rows, or the manual amount when there are none.
    pub amount_minor: i64,
    pub expected_close_date: Option<Date>,
    /// Sort key of `expected_close_date` (see the migration).
    #[serde(skip_serializing)]
    pub close_date_sort: String,
    pub loss_reason: Option<String>,
    pub order_number: Option<String>,
    /// JSON array of invoice numbers.
    pub invoice_numbers: String,
    pub payment_percent_hundredths: i64,
    pub source: Option<String>,
    pub external_id: Option<String>,
    /// Counts product-row changes (see the migration).
    pub rows_revision: i32,
    /// Counts changes of the deal's contacts (`deal_contacts`), so that the deal's version
    /// moves with them.
    pub contacts_revision: i32,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
