use sea_orm::entity::prelude::*;

/// One status change of an invoice: who, when, from, to, why.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "invoice_transitions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub from_status: Option<String>,
    pub to_status: String,
    pub action: String,
    pub actor_id: Option<Uuid>,
    pub comment: Option<String>,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
