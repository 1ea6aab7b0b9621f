use sea_orm::entity::prelude::*;

/// WF-BILL-1: the time of one completed task, billed into its deal once.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "task_billings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Unique: a task is billed at most once.
    pub task_id: Uuid,
    pub deal_id: Uuid,
    /// `update_first_row`, `add_as_product` or `add_as_row`: what was done.
    pub mode: String,
    pub minutes: i32,
    /// The hours billed, in thousandths.
    pub quantity_thousandths: i64,
    /// The hourly price of the row, kopecks.
    pub price_minor: i64,
    pub product_id: Option<Uuid>,
    /// The catalog product was created for this billing.
    pub product_created: bool,
    pub product_row_id: Uuid,
    pub billed_by: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
