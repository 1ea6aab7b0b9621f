//! References from the record being written to other records (`company_id`, `legal_entity_id`,
//! `contact_ids`, `owner_type` + `owner_id`, `buyer_legal_entity_id`, `responsible_id`, …).
//!
//! Every operation checks the records its request names through this one module: a reference
//! must name a live record the caller may see — what its `GET` would show him. A record that
//! does not exist and one he may not see are refused alike, with the same `422` naming the
//! field (code `not_found`), so that a reference cannot be used to probe for another
//! manager's clients. The responsible user of a client record (company, contact, lead, deal,
//! import) must be one whose records the caller sees (himself, for a head his departments'
//! people, for an admin anyone): handing a record to someone outside that scope would make it
//! vanish from the caller's own lists. The assignee of an activity or a calendar event must be
//! an active user.

use sdelka_domain::work::OwnerType;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::clients as store;
use crate::entity::{company, contact, deal, legal_entity, user};
use crate::records;
use crate::visibility::Scope;

use super::timeline::TimelineEntity;
use super::{Caller, Error, ErrorCode, OpResult};

/// The one refusal of a reference: the same whether the record does not exist or is hidden.
pub fn unknown(field: &str, id: Uuid) -> Error {
    Error::field(
        field,
        "not_found",
        format!("{field} {id} names no record that exists and is visible to you"),
    )
}

/// Turns the 404 of a visibility check into the reference's 422; other errors pass.
pub fn as_reference<T>(field: &str, id: Uuid, r: OpResult<T>) -> OpResult<T> {
    match r {
        Err(e) if e.code == ErrorCode::NotFound => Err(unknown(field, id)),
        other => other,
    }
}

/// A user to make responsible for (or assign) a record: he exists and the caller's scope
/// covers him.
pub async fn responsible<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    field: &str,
    id: Uuid,
) -> OpResult<()> {
    match records::find::<user::Entity, _>(db, id).await {
        Ok(_) if scope.allows(Some(id)) => Ok(()),
        Ok(_) | Err(crate::StoreError::NotFound) => Err(Error::field(
            field,
            "not_found",
            format!(
                "{field} {id} names no user that exists and whose records you see; you may \
                 assign yourself or the people whose records you see"
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The assignee of an activity or a calendar event: an active user. Unlike a client record's
/// responsible he need not be in the caller's scope — a task may be set for any colleague, as
/// an inbox task may be delegated to any (SPEC §3); it then leaves the caller's view.
pub async fn assignee<C: ConnectionTrait>(db: &C, field: &str, id: Uuid) -> OpResult<()> {
    match records::find::<user::Entity, _>(db, id).await {
        Ok(u) if u.active => Ok(()),
        Ok(_) => Err(Error::field(
            field,
            "inactive",
            format!("user {id} is deactivated and cannot be assigned work"),
        )),
        Err(crate::StoreError::NotFound) => Err(unknown(field, id)),
        Err(e) => Err(e.into()),
    }
}

/// A user named without handing him a record (a participant, a pool member): he exists.
pub async fn user<C: ConnectionTrait>(db: &C, field: &str, id: Uuid) -> OpResult<()> {
    match records::find::<user::Entity, _>(db, id).await {
        Ok(_) => Ok(()),
        Err(crate::StoreError::NotFound) => Err(unknown(field, id)),
        Err(e) => Err(e.into()),
    }
}

pub async fn company<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    field: &str,
    id: Uuid,
) -> OpResult<company::Model> {
    store::visible_company(db, scope, id)
        .await?
        .ok_or_else(|| unknown(field, id))
}

pub async fn legal_entity<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    field: &str,
    id: Uuid,
) -> OpResult<legal_entity::Model> {
    store::visible_legal_entity(db, scope, id)
        .await?
        .ok_or_else(|| unknown(field, id))
}

/// The legal entity a money document names (an invoice's buyer, a supplier invoice's
/// supplier, a payment's payer): accountants and admins handle every client's money, so for
/// them it must exist; for everyone else it must be one he may see.
pub async fn billed_party<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    field: &str,
    id: Uuid,
) -> OpResult<legal_entity::Model> {
    if super::invoices::sees_all_invoices(caller) {
        return match records::find::<legal_entity::Entity, _>(db, id).await {
            Ok(le) => Ok(le),
            Err(crate::StoreError::NotFound) => Err(unknown(field, id)),
            Err(e) => Err(e.into()),
        };
    }
    let scope = caller.visibility(db).await?;
    legal_entity(db, &scope, field, id).await
}

/// A legal entity that must belong to `company_id` when one is named as well.
pub async fn legal_entity_of<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    field: &str,
    id: Uuid,
    company_id: Option<Uuid>,
) -> OpResult<legal_entity::Model> {
    let le = legal_entity(db, scope, field, id).await?;
    if let Some(c) = company_id
        && le.company_id != c
    {
        return Err(Error::field(
            field,
            "not_of_company",
            format!("legal entity {id} is not one of company {c}"),
        ));
    }
    Ok(le)
}

pub async fn contact<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    field: &str,
    id: Uuid,
) -> OpResult<contact::Model> {
    store::visible_contact(db, scope, id)
        .await?
        .ok_or_else(|| unknown(field, id))
}

/// Every contact of a list, each refusal naming its position (`contact_ids[1]`).
pub async fn contacts<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    field: &str,
    ids: &[Uuid],
) -> OpResult<()> {
    for (i, id) in ids.iter().enumerate() {
        contact(db, scope, &format!("{field}[{i}]"), *id).await?;
    }
    Ok(())
}

pub async fn deal<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    field: &str,
    id: Uuid,
) -> OpResult<deal::Model> {
    as_reference(field, id, super::deals::visible_deal(db, scope, id).await)
}

/// The record an activity or calendar event is about (`owner_type` + `owner_id`), checked as
/// its timeline is: it exists, is live, and the caller may see it.
pub async fn owner<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    owner_type: OwnerType,
    id: Uuid,
) -> OpResult<()> {
    let entity = match owner_type {
        // Live client records, by the scope of their lists.
        OwnerType::Company => {
            let scope = caller.visibility(db).await?;
            return company(db, &scope, "owner_id", id).await.map(|_| ());
        }
        OwnerType::Contact => {
            let scope = caller.visibility(db).await?;
            return contact(db, &scope, "owner_id", id).await.map(|_| ());
        }
        OwnerType::Lead => TimelineEntity::Leads,
        OwnerType::Deal => TimelineEntity::Deals,
        OwnerType::Invoice => TimelineEntity::Invoices,
        OwnerType::Contract => TimelineEntity::Contracts,
        OwnerType::Organization => TimelineEntity::Organizations,
    };
    let r = super::access::ensure_visible(db, caller, entity, id, false).await;
    as_reference("owner_id", id, r)
}
