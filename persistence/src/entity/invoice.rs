use sea_orm::entity::prelude::*;

/// DOC-3: a customer invoice ("счёт на оплату").
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "invoices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The seller: one of our own organisations.
    pub organization_id: Uuid,
    /// The seller's bank account printed on the form (default: the primary one).
    pub bank_account_id: Option<Uuid>,
    pub buyer_legal_entity_id: Uuid,
    pub deal_id: Option<Uuid>,
    /// DOC-2 order, wired later; not checked.
    pub order_id: Option<Uuid>,
    pub responsible_id: Uuid,
    /// `domain::customer_invoice::InvoiceStatus`.
    pub status: String,
    /// Taken on issue; kept when cancelled (a recorded void).
    pub number: Option<String>,
    pub numbering_template_id: Option<Uuid>,
    pub numbering_period: Option<String>,
    pub numbering_counter: Option<i64>,
    pub invoice_date: Date,
    pub due_date: Option<Date>,
    pub currency: String,
    pub net_minor: i64,
    pub vat_minor: i64,
    pub total_minor: i64,
    /// Sum of the live payment applications.
    pub paid_minor: i64,
    pub comment: Option<String>,
    pub issued_at: Option<DateTimeUtc>,
    pub cancelled_at: Option<DateTimeUtc>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
