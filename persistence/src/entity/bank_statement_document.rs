use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "bank_statement_documents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Account, number, date, amount and counterparty: unique.
    pub identity_key: String,
    /// The statement that first brought the document.
    pub statement_id: Uuid,
    pub position: i32,
    pub kind: String,
    /// incoming | outgoing | unknown
    pub direction: String,
    pub number: Option<String>,
    pub document_date: Option<Date>,
    pub amount_minor: i64,
    pub payer_inn: Option<String>,
    pub payer_name: Option<String>,
    pub recipient_inn: Option<String>,
    pub purpose: String,
    pub payment_id: Option<Uuid>,
    pub invoice_id: Option<Uuid>,
    pub supplier_invoice_id: Option<Uuid>,
    /// sure | unsure | none
    pub confidence: String,
    pub reason: Option<String>,
    /// none | pending | confirmed | rejected | applied
    pub review_status: String,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
