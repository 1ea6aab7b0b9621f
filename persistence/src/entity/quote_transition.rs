use sea_orm::entity::prelude::*;

/// One status change of a quote version: who, when, from, to, why.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "quote_transitions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub quote_id: Uuid,
    pub version_number: i32,
    pub action: String,
    pub from_status: String,
    pub to_status: String,
    pub actor_id: Option<Uuid>,
    pub comment: Option<String>,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
