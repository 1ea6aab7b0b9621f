use sea_orm::entity::prelude::*;

/// ACT-1: a task, call, meeting or email, optionally about a record of another area.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "activities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: String,
    pub owner_type: Option<String>,
    pub owner_id: Option<Uuid>,
    pub subject: String,
    pub description: Option<String>,
    pub responsible_id: Uuid,
    pub author_id: Uuid,
    pub deadline: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub result: Option<String>,
    pub call_direction: Option<String>,
    pub call_result: Option<String>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
