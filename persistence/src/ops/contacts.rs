//! `/contacts` (CRM-3): the people we deal with, and the legal entities they act for.

use crate::clients::{self as store, ContactFilter, contacts_query, fold, list_index};
use crate::entity::{contact, contact_legal_entity};
use crate::journal::{self, Change, now};
use crate::pagination::{CursorValue, SortKey, fetch_page};
use crate::records;
use crate::visibility::Scope;
use chrono::{DateTime, Utc};
use sdelka_domain::clients::{ContactAddresses, OfferChannel, Phone, check_preferred_address};
use sdelka_domain::email::Email;
use sdelka_domain::validation::{FieldViolation, Violations};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::dto::double_option;
use super::{Caller, Db, Error, ErrorCode, ListPage, ListParams, OpResult, present};

use super::legal_entities::LegalEntityKind;

use super::clients::{
    DuplicateWarning, ExternalId, external_filter, external_ids_json, external_ids_of,
    external_refs, responsible, strings_of,
};

/// Where a contact wants commercial offers sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PreferredChannel {
    Email,
    Phone,
    Messenger,
    Post,
}

impl PreferredChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            PreferredChannel::Email => "email",
            PreferredChannel::Phone => "phone",
            PreferredChannel::Messenger => "messenger",
            PreferredChannel::Post => "post",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(PreferredChannel::Email),
            "phone" => Some(PreferredChannel::Phone),
            "messenger" => Some(PreferredChannel::Messenger),
            "post" => Some(PreferredChannel::Post),
            _ => None,
        }
    }
}

impl From<PreferredChannel> for OfferChannel {
    fn from(c: PreferredChannel) -> Self {
        match c {
            PreferredChannel::Email => OfferChannel::Email,
            PreferredChannel::Phone => OfferChannel::Phone,
            PreferredChannel::Messenger => OfferChannel::Messenger,
            PreferredChannel::Post => OfferChannel::Post,
        }
    }
}

/// A messenger account of a contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Messenger {
    /// E.g. `telegram`, `whatsapp`; lower-cased.
    #[validate(length(min = 1, max = 50, message = "kind must be 1 to 50 characters"))]
    #[schema(example = "telegram")]
    pub kind: String,
    #[validate(length(min = 1, max = 200, message = "address must be 1 to 200 characters"))]
    #[schema(example = "@ivanov")]
    pub address: String,
}

/// A person we deal with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactView {
    pub id: Uuid,
    #[schema(example = "Иванов")]
    pub last_name: String,
    #[schema(example = "Иван")]
    pub first_name: Option<String>,
    #[schema(example = "Иванович")]
    pub middle_name: Option<String>,
    #[schema(example = "Коммерческий директор")]
    pub position: Option<String>,
    /// Digits in international form, e.g. `74951234567`.
    pub phones: Vec<String>,
    /// Lower-cased.
    pub emails: Vec<String>,
    pub messengers: Vec<Messenger>,
    pub postal_address: Option<String>,
    pub preferred_channel: Option<PreferredChannel>,
    /// One of the contact's addresses in the preferred channel.
    pub preferred_address: Option<String>,
    pub responsible_id: Uuid,
    pub external_ids: Vec<ExternalId>,
    /// Only on create and update: visible contacts sharing an email or a phone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<DuplicateWarning>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&contact::Model> for ContactView {
    fn from(c: &contact::Model) -> Self {
        ContactView {
            id: c.id,
            last_name: c.last_name.clone(),
            first_name: c.first_name.clone(),
            middle_name: c.middle_name.clone(),
            position: c.position.clone(),
            phones: strings_of(&c.phones),
            emails: strings_of(&c.emails),
            messengers: serde_json::from_value(c.messengers.clone()).unwrap_or_default(),
            postal_address: c.postal_address.clone(),
            preferred_channel: c
                .preferred_channel
                .as_deref()
                .and_then(PreferredChannel::parse),
            preferred_address: c.preferred_address.clone(),
            responsible_id: c.responsible_id,
            external_ids: external_ids_of(&c.external_ids),
            warnings: Vec::new(),
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContact {
    #[validate(length(min = 1, max = 200, message = "last_name must be 1 to 200 characters"))]
    #[schema(example = "Иванов")]
    pub last_name: String,
    #[validate(length(max = 200))]
    pub first_name: Option<String>,
    #[validate(length(max = 200))]
    pub middle_name: Option<String>,
    #[validate(length(max = 300))]
    pub position: Option<String>,
    /// Any usual notation: `+7 (495) 123-45-67`, `84951234567`.
    #[serde(default)]
    #[validate(length(max = 20))]
    pub phones: Vec<String>,
    #[serde(default)]
    #[validate(length(max = 20))]
    pub emails: Vec<String>,
    #[serde(default)]
    #[validate(length(max = 20), nested)]
    pub messengers: Vec<Messenger>,
    #[validate(length(max = 1000))]
    pub postal_address: Option<String>,
    pub preferred_channel: Option<PreferredChannel>,
    /// Must be one of this contact's addresses in `preferred_channel`.
    #[validate(length(max = 1000))]
    pub preferred_address: Option<String>,
    /// Default: you. Only yourself or someone whose records you see.
    pub responsible_id: Option<Uuid>,
    #[serde(default)]
    #[validate(length(max = 20), nested)]
    pub external_ids: Vec<ExternalId>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateContact {
    #[validate(length(min = 1, max = 200, message = "last_name must be 1 to 200 characters"))]
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub middle_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub position: Option<Option<String>>,
    /// Replaces the whole list (as do `emails`, `messengers`, `external_ids`).
    #[validate(length(max = 20))]
    pub phones: Option<Vec<String>>,
    #[validate(length(max = 20))]
    pub emails: Option<Vec<String>>,
    #[validate(length(max = 20), nested)]
    pub messengers: Option<Vec<Messenger>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub postal_address: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<PreferredChannel>)]
    pub preferred_channel: Option<Option<PreferredChannel>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub preferred_address: Option<Option<String>>,
    pub responsible_id: Option<Uuid>,
    #[validate(length(max = 20), nested)]
    pub external_ids: Option<Vec<ExternalId>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactListFilter {
    /// Case-insensitive part of the full name (Cyrillic included).
    pub q: Option<String>,
    /// Contacts with this email (case-insensitive).
    pub email: Option<String>,
    /// Contacts with this phone, in any notation (`+7 (495) 123-45-67` = `84951234567`).
    pub phone: Option<String>,
    /// Contacts acting for this legal entity.
    pub legal_entity_id: Option<Uuid>,
    pub responsible_id: Option<Uuid>,
    /// `source:id`, e.g. `1c:6f1c2a9e-3b0d-11ee-be56-0242ac120002`.
    pub external_id: Option<String>,
}

pub fn sorts() -> [SortKey<contact::Entity>; 3] {
    [
        SortKey {
            name: "created_at",
            column: contact::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: contact::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
        SortKey {
            name: "last_name",
            column: contact::Column::LastName,
            key: |m| CursorValue::Text(m.last_name.clone()),
        },
    ]
}

pub fn trimmed(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

pub fn parse_phones(phones: &[String], v: &mut Violations) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, p) in phones.iter().enumerate() {
        if let Some(p) = v.check(&format!("phones[{i}]"), Phone::parse(p))
            && !out.iter().any(|o| o == p.as_str())
        {
            out.push(p.as_str().to_owned());
        }
    }
    out
}

pub fn parse_emails(emails: &[String], v: &mut Violations) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, e) in emails.iter().enumerate() {
        if let Some(e) = v.check(&format!("emails[{i}]"), Email::parse(e))
            && !out.iter().any(|o| o == e.as_str())
        {
            out.push(e.as_str().to_owned());
        }
    }
    out
}

pub fn normalise_messengers(messengers: &[Messenger], v: &mut Violations) -> Vec<Messenger> {
    let mut out: Vec<Messenger> = Vec::new();
    for (i, m) in messengers.iter().enumerate() {
        let m = Messenger {
            kind: m.kind.trim().to_lowercase(),
            address: m.address.trim().to_owned(),
        };
        if m.kind.is_empty() || m.address.is_empty() {
            v.push(FieldViolation::new(
                format!("messengers[{i}]"),
                "required",
                "a messenger needs a kind and an address",
            ));
        } else if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

/// Checks the preferred channel and address against the contact's own addresses.
pub fn apply_preference(
    c: &mut contact::Model,
    channel: Option<PreferredChannel>,
    address: Option<String>,
) -> Result<(), FieldViolation> {
    match (channel, address) {
        (None, None) => {
            c.preferred_channel = None;
            c.preferred_address = None;
            Ok(())
        }
        (None, Some(_)) => Err(FieldViolation::new(
            "preferred_channel",
            "required",
            "preferred_address needs the preferred_channel it belongs to",
        )),
        (Some(_), None) => Err(FieldViolation::new(
            "preferred_address",
            "required",
            "preferred_channel needs the address to send to",
        )),
        (Some(channel), Some(address)) => {
            let emails = strings_of(&c.emails);
            let phones = strings_of(&c.phones);
            let messengers: Vec<String> =
                serde_json::from_value::<Vec<Messenger>>(c.messengers.clone())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| m.address)
                    .collect();
            let known = ContactAddresses {
                emails: &emails,
                phones: &phones,
                messengers: &messengers,
                postal_address: c.postal_address.as_deref(),
            };
            let address = check_preferred_address(channel.into(), &address, &known)?;
            c.preferred_channel = Some(channel.as_str().to_owned());
            c.preferred_address = Some(address);
            Ok(())
        }
    }
}

pub fn set_phones(c: &mut contact::Model, phones: Vec<String>) {
    c.phone_index = list_index(&phones);
    c.phones = serde_json::json!(phones);
}

pub fn set_emails(c: &mut contact::Model, emails: Vec<String>) {
    c.email_index = list_index(&emails);
    c.emails = serde_json::json!(emails);
}

/// A new contact record (not yet stored) with its derived search columns; names and other
/// fields may be set afterwards, then `refresh_search` recomputes the search text.
pub fn new_contact(
    last_name: String,
    phones: Vec<String>,
    emails: Vec<String>,
    responsible_id: Uuid,
) -> contact::Model {
    let at = now();
    let mut model = contact::Model {
        id: Uuid::now_v7(),
        last_name,
        first_name: None,
        middle_name: None,
        position: None,
        phones: serde_json::Value::Null,
        emails: serde_json::Value::Null,
        messengers: serde_json::json!([]),
        postal_address: None,
        preferred_channel: None,
        preferred_address: None,
        responsible_id,
        external_ids: external_ids_json(&[]),
        phone_index: String::new(),
        email_index: String::new(),
        search_text: String::new(),
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    set_phones(&mut model, phones);
    set_emails(&mut model, emails);
    model.search_text = search_text(&model);
    model
}

pub fn refresh_search(c: &mut contact::Model) {
    c.search_text = search_text(c);
}

pub fn search_text(c: &contact::Model) -> String {
    fold(&[
        &c.last_name,
        c.first_name.as_deref().unwrap_or(""),
        c.middle_name.as_deref().unwrap_or(""),
    ])
}

/// Visible contacts sharing an email or phone with `c`, one warning per shared field.
pub async fn duplicate_warnings<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    c: &contact::Model,
) -> OpResult<Vec<DuplicateWarning>> {
    let emails = strings_of(&c.emails);
    let phones = strings_of(&c.phones);
    let others = store::contacts_sharing_addresses(db, scope, &emails, &phones, c.id).await?;
    let mut warnings = Vec::new();
    for o in others {
        let theirs_e = strings_of(&o.emails);
        let theirs_p = strings_of(&o.phones);
        if emails.iter().any(|e| theirs_e.contains(e)) {
            warnings.push(DuplicateWarning::new("emails", o.id));
        }
        if phones.iter().any(|p| theirs_p.contains(p)) {
            warnings.push(DuplicateWarning::new("phones", o.id));
        }
    }
    Ok(warnings)
}

pub async fn visible(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> OpResult<contact::Model> {
    store::visible_contact(db, scope, id)
        .await?
        .ok_or_else(Error::not_found)
}

/// A legal entity a contact acts for, with his role there.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactLegalEntityView {
    pub legal_entity_id: Uuid,
    pub company_id: Uuid,
    pub kind: LegalEntityKind,
    #[schema(example = "ООО «Ромашка»")]
    pub short_name: String,
    #[schema(example = "7707083893")]
    pub inn: String,
    pub kpp: Option<String>,
    /// The contact's role at this legal entity.
    #[schema(example = "Главный бухгалтер")]
    pub role: Option<String>,
    pub linked_at: DateTime<Utc>,
}

impl ContactLegalEntityView {
    pub fn new(link: &contact_legal_entity::Model, e: &crate::entity::legal_entity::Model) -> Self {
        ContactLegalEntityView {
            legal_entity_id: e.id,
            company_id: e.company_id,
            kind: LegalEntityKind::parse(&e.kind).unwrap_or(LegalEntityKind::LegalEntity),
            short_name: e.short_name.clone(),
            inn: e.inn.clone(),
            kpp: e.kpp.clone(),
            role: link.role.clone(),
            linked_at: link.created_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkLegalEntity {
    pub legal_entity_id: Uuid,
    /// The contact's role or position at that legal entity.
    #[validate(length(max = 300))]
    #[schema(example = "Главный бухгалтер")]
    pub role: Option<String>,
}

fn public(c: &contact::Model) -> serde_json::Value {
    present(&ContactView::from(c))
}

/// The contacts the caller may see, a page at a time.
pub async fn list_contacts(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
    f: ContactListFilter,
) -> OpResult<ListPage<ContactView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let phone = match &f.phone {
        Some(p) => Some(
            Phone::parse(p)
                .map_err(|e| Error::field("phone", "invalid_phone", e.to_string()))?
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    let scope = caller.visibility(&db).await?;
    let query = contacts_query(
        &ContactFilter {
            q: f.q.clone(),
            email: f.email.map(|e| e.trim().to_lowercase()),
            phone,
            legal_entity_id: f.legal_entity_id,
            responsible_id: f.responsible_id,
            external_id: external_filter(f.external_id.as_deref())?,
            updated_since: page.updated_since,
        },
        &scope,
    );
    let query = crate::search::narrow(query, &db, "contacts", f.q.as_deref()).await?;
    let page = fetch_page(&db, query, req, contact::Column::Id, |m| m.id).await?;
    Ok(ListPage::of(page, |m| ContactView::from(m)))
}

/// Creates a contact; the caller is its responsible unless he names another he sees. Phones
/// are stored as digits, emails lower-cased. Another visible contact with one of the same
/// emails or phones does not stop the write: the answer carries `possible_duplicate` warnings.
pub async fn create_contact(
    db: Db<'_>,
    caller: &Caller,
    req: CreateContact,
) -> OpResult<ContactView> {
    let mut v = Violations::new();
    let phones = parse_phones(&req.phones, &mut v);
    let emails = parse_emails(&req.emails, &mut v);
    let messengers = normalise_messengers(&req.messengers, &mut v);
    let refs = external_refs(&req.external_ids, &mut v);
    let last_name = req.last_name.trim().to_owned();
    if last_name.is_empty() {
        v.push(FieldViolation::new(
            "last_name",
            "required",
            "last_name must not be blank",
        ));
    }
    let mut model = new_contact(last_name, phones, emails, caller.user_id);
    model.first_name = trimmed(req.first_name);
    model.middle_name = trimmed(req.middle_name);
    model.position = trimmed(req.position);
    model.messengers = serde_json::json!(messengers);
    model.postal_address = trimmed(req.postal_address);
    model.external_ids = external_ids_json(&refs);
    model.search_text = search_text(&model);
    if let Err(e) = apply_preference(&mut model, req.preferred_channel, req.preferred_address) {
        v.push(e);
    }
    if !v.is_empty() {
        return Err(v.into());
    }
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    model.responsible_id = responsible(&txn, caller, &scope, req.responsible_id).await?;
    let warnings = duplicate_warnings(&txn, &scope, &model).await?;
    let model = records::create::<contact::Entity, _>(&txn, &caller.actor(), model, public).await?;
    store::set_external_ids(&txn, "contact", model.id, &refs).await?;
    super::processes::on_entity_created(
        &txn,
        &caller.actor(),
        sdelka_domain::process::EntityType::Contact,
        model.id,
    )
    .await?;
    txn.commit().await?;
    let mut view = ContactView::from(&model);
    view.warnings = warnings;
    Ok(view)
}

/// One contact the caller may see.
pub async fn get_contact(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<ContactView> {
    let scope = caller.visibility(&db).await?;
    let c = visible(&db, &scope, id).await?;
    Ok(ContactView::from(&c))
}

/// Changes a contact as one compare-and-set on its version. Lists are replaced as a whole;
/// the preferred address must still be one of the contact's addresses afterwards.
pub async fn update_contact(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: UpdateContact,
) -> OpResult<ContactView> {
    let mut v = Violations::new();
    let phones = req.phones.as_ref().map(|p| parse_phones(p, &mut v));
    let emails = req.emails.as_ref().map(|e| parse_emails(e, &mut v));
    let messengers = req
        .messengers
        .as_ref()
        .map(|m| normalise_messengers(m, &mut v));
    let refs = req.external_ids.as_ref().map(|e| external_refs(e, &mut v));
    let last_name = req.last_name.as_ref().map(|n| n.trim().to_owned());
    if last_name.as_ref().is_some_and(String::is_empty) {
        v.push(FieldViolation::new(
            "last_name",
            "required",
            "last_name must not be blank",
        ));
    }
    if !v.is_empty() {
        return Err(v.into());
    }
    let addresses_changed = phones.is_some() || emails.is_some();
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    visible(&txn, &scope, id).await?;
    let responsible_id = match req.responsible_id {
        Some(r) => Some(responsible(&txn, caller, &scope, Some(r)).await?),
        None => None,
    };
    let facts_before =
        super::processes::facts_of(&txn, sdelka_domain::process::EntityType::Contact, id).await?;
    let updated = records::update::<contact::Entity, _, _, Error>(
        &txn,
        &caller.actor(),
        id,
        if_match,
        |c| {
            if let Some(n) = last_name {
                c.last_name = n;
            }
            if let Some(n) = req.first_name {
                c.first_name = trimmed(n);
            }
            if let Some(n) = req.middle_name {
                c.middle_name = trimmed(n);
            }
            if let Some(p) = req.position {
                c.position = trimmed(p);
            }
            if let Some(p) = phones {
                set_phones(c, p);
            }
            if let Some(e) = emails {
                set_emails(c, e);
            }
            if let Some(m) = messengers {
                c.messengers = serde_json::json!(m);
            }
            if let Some(a) = req.postal_address {
                c.postal_address = trimmed(a);
            }
            if let Some(r) = responsible_id {
                c.responsible_id = r;
            }
            if let Some(r) = &refs {
                c.external_ids = external_ids_json(r);
            }
            let channel = match req.preferred_channel {
                Some(ch) => ch,
                None => c
                    .preferred_channel
                    .as_deref()
                    .and_then(PreferredChannel::parse),
            };
            let address = match (req.preferred_address, req.preferred_channel) {
                (Some(a), _) => a,
                // Clearing the channel clears its address too.
                (None, Some(None)) => None,
                (None, _) => c.preferred_address.clone(),
            };
            apply_preference(c, channel, address).map_err(|e| Error::validation(e.into()))?;
            c.search_text = search_text(c);
            Ok(())
        },
        public,
    )
    .await??;
    if let Some(r) = &refs {
        store::set_external_ids(&txn, "contact", id, r).await?;
    }
    let warnings = if addresses_changed {
        duplicate_warnings(&txn, &scope, &updated).await?
    } else {
        Vec::new()
    };
    super::processes::on_entity_changed(
        &txn,
        &caller.actor(),
        sdelka_domain::process::EntityType::Contact,
        id,
        &facts_before,
    )
    .await?;
    txn.commit().await?;
    let mut view = ContactView::from(&updated);
    view.warnings = warnings;
    Ok(view)
}

/// Deletes a contact (kept for the audit trail); its external ids become free.
pub async fn delete_contact(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
) -> OpResult<()> {
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    visible(&txn, &scope, id).await?;
    records::soft_delete::<contact::Entity, _>(&txn, &caller.actor(), id, if_match, public).await?;
    store::release_external_ids(&txn, "contact", id).await?;
    txn.commit().await?;
    Ok(())
}

/// The legal entities a contact acts for (only those the caller may see).
pub async fn list_contact_legal_entities(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
) -> OpResult<Vec<ContactLegalEntityView>> {
    let scope = caller.visibility(&db).await?;
    let c = visible(&db, &scope, id).await?;
    let links = store::legal_entities_of_contact(&db, &scope, c.id).await?;
    Ok(links
        .iter()
        .map(|(l, e)| ContactLegalEntityView::new(l, e))
        .collect())
}

/// Records that a contact acts for a legal entity (of any company the caller may see), in a
/// role. Linking the same pair twice is a `duplicate`. The link appears on the contact's
/// timeline, and its event carries the link as the contact's list of legal entities shows it.
pub async fn link_contact_legal_entity(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    req: LinkLegalEntity,
) -> OpResult<ContactLegalEntityView> {
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let c = visible(&txn, &scope, id).await?;
    let e = super::refs::legal_entity(&txn, &scope, "legal_entity_id", req.legal_entity_id).await?;
    if store::find_link(&txn, c.id, e.id).await?.is_some() {
        return Err(Error::new(
            ErrorCode::Duplicate,
            "the contact is already linked to this legal entity",
        ));
    }
    let link = contact_legal_entity::Model {
        contact_id: c.id,
        legal_entity_id: e.id,
        role: trimmed(req.role),
        created_at: now(),
    };
    store::insert_link(&txn, &link).await?;
    let view = ContactLegalEntityView::new(&link, &e);
    let after = present(&view);
    journal::record(
        &txn,
        &caller.actor(),
        Change {
            entity_type: "contact",
            entity_id: c.id,
            action: "legal_entity_linked",
            before: None,
            after: Some(&after),
            comment: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(view)
}

/// Ends a contact's link to a legal entity; the timeline keeps it.
pub async fn unlink_contact_legal_entity(
    db: Db<'_>,
    caller: &Caller,
    contact_id: Uuid,
    legal_entity_id: Uuid,
) -> OpResult<()> {
    let txn = db.begin().await?;
    let scope = caller.visibility(&txn).await?;
    let c = visible(&txn, &scope, contact_id).await?;
    let e = store::visible_legal_entity(&txn, &scope, legal_entity_id)
        .await?
        .ok_or_else(Error::not_found)?;
    let link = store::find_link(&txn, c.id, legal_entity_id)
        .await?
        .ok_or_else(Error::not_found)?;
    store::delete_link(&txn, c.id, legal_entity_id).await?;
    let before = present(&ContactLegalEntityView::new(&link, &e));
    // The feed learns that the link — not the contact — is gone.
    let mut gone = journal::tombstone("contact_legal_entity", c.id, None);
    if let Some(t) = gone.as_object_mut() {
        t.insert("legal_entity_id".into(), legal_entity_id.to_string().into());
    }
    journal::record_with_object(
        &txn,
        &caller.actor(),
        Change {
            entity_type: "contact",
            entity_id: c.id,
            action: "legal_entity_unlinked",
            before: Some(&before),
            after: None,
            comment: None,
        },
        gone,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
