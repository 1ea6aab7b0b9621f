use sea_orm::entity::prelude::*;

/// ACT-2: a reminder on an activity or calendar event, `pending` until a worker fires it
/// (`fired`) or the target goes away (`cancelled`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "reminders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub target_type: String,
    pub target_id: Uuid,
    pub remind_at: DateTimeUtc,
    pub message: Option<String>,
    pub state: String,
    pub attempts: i32,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub fired_at: Option<DateTimeUtc>,
    pub notification_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
