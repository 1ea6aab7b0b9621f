use sea_orm::entity::prelude::*;

/// An automation rule: trigger, conditions and actions as typed JSON (`domain::automation`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "automation_rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// The trigger's `type`, for finding the rules of an event by index.
    pub trigger_type: String,
    pub trigger: String,
    pub conditions: String,
    pub actions: String,
    /// JSON array of pipeline ids; NULL = every pipeline.
    pub pipeline_ids: Option<String>,
    pub enabled: bool,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
