use sea_orm::entity::prelude::*;

/// A running (or finished) process on one record.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "process_instances")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub template_id: Uuid,
    pub template_version_id: Uuid,
    pub entity_type: String,
    pub entity_id: Uuid,
    /// `running`, `completed`, `cancelled`.
    pub status: String,
    /// The serialized `InstanceState` of the domain.
    pub state: String,
    pub parent_instance_id: Option<Uuid>,
    pub parent_step: Option<String>,
    pub parent_round: Option<i32>,
    pub started_by: Option<Uuid>,
    pub started_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
    pub cancel_reason: Option<String>,
    pub cost_minor: i64,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
