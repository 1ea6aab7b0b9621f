use sea_orm::entity::prelude::*;

/// WF-INV-1: a supplier's invoice on its way through approval and payment.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "supplier_invoices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organization_id: Uuid,
    pub supplier_legal_entity_id: Uuid,
    pub supplier_name: String,
    pub supplier_email: String,
    pub number: String,
    pub invoice_date: Date,
    pub amount_kopecks: i64,
    pub vat_kopecks: Option<i64>,
    pub currency: String,
    pub due_date: Option<Date>,
    pub description: Option<String>,
    pub initiator_id: Uuid,
    pub state: String,
    pub holder_id: Option<Uuid>,
    pub state_since: DateTimeUtc,
    pub round: i32,
    pub head_id: Option<Uuid>,
    pub payer_id: Option<Uuid>,
    pub paid_on: Option<Date>,
    pub paid_amount_kopecks: Option<i64>,
    pub payment_order_number: Option<String>,
    pub cancel_reason: Option<String>,
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
