//! Sales: catalog (CAT-1), pipelines with stages (DEAL-1), deals with their stage history
//! (DEAL-2) and product rows (DEAL-3), plus the default pipeline "Продажи".
//!
//! Exact storage of numbers, the same on SQLite and PostgreSQL:
//! - money in BIGINT kopecks (`*_minor`): ±92 233 720 368 547 758.07, far beyond any deal;
//! - quantities in BIGINT thousandths (`quantity_thousandths`): the API allows three decimals
//!   (1.001 kg, 0.125 h) and a fixed scale keeps sums and comparisons exact in SQL, which a
//!   NUMERIC column would too on PostgreSQL but not on SQLite, where SeaORM's Decimal is REAL;
//! - percentages in BIGINT hundredths of a percent (`*_hundredths`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::common::{index, record_columns};
use sea_orm_migration::sea_orm::prelude::{ChronoDateTimeUtc, ChronoUtc, Uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The default pipeline and its stages have fixed ids: the migration inserts them once (the
/// migrations table and its advisory lock make sure), and the primary key refuses a second copy
/// should two instances ever race past that.
pub const DEFAULT_PIPELINE_ID: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_5a1e_0001);

const DEFAULT_STAGES: [(u128, &str, &str); 6] = [
    (0x0193_0000_0000_7000_8000_0000_5a1e_0101, "Новая", "open"),
    (
        0x0193_0000_0000_7000_8000_0000_5a1e_0102,
        "В работе",
        "open",
    ),
    (
        0x0193_0000_0000_7000_8000_0000_5a1e_0103,
        "Коммерческое предложение",
        "open",
    ),
    (
        0x0193_0000_0000_7000_8000_0000_5a1e_0104,
        "Счёт выставлен",
        "open",
    ),
    (0x0193_0000_0000_7000_8000_0000_5a1e_0105, "Успешно", "won"),
    (
        0x0193_0000_0000_7000_8000_0000_5a1e_0106,
        "Проиграна",
        "lost",
    ),
];

fn now() -> ChronoDateTimeUtc {
    let t = ChronoUtc::now();
    ChronoDateTimeUtc::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            record_columns(
                Table::create()
                    .table("products")
                    .col(uuid("id").primary_key())
                    .col(string("name"))
                    // The trimmed name of a live product; NULL once deleted, so that the name
                    // can be used again. Unique: find-or-create relies on it under races.
                    .col(string_null("name_key"))
                    .col(string_null("sku"))
                    .col(string("unit_code"))
                    .col(string("unit_name"))
                    .col(big_integer("base_price_minor"))
                    .col(string("currency"))
                    .col(string("vat_rate"))
                    .col(string_null("section"))
                    .col(boolean("active"))
                    .col(string_null("external_id"))
                    .col(string("search_text")),
            )
            .to_owned(),
        )
        .await?;
        m.create_index(
            index("products", "ux_products_name_key", &["name_key"])
                .unique()
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_products_name", &["name", "id"][..]),
            ("ix_products_created", &["created_at", "id"]),
            ("ix_products_updated", &["updated_at", "id"]),
            ("ix_products_sku", &["sku"]),
            ("ix_products_section", &["section", "created_at", "id"]),
        ] {
            m.create_index(index("products", name, cols)).await?;
        }

        m.create_table(
            record_columns(
                Table::create()
                    .table("pipelines")
                    .col(uuid("id").primary_key())
                    .col(string("name"))
                    .col(integer("sort").default(0))
                    .col(boolean("is_default").default(false)),
            )
            .to_owned(),
        )
        .await?;
        m.create_index(index("pipelines", "ix_pipelines_sort", &["sort", "id"]))
            .await?;

        m.create_table(
            record_columns(
                Table::create()
                    .table("pipeline_stages")
                    .col(uuid("id").primary_key())
                    .col(uuid("pipeline_id"))
                    .col(string("name"))
                    .col(string("kind"))
                    .col(integer("sort")),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_pipeline_stages_pipeline")
                    .from("pipeline_stages", "pipeline_id")
                    .to("pipelines", "id"),
            )
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "pipeline_stages",
            "ix_pipeline_stages_pipeline",
            &["pipeline_id", "sort", "id"],
        ))
        .await?;

        // company_id, legal_entity_id and contact_ids refer to the clients area (CRM-1..3),
        // whose tables are not part of this migration: plain UUIDs without foreign keys.
        m.create_table(
            record_columns(
                Table::create()
                    .table("deals")
                    .col(uuid("id").primary_key())
                    .col(string("title"))
                    .col(string("search_text"))
                    .col(uuid("pipeline_id"))
                    .col(uuid("stage_id"))
                    .col(timestamp_with_time_zone("stage_changed_at"))
                    .col(uuid_null("company_id"))
                    .col(uuid_null("legal_entity_id"))
                    // JSON array of UUIDs.
                    .col(text("contact_ids"))
                    .col(uuid("responsible_id"))
                    .col(string("currency"))
                    .col(big_integer("amount_minor"))
                    .col(date_null("expected_close_date"))
                    // `YYYY-MM-DD`, or `9999-12-31` when there is no date: a non-null key that
                    // keyset pagination can compare and that sorts dateless deals last.
                    .col(string("close_date_sort"))
                    .col(text_null("loss_reason"))
                    .col(string_null("order_number"))
                    // JSON array of strings.
                    .col(text("invoice_numbers"))
                    .col(big_integer("payment_percent_hundredths").default(0))
                    .col(string_null("source"))
                    .col(string_null("external_id"))
                    // Bumped by every product-row change, so that the deal's version moves
                    // with its rows even when the amount stays the same.
                    .col(integer("rows_revision").default(0)),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_deals_pipeline")
                    .from("deals", "pipeline_id")
                    .to("pipelines", "id"),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_deals_stage")
                    .from("deals", "stage_id")
                    .to("pipeline_stages", "id"),
            )
            .to_owned(),
        )
        .await?;
        // A page of 50 of 100 000 deals: every sort has its (key, id) index, and the filters a
        // manager's list starts with (responsible, pipeline, stage, company) lead an index
        // ordered by the default sort, so the first 50 rows are read in order, not sorted.
        for (name, cols) in [
            ("ix_deals_created", &["created_at", "id"][..]),
            ("ix_deals_updated", &["updated_at", "id"]),
            ("ix_deals_amount", &["amount_minor", "id"]),
            ("ix_deals_close", &["close_date_sort", "id"]),
            (
                "ix_deals_responsible",
                &["responsible_id", "created_at", "id"],
            ),
            ("ix_deals_pipeline", &["pipeline_id", "created_at", "id"]),
            ("ix_deals_stage", &["stage_id", "created_at", "id"]),
            ("ix_deals_company", &["company_id", "created_at", "id"]),
            ("ix_deals_external", &["external_id"]),
        ] {
            m.create_index(index("deals", name, cols)).await?;
        }

        m.create_table(
            Table::create()
                .table("deal_stage_changes")
                .col(uuid("id").primary_key())
                .col(uuid("deal_id"))
                .col(uuid_null("from_stage_id"))
                .col(uuid("to_stage_id"))
                .col(uuid_null("actor_id"))
                .col(timestamp_with_time_zone("changed_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_deal_stage_changes_deal")
                        .from("deal_stage_changes", "deal_id")
                        .to("deals", "id"),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "deal_stage_changes",
            "ix_deal_stage_changes_deal",
            &["deal_id", "changed_at", "id"],
        ))
        .await?;

        // Rows of any sales document: `document_type` is `deal` today, quotes, orders and
        // invoices later.
        m.create_table(
            record_columns(
                Table::create()
                    .table("product_rows")
                    .col(uuid("id").primary_key())
                    .col(string("document_type"))
                    .col(uuid("document_id"))
                    .col(uuid_null("product_id"))
                    .col(string("name"))
                    .col(big_integer("quantity_thousandths"))
                    .col(string("unit_code"))
                    .col(string("unit_name"))
                    .col(big_integer("price_minor"))
                    // `percent` (value in hundredths of a percent) or `amount` (kopecks).
                    .col(string_null("discount_kind"))
                    .col(big_integer_null("discount_value"))
                    .col(string("vat_rate"))
                    .col(boolean("vat_included"))
                    // Computed per line and stored, so that totals are sums in SQL.
                    .col(big_integer("sum_minor"))
                    .col(big_integer("discount_minor"))
                    .col(big_integer("net_minor"))
                    .col(big_integer("vat_minor"))
                    .col(big_integer("total_minor")),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_product_rows_product")
                    .from("product_rows", "product_id")
                    .to("products", "id"),
            )
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "product_rows",
            "ix_product_rows_document",
            &["document_type", "document_id", "id"],
        ))
        .await?;

        seed_default_pipeline(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "product_rows",
            "deal_stage_changes",
            "deals",
            "pipeline_stages",
            "pipelines",
            "products",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

async fn seed_default_pipeline(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let at = now();
    let db = m.get_connection();
    let pipeline = Query::insert()
        .into_table("pipelines")
        .columns([
            "id",
            "name",
            "sort",
            "is_default",
            "version",
            "created_at",
            "updated_at",
        ])
        .values([
            DEFAULT_PIPELINE_ID.into(),
            "Продажи".into(),
            0.into(),
            true.into(),
            1.into(),
            at.into(),
            at.into(),
        ])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .to_owned();
    db.execute(&pipeline).await?;
    seeded_audit(m, "pipeline", DEFAULT_PIPELINE_ID, "Продажи", at).await?;
    for (i, (id, name, kind)) in DEFAULT_STAGES.iter().enumerate() {
        let stage = Query::insert()
            .into_table("pipeline_stages")
            .columns([
                "id",
                "pipeline_id",
                "name",
                "kind",
                "sort",
                "version",
                "created_at",
                "updated_at",
            ])
            .values([
                Uuid::from_u128(*id).into(),
                DEFAULT_PIPELINE_ID.into(),
                (*name).into(),
                (*kind).into(),
                ((i as i32 + 1) * 10).into(),
                1.into(),
                at.into(),
                at.into(),
            ])
            .map_err(|e| DbErr::Custom(e.to_string()))?
            .to_owned();
        db.execute(&stage).await?;
        seeded_audit(m, "pipeline_stage", Uuid::from_u128(*id), name, at).await?;
    }
    Ok(())
}

/// The creation entry of a seeded record, so that its timeline starts like any other's.
async fn seeded_audit(
    m: &SchemaManager<'_>,
    entity_type: &str,
    id: Uuid,
    name: &str,
    at: ChronoDateTimeUtc,
) -> Result<(), DbErr> {
    // The seeded names are constants without quotes or backslashes: plain JSON strings.
    let changes = format!(r#"{{"name":{{"before":null,"after":"{name}"}}}}"#);
    let audit = Query::insert()
        .into_table("audit_records")
        .columns([
            "id",
            "entity_type",
            "entity_id",
            "action",
            "changes",
            "comment",
            "occurred_at",
        ])
        .values([
            Uuid::now_v7().into(),
            entity_type.into(),
            id.into(),
            "created".into(),
            changes.into(),
            "default pipeline, created with the schema".into(),
            at.into(),
        ])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .to_owned();
    m.get_connection().execute(&audit).await?;
    Ok(())
}
