//! WF-BP-5: the templates that ship with the product — the 1C:ERP-style sale, the cold-list
//! lead process, a document approval chain and a vacation approval chain — installed from the
//! domain's JSON definitions as templates with one draft version each. They are edited and
//! published like any other template; nothing starts until an admin publishes one (so an
//! installation decides when its deals begin to carry a process).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::{ChronoDateTimeUtc, ChronoUtc, Uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `(template id, version id, code, start mode, definition)`; fixed ids so a second run of
/// the migration on a racing instance is refused by the primary key.
const SHIPPED: [(u128, u128, &str, &str, &str); 4] = [
    (
        0x0193_0000_0000_7000_8000_0000_b9a0_0001,
        0x0193_0000_0000_7000_8000_0000_b9a1_0001,
        "sale",
        "on_create",
        include_str!("../../domain/src/process/templates/sale.json"),
    ),
    (
        0x0193_0000_0000_7000_8000_0000_b9a0_0002,
        0x0193_0000_0000_7000_8000_0000_b9a1_0002,
        "cold_lead",
        "on_create",
        include_str!("../../domain/src/process/templates/cold_lead.json"),
    ),
    (
        0x0193_0000_0000_7000_8000_0000_b9a0_0003,
        0x0193_0000_0000_7000_8000_0000_b9a1_0003,
        "document_approval",
        "on_change",
        include_str!("../../domain/src/process/templates/document_approval.json"),
    ),
    (
        0x0193_0000_0000_7000_8000_0000_b9a0_0004,
        0x0193_0000_0000_7000_8000_0000_b9a1_0004,
        "vacation_approval",
        "manual",
        include_str!("../../domain/src/process/templates/vacation_approval.json"),
    ),
];

fn now() -> ChronoDateTimeUtc {
    let t = ChronoUtc::now();
    ChronoDateTimeUtc::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let at = now();
        for (template_id, version_id, code, start_mode, definition) in SHIPPED {
            let parsed: serde_json::Value =
                serde_json::from_str(definition).map_err(|e| DbErr::Custom(e.to_string()))?;
            let name = parsed["name"].as_str().unwrap_or(code).to_owned();
            let entity_type = parsed["entity_type"].as_str().unwrap_or("deal").to_owned();
            let template = Query::insert()
                .into_table("process_templates")
                .columns([
                    "id",
                    "code",
                    "name",
                    "entity_type",
                    "start_mode",
                    "version",
                    "created_at",
                    "updated_at",
                ])
                .values([
                    Uuid::from_u128(template_id).into(),
                    code.into(),
                    name.into(),
                    entity_type.into(),
                    start_mode.into(),
                    1.into(),
                    at.into(),
                    at.into(),
                ])
                .map_err(|e| DbErr::Custom(e.to_string()))?
                .to_owned();
            db.execute(&template).await?;
            let version = Query::insert()
                .into_table("process_template_versions")
                .columns([
                    "id",
                    "template_id",
                    "number",
                    "state",
                    "definition",
                    "version",
                    "created_at",
                    "updated_at",
                ])
                .values([
                    Uuid::from_u128(version_id).into(),
                    Uuid::from_u128(template_id).into(),
                    1.into(),
                    "draft".into(),
                    parsed.to_string().into(),
                    1.into(),
                    at.into(),
                    at.into(),
                ])
                .map_err(|e| DbErr::Custom(e.to_string()))?
                .to_owned();
            db.execute(&version).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for (template_id, _, _, _, _) in SHIPPED {
            let del = Query::delete()
                .from_table("process_template_versions")
                .and_where(Expr::col("template_id").eq(Uuid::from_u128(template_id)))
                .to_owned();
            db.execute(&del).await?;
            let del = Query::delete()
                .from_table("process_templates")
                .and_where(Expr::col("id").eq(Uuid::from_u128(template_id)))
                .to_owned();
            db.execute(&del).await?;
        }
        Ok(())
    }
}
