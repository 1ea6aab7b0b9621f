//! `/bank-exports/payment-orders` (INT-1C-2): the approved, unpaid supplier invoices of one of
//! our organisations as `Платежное поручение`s of a `1CClientBankExchange` 1.03 file
//! (windows-1251, CRLF) for the accountant to upload to the bank. Reading only: the invoices
//! become paid when the bank's statement brings the payments back (see
//! [`super::bank_statements`]) or when an accountant marks them paid.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sdelka_domain::bank_exchange::{self, Party, PaymentOrder};
use sdelka_domain::supplier_invoice::InvoiceState;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::{Caller, Db, Error, OpResult};
use crate::StoreError;
use crate::approvals::{InvoiceFilter, invoices_query};
use crate::entity::{
    bank_account, legal_entity, legal_entity_bank_account, organization, supplier_invoice,
};

/// The states of an approved supplier invoice not yet paid.
pub const APPROVED_UNPAID: [&str; 2] = ["awaiting_accountant", "in_work_at_accountant"];

/// The file and what was left out of it.
#[derive(Debug)]
pub struct PaymentOrdersFile {
    /// windows-1251 bytes, CRLF line ends.
    pub bytes: Vec<u8>,
    /// How many payment orders the file has.
    pub orders: usize,
    /// Invoices left out: their supplier has no bank account.
    pub skipped: Vec<Uuid>,
}

fn kopecks(minor: i64) -> Decimal {
    Decimal::new(minor, 2)
}

/// The payment orders of `organization_id`'s approved, unpaid supplier invoices the caller may
/// see, dated `date`, numbered 1, 2, … in invoice order (invoice date, then number).
pub async fn payment_orders(
    db: Db<'_>,
    caller: &Caller,
    organization_id: Uuid,
    date: NaiveDate,
) -> OpResult<PaymentOrdersFile> {
    let org = organization::Entity::find_by_id(organization_id)
        .filter(organization::Column::DeletedAt.is_null())
        .one(&db)
        .await
        .map_err(StoreError::from)?
        .ok_or_else(|| {
            Error::field(
                "organization_id",
                "not_found",
                format!("organization_id {organization_id} does not exist"),
            )
        })?;
    let account = bank_account::Entity::find()
        .filter(bank_account::Column::OrganizationId.eq(org.id))
        .filter(bank_account::Column::DeletedAt.is_null())
        .order_by_desc(bank_account::Column::IsPrimary)
        .order_by_asc(bank_account::Column::CreatedAt)
        .one(&db)
        .await
        .map_err(StoreError::from)?
        .ok_or_else(|| {
            Error::field(
                "organization_id",
                "no_bank_account",
                "the organization has no bank account to pay from",
            )
        })?;
    let viewer = super::approvals::invoice_viewer(&db, caller).await?;
    let invoices = invoices_query(
        &viewer,
        &InvoiceFilter {
            organization_id: Some(org.id),
            ..InvoiceFilter::default()
        },
    )
    .filter(supplier_invoice::Column::State.is_in(APPROVED_UNPAID))
    .order_by_asc(supplier_invoice::Column::InvoiceDate)
    .order_by_asc(supplier_invoice::Column::Number)
    .order_by_asc(supplier_invoice::Column::Id)
    .all(&db)
    .await
    .map_err(StoreError::from)?;
    // Checked against the workflow's own reading of the state.
    let invoices: Vec<supplier_invoice::Model> = invoices
        .into_iter()
        .filter(|i| InvoiceState::from_parts(&i.state, i.holder_id).is_some_and(|s| !s.is_paid()))
        .collect();

    let suppliers: Vec<Uuid> = invoices
        .iter()
        .map(|i| i.supplier_legal_entity_id)
        .collect();
    let entities = legal_entity::Entity::find()
        .filter(legal_entity::Column::Id.is_in(suppliers.iter().copied()))
        .all(&db)
        .await
        .map_err(StoreError::from)?;
    let accounts = legal_entity_bank_account::Entity::find()
        .filter(legal_entity_bank_account::Column::LegalEntityId.is_in(suppliers.iter().copied()))
        .filter(legal_entity_bank_account::Column::DeletedAt.is_null())
        .order_by_desc(legal_entity_bank_account::Column::IsPrimary)
        .order_by_asc(legal_entity_bank_account::Column::CreatedAt)
        .all(&db)
        .await
        .map_err(StoreError::from)?;

    let payer = Party {
        name: Some(org.name.clone()),
        inn: Some(org.inn.clone()),
        kpp: org.kpp.clone(),
        account: Some(account.settlement_account.clone()),
        bank_name: Some(account.bank_name.clone()),
        bik: Some(account.bik.clone()),
        correspondent_account: Some(account.correspondent_account.clone()),
    };
    let mut orders = Vec::new();
    let mut skipped = Vec::new();
    for inv in &invoices {
        let entity = entities
            .iter()
            .find(|e| e.id == inv.supplier_legal_entity_id);
        let bank = accounts
            .iter()
            .find(|a| a.legal_entity_id == inv.supplier_legal_entity_id);
        let (Some(entity), Some(bank)) = (entity, bank) else {
            skipped.push(inv.id);
            continue;
        };
        orders.push(PaymentOrder {
            number: (orders.len() + 1).to_string(),
            date,
            amount: kopecks(inv.amount_kopecks),
            payer: payer.clone(),
            recipient: Party {
                name: Some(entity.full_name.clone()),
                inn: Some(entity.inn.clone()),
                kpp: entity.kpp.clone(),
                account: Some(bank.settlement_account.clone()),
                bank_name: Some(bank.bank_name.clone()),
                bik: Some(bank.bik.clone()),
                correspondent_account: Some(bank.correspondent_account.clone()),
            },
            purpose: bank_exchange::supplier_payment_purpose(
                &inv.number,
                inv.invoice_date,
                inv.amount_kopecks,
                inv.vat_kopecks,
            ),
            priority: 5,
        });
    }
    let file = bank_exchange::payment_orders_file(
        &account.settlement_account,
        "Сделка",
        crate::journal::now().naive_utc(),
        date,
        date,
        &orders,
    );
    Ok(PaymentOrdersFile {
        bytes: bank_exchange::write(&file),
        orders: orders.len(),
        skipped,
    })
}
