//! CRM-1..3 clients: companies, their legal entities (counterparty requisites) with bank
//! accounts, contacts, the many-to-many link of contacts to legal entities, and the external
//! ids integrators sync by.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::common::{index, record_columns};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // `types`, `tags`, `external_ids` are JSON lists for reading back; `type_index` and
        // `tag_index` hold the same values as `|a|b|` so that a filter is one LIKE on both
        // backends, and `search_text` is the lower-cased name (Cyrillic folded in Rust).
        m.create_table(
            record_columns(
                Table::create()
                    .table("companies")
                    .col(uuid("id").primary_key())
                    .col(string("name"))
                    .col(json_binary("types"))
                    .col(string("type_index"))
                    .col(string_null("industry"))
                    .col(uuid("responsible_id"))
                    .col(string_null("source"))
                    .col(json_binary("tags"))
                    .col(text("tag_index"))
                    .col(json_binary("external_ids"))
                    .col(text("search_text")),
            )
            .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_companies_name", &["name", "id"][..]),
            ("ix_companies_created", &["created_at", "id"][..]),
            ("ix_companies_updated", &["updated_at", "id"][..]),
            ("ix_companies_responsible", &["responsible_id"][..]),
        ] {
            m.create_index(index("companies", name, cols)).await?;
        }

        m.create_table(
            record_columns(
                Table::create()
                    .table("legal_entities")
                    .col(uuid("id").primary_key())
                    .col(uuid("company_id"))
                    .col(string("kind"))
                    .col(string("full_name"))
                    .col(string("short_name"))
                    .col(string("inn"))
                    .col(string_null("kpp"))
                    .col(string_null("ogrn"))
                    .col(text_null("legal_address"))
                    .col(text_null("postal_address"))
                    .col(string_null("signatory_name"))
                    .col(string_null("signatory_basis"))
                    .col(json_binary("external_ids"))
                    .col(text("search_text")),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_legal_entities_company")
                    .from("legal_entities", "company_id")
                    .to("companies", "id"),
            )
            .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_legal_entities_company", &["company_id"][..]),
            ("ix_legal_entities_inn", &["inn", "kpp"][..]),
            ("ix_legal_entities_name", &["short_name", "id"][..]),
            ("ix_legal_entities_created", &["created_at", "id"][..]),
            ("ix_legal_entities_updated", &["updated_at", "id"][..]),
        ] {
            m.create_index(index("legal_entities", name, cols)).await?;
        }

        m.create_table(
            record_columns(
                Table::create()
                    .table("legal_entity_bank_accounts")
                    .col(uuid("id").primary_key())
                    .col(uuid("legal_entity_id"))
                    .col(string("bank_name"))
                    .col(string("bik"))
                    .col(string("correspondent_account"))
                    .col(string("settlement_account"))
                    .col(string("currency").default("RUB"))
                    .col(boolean("is_primary").default(false)),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_le_bank_accounts_legal_entity")
                    .from("legal_entity_bank_accounts", "legal_entity_id")
                    .to("legal_entities", "id"),
            )
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "legal_entity_bank_accounts",
            "ix_le_bank_accounts_legal_entity",
            &["legal_entity_id", "id"],
        ))
        .await?;

        // Phones are stored as digits (`74951234567`) and emails lower-cased; the `|a|b|`
        // indexes make "who has this phone/email" one LIKE.
        m.create_table(
            record_columns(
                Table::create()
                    .table("contacts")
                    .col(uuid("id").primary_key())
                    .col(string("last_name"))
                    .col(string_null("first_name"))
                    .col(string_null("middle_name"))
                    .col(string_null("position"))
                    .col(json_binary("phones"))
                    .col(json_binary("emails"))
                    .col(json_binary("messengers"))
                    .col(text_null("postal_address"))
                    .col(string_null("preferred_channel"))
                    .col(text_null("preferred_address"))
                    .col(uuid("responsible_id"))
                    .col(json_binary("external_ids"))
                    .col(text("phone_index"))
                    .col(text("email_index"))
                    .col(text("search_text")),
            )
            .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_contacts_name", &["last_name", "id"][..]),
            ("ix_contacts_created", &["created_at", "id"][..]),
            ("ix_contacts_updated", &["updated_at", "id"][..]),
            ("ix_contacts_responsible", &["responsible_id"][..]),
        ] {
            m.create_index(index("contacts", name, cols)).await?;
        }

        // CRM-3: who acts for which legal entity, and as what. One row per pair; an unlinked
        // pair is deleted (the journal keeps the history), so it can be linked again.
        m.create_table(
            Table::create()
                .table("contact_legal_entities")
                .col(uuid("contact_id"))
                .col(uuid("legal_entity_id"))
                .col(string_null("role"))
                .col(timestamp_with_time_zone("created_at"))
                .primary_key(Index::create().col("contact_id").col("legal_entity_id"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_contact_links_contact")
                        .from("contact_legal_entities", "contact_id")
                        .to("contacts", "id"),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_contact_links_legal_entity")
                        .from("contact_legal_entities", "legal_entity_id")
                        .to("legal_entities", "id"),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "contact_legal_entities",
            "ix_contact_links_legal_entity",
            &["legal_entity_id", "contact_id"],
        ))
        .await?;

        // An integrator's id of a record (e.g. a 1C GUID) is unique per record type and
        // source: the unique index turns a second record with the same id into a 409.
        m.create_table(
            Table::create()
                .table("external_ids")
                .col(string("record_type"))
                .col(string("source"))
                .col(string("external_id"))
                .col(uuid("record_id"))
                .primary_key(
                    Index::create()
                        .col("record_type")
                        .col("source")
                        .col("external_id"),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "external_ids",
            "ix_external_ids_record",
            &["record_type", "record_id"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "external_ids",
            "contact_legal_entities",
            "contacts",
            "legal_entity_bank_accounts",
            "legal_entities",
            "companies",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
