//! Platform foundation: people, organisation structure, own legal entities, credentials and
//! the shared machinery (idempotency keys, audit journal, domain events, outbox).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::common::{index, record_columns};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            record_columns(
                Table::create()
                    .table("departments")
                    .col(uuid("id").primary_key())
                    .col(string("name"))
                    .col(uuid_null("parent_id"))
                    .col(uuid_null("head_id")),
            )
            .to_owned(),
        )
        .await?;

        m.create_table(
            record_columns(
                Table::create()
                    .table("users")
                    .col(uuid("id").primary_key())
                    .col(string("email"))
                    .col(string("name"))
                    .col(string("password_hash"))
                    .col(boolean("active").default(true))
                    .col(string("roles").default(""))
                    .col(uuid_null("department_id"))
                    .col(uuid_null("supervisor_id"))
                    .col(uuid_null("deputy_id"))
                    .col(boolean("absent").default(false))
                    .col(boolean("email_notifications").default(true)),
            )
            .to_owned(),
        )
        .await?;
        m.create_index(
            index("users", "ux_users_email", &["email"])
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(index("users", "ix_users_updated", &["updated_at", "id"]))
            .await?;

        m.create_table(
            Table::create()
                .table("refresh_tokens")
                .col(uuid("id").primary_key())
                .col(uuid("family_id"))
                .col(uuid("user_id"))
                .col(string("token_hash"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("used_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("refresh_tokens", "ux_refresh_tokens_hash", &["token_hash"])
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "refresh_tokens",
            "ix_refresh_tokens_family",
            &["family_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("api_tokens")
                .col(uuid("id").primary_key())
                .col(uuid("user_id"))
                .col(string("name"))
                .col(string("token_prefix"))
                .col(string("token_hash"))
                .col(string("roles"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("expires_at"))
                .col(timestamp_with_time_zone_null("last_used_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("api_tokens", "ux_api_tokens_hash", &["token_hash"])
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            record_columns(
                Table::create()
                    .table("organizations")
                    .col(uuid("id").primary_key())
                    .col(string("name"))
                    .col(string("short_name"))
                    .col(string("code"))
                    .col(string("inn"))
                    .col(string_null("kpp"))
                    .col(string_null("ogrn"))
                    .col(boolean("vat_payer"))
                    .col(text("legal_address"))
                    .col(text_null("postal_address"))
                    .col(string_null("director_name"))
                    .col(string_null("chief_accountant_name"))
                    .col(string_null("external_id"))
                    .col(string("search_text")),
            )
            .to_owned(),
        )
        .await?;
        m.create_index(
            index("organizations", "ux_organizations_code", &["code"])
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "organizations",
            "ix_organizations_name",
            &["name", "id"],
        ))
        .await?;
        m.create_index(index(
            "organizations",
            "ix_organizations_created",
            &["created_at", "id"],
        ))
        .await?;
        m.create_index(index(
            "organizations",
            "ix_organizations_updated",
            &["updated_at", "id"],
        ))
        .await?;
        m.create_index(index("organizations", "ix_organizations_inn", &["inn"]))
            .await?;

        m.create_table(
            record_columns(
                Table::create()
                    .table("organization_bank_accounts")
                    .col(uuid("id").primary_key())
                    .col(uuid("organization_id"))
                    .col(string("bank_name"))
                    .col(string("bik"))
                    .col(string("correspondent_account"))
                    .col(string("settlement_account"))
                    .col(string("currency").default("RUB"))
                    .col(boolean("is_primary").default(false)),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_bank_accounts_organization")
                    .from("organization_bank_accounts", "organization_id")
                    .to("organizations", "id"),
            )
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "organization_bank_accounts",
            "ix_bank_accounts_org",
            &["organization_id", "id"],
        ))
        .await?;

        // API-4: one row per (caller, key). `state` is in_flight until the response is stored.
        m.create_table(
            Table::create()
                .table("idempotency_keys")
                .col(string("scope"))
                .col(string("key"))
                .col(string("request_hash"))
                .col(string("state"))
                .col(integer_null("response_status"))
                .col(text_null("response_headers"))
                .col(blob_null("response_body"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .primary_key(Index::create().col("scope").col("key"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idempotency_keys",
            "ix_idempotency_expires",
            &["expires_at"],
        ))
        .await?;

        // ACT-4: who changed what, field by field.
        m.create_table(
            Table::create()
                .table("audit_records")
                .col(uuid("id").primary_key())
                .col(string("entity_type"))
                .col(uuid("entity_id"))
                .col(string("action"))
                .col(uuid_null("actor_id"))
                .col(text("changes"))
                .col(text_null("comment"))
                .col(string_null("request_id"))
                .col(timestamp_with_time_zone("occurred_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "audit_records",
            "ix_audit_entity",
            &["entity_type", "entity_id", "occurred_at"],
        ))
        .await?;

        // INT-2: the ordered feed of domain events; `seq` is the cursor.
        m.create_table(
            Table::create()
                .table("domain_events")
                .col(big_pk_auto("seq"))
                .col(uuid("id"))
                .col(string("event_type"))
                .col(string("entity_type"))
                .col(uuid("entity_id"))
                .col(uuid_null("actor_id"))
                .col(uuid_null("api_token_id"))
                .col(string_null("correlation_id"))
                .col(text("payload"))
                .col(timestamp_with_time_zone("occurred_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("domain_events", "ux_domain_events_id", &["id"])
                .unique()
                .to_owned(),
        )
        .await?;

        // RUN-2: every outgoing message is written here in the business transaction and
        // delivered later by a worker holding a lease.
        m.create_table(
            Table::create()
                .table("outbox_messages")
                .col(uuid("id").primary_key())
                .col(string("kind"))
                .col(text("payload"))
                .col(string("state"))
                .col(integer("attempts").default(0))
                .col(timestamp_with_time_zone("next_attempt_at"))
                .col(string_null("lease_owner"))
                .col(timestamp_with_time_zone_null("lease_until"))
                .col(text_null("last_error"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("sent_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "outbox_messages",
            "ix_outbox_due",
            &["state", "next_attempt_at"],
        ))
        .await?;

        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "outbox_messages",
            "domain_events",
            "audit_records",
            "idempotency_keys",
            "organization_bank_accounts",
            "organizations",
            "api_tokens",
            "refresh_tokens",
            "users",
            "departments",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
