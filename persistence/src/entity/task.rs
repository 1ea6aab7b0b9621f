use sea_orm::entity::prelude::*;

/// SPEC §3: one task of the shared inbox.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// What created it: `activity`, `supplier_invoice_decision`, …
    pub kind: String,
    pub title: String,
    pub description: Option<String>,
    pub subject_type: Option<String>,
    pub subject_id: Option<Uuid>,
    pub step_id: Option<Uuid>,
    pub assignee_user_id: Option<Uuid>,
    pub assignee_role: Option<String>,
    pub assignee_pool_id: Option<Uuid>,
    /// `open`, `claimed`, `completed`, `cancelled`.
    pub state: String,
    pub claimed_by: Option<Uuid>,
    pub claimed_at: Option<DateTimeUtc>,
    /// Comma-separated outcomes the task offers.
    pub outcomes: String,
    pub outcome: Option<String>,
    pub comment: Option<String>,
    pub completed_by: Option<Uuid>,
    pub completed_at: Option<DateTimeUtc>,
    pub delegated_from: Option<Uuid>,
    pub due_at: Option<DateTimeUtc>,
    /// WF-BILL-1: the minutes spent, given when the task is completed.
    pub time_spent_minutes: Option<i32>,
    pub reminded_at: Option<DateTimeUtc>,
    pub escalated_at: Option<DateTimeUtc>,
    pub author_id: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
