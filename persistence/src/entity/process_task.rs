use sea_orm::entity::prelude::*;

/// The link of an inbox task to the process step that opened it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "process_tasks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub task_id: Uuid,
    pub instance_id: Uuid,
    pub step_id: String,
    pub round: i32,
    pub participant: i32,
    /// JSON list of the step's requirements.
    pub requires: String,
    /// JSON list of the outcomes offered, with labels and verdicts.
    pub outcomes: String,
    pub cost_minor: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
