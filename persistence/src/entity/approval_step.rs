use sea_orm::entity::prelude::*;

/// A step of a route: tasks completed under a completion rule, with a due time.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "approval_steps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub subject_type: String,
    pub subject_id: Uuid,
    pub round: i32,
    pub position: i32,
    pub name: String,
    /// `all`, `quorum` (with `quorum`) or `first`.
    pub completion_rule: String,
    pub quorum: Option<i32>,
    /// `pending`, `active`, `approved`, `rejected`, `returned`, `skipped`.
    pub state: String,
    pub outcome: Option<String>,
    pub due_at: Option<DateTimeUtc>,
    pub remind_before_minutes: Option<i32>,
    pub escalate_after_minutes: Option<i32>,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
