use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "domain_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub id: Uuid,
    pub event_type: String,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub actor_id: Option<Uuid>,
    pub api_token_id: Option<Uuid>,
    pub correlation_id: Option<String>,
    pub payload: String,
    pub occurred_at: DateTimeUtc,
    /// The feed position, given after the event commits (`None` until then).
    pub position: Option<i64>,
    /// The responsible user of the record, as the event saw it.
    pub responsible_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
