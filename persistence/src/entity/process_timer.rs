use sea_orm::entity::prelude::*;

/// A process timer, claimed by lease when due.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "process_timers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub instance_id: Uuid,
    pub step_id: String,
    pub round: i32,
    /// `wait`, `timeout`, `remind`, `escalate:N`.
    pub purpose: String,
    pub due_at: DateTimeUtc,
    /// `pending`, `fired`, `cancelled`.
    pub state: String,
    pub attempts: i32,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub fired_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
