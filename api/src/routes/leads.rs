//! `/leads` (CRM-4): unqualified requests and cold-list rows, worked to qualified or junk.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use sdelka_domain::lead::{
    LeadCategory, LeadFields, LeadRefusal, LeadSource, LeadStatus, change_status, check_lead_fields,
};
use sdelka_domain::money::Money;
use sdelka_persistence::entity::{lead, user};
use sdelka_persistence::journal::now;
use sdelka_persistence::leads::{LeadFilter, leads_query, search_text};
use sdelka_persistence::pagination::fetch_page;
use sdelka_persistence::records;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{IfMatch, JsonBody};
use crate::lists::{ListPage, ListParams};
use crate::routes::{created, ensure_exists, versioned};
use crate::state::AppState;
#[allow(unused_imports)]
use sdelka_persistence::ops::leads::*;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_leads)
        .service(create_lead)
        .service(get_lead)
        .service(update_lead)
        .service(delete_lead)
        .service(convert_lead);
}

/// Lists the leads the caller may see.
#[utoipa::path(
    tag = "clients",
    params(ListParams, LeadListFilter),
    responses((status = 200, description = "A page of leads", body = ListPage<LeadView>))
)]
#[get("/leads")]
pub async fn list_leads(
    state: web::Data<AppState>,
    caller: Principal,
    page: web::Query<ListParams>,
    filter: web::Query<LeadListFilter>,
) -> ApiResult<HttpResponse> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let f = filter.into_inner();
    let scope = caller.visibility(&state.store.conn).await?;
    let query = scope.apply(
        leads_query(&LeadFilter {
            q: f.q,
            status: f.status.map(|s| LeadStatus::from(s).as_str().to_owned()),
            category: f
                .category
                .map(|c| LeadCategory::from(c).as_str().to_owned()),
            source: f.source.map(|s| LeadSource::from(s).as_str().to_owned()),
            responsible_id: f.responsible_id,
            import_id: f.import_id,
            external_id: f.external_id,
            updated_since: page.updated_since,
        }),
        lead::Column::ResponsibleId,
    );
    let page = fetch_page(&state.store.conn, query, req, lead::Column::Id, |m| m.id).await?;
    Ok(HttpResponse::Ok().json(ListPage::of(page, |l| LeadView::from(l))))
}

/// Registers a lead. The caller is its responsible unless another user is named.
#[utoipa::path(
    tag = "clients",
    request_body = CreateLead,
    responses((status = 201, description = "Created", body = LeadView))
)]
#[post("/leads")]
pub async fn create_lead(
    state: web::Data<AppState>,
    caller: Principal,
    body: JsonBody<CreateLead>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    let fields = check_lead_fields(&LeadFields {
        title: req.title,
        company_name: req.company_name,
        contact_name: req.contact_name,
        phone: req.phone,
        email: req.email,
        inn: req.inn,
        address: req.address,
        comment: req.comment,
        category: req
            .category
            .map(|c| LeadCategory::from(c).as_str().to_owned()),
        potential_amount: req.potential_amount,
        probability: req.probability.map(|p| p.to_string()),
        external_id: req.external_id,
    })?;
    let responsible = req.responsible_id.unwrap_or(caller.user_id);
    let model = new_lead(
        fields,
        req.source
            .map(LeadSource::from)
            .unwrap_or(LeadSource::Manual),
        responsible,
    )?;
    let txn = state.store.begin().await?;
    if responsible != caller.user_id {
        ensure_exists::<user::Entity, _>(&txn, "responsible_id", responsible).await?;
    }
    let model =
        records::create::<lead::Entity, _>(&txn, &caller.actor(), model, records::snapshot).await?;
    txn.commit().await?;
    Ok(created(
        format!("/api/v1/leads/{}", model.id),
        model.version,
        &LeadView::from(&model),
    ))
}

/// Reads one lead.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Lead id")),
    responses((status = 200, description = "The lead", body = LeadView))
)]
#[get("/leads/{id}")]
pub async fn get_lead(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let l = visible_lead(&state.store.conn, &caller, id.into_inner()).await?;
    Ok(versioned(StatusCode::OK, l.version, &LeadView::from(&l)))
}

/// Changes a lead: its fields, its qualification, or its status.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Lead id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    request_body = UpdateLead,
    responses((status = 200, description = "Updated", body = LeadView))
)]
#[patch("/leads/{id}")]
pub async fn update_lead(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateLead>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let req = body.0;
    visible_lead(&state.store.conn, &caller, id).await?;
    let txn = state.store.begin().await?;
    if let Some(r) = req.responsible_id {
        ensure_exists::<user::Entity, _>(&txn, "responsible_id", r).await?;
    }
    let updated = records::update::<lead::Entity, _, _, ApiError>(
        &txn,
        &caller.actor(),
        id,
        if_match.0,
        |l| {
            // Re-check the merged fields as a whole, the same rules as on create.
            let merged = LeadFields {
                title: req.title.clone().or(Some(l.title.clone())),
                company_name: req.company_name.clone().unwrap_or(l.company_name.clone()),
                contact_name: req.contact_name.clone().unwrap_or(l.contact_name.clone()),
                phone: req.phone.clone().unwrap_or(l.phone.clone()),
                email: req.email.clone().unwrap_or(l.email.clone()),
                inn: req.inn.clone().unwrap_or(l.inn.clone()),
                address: req.address.clone().unwrap_or(l.address.clone()),
                comment: req.comment.clone().unwrap_or(l.comment.clone()),
                category: req
                    .category
                    .map(|c| c.map(|c| LeadCategory::from(c).as_str().to_owned()))
                    .unwrap_or(l.category.clone()),
                potential_amount: req.potential_amount.clone().unwrap_or(
                    l.potential_amount_minor
                        .map(|m| Money::from_minor(m).to_string()),
                ),
                probability: req
                    .probability
                    .unwrap_or(l.probability)
                    .map(|p| p.to_string()),
                external_id: l.external_id.clone(),
            };
            let f = check_lead_fields(&merged)?;
            if let Some(to) = req.status {
                let from = LeadStatus::parse(&l.status).unwrap_or(LeadStatus::New);
                let next = change_status(from, to.into()).map_err(refusal)?;
                l.status = next.as_str().to_owned();
            }
            l.title = f.title;
            l.company_name = f.company_name;
            l.contact_name = f.contact_name;
            l.phone = f.phone;
            l.email = f.email.map(|e| e.as_str().to_owned());
            l.inn = f.inn.map(|i| i.as_str().to_owned());
            l.address = f.address;
            l.comment = f.comment;
            l.category = f.category.map(|c| c.as_str().to_owned());
            l.potential_amount_minor = f
                .potential_amount
                .map(|m| m.to_minor())
                .transpose()
                .map_err(|e| ApiError::field("potential_amount", "out_of_range", e.to_string()))?;
            l.probability = f.probability;
            if let Some(r) = req.responsible_id {
                l.responsible_id = r;
            }
            l.search_text = search_text(l);
            Ok(())
        },
        records::snapshot,
    )
    .await??;
    txn.commit().await?;
    Ok(versioned(
        StatusCode::OK,
        updated.version,
        &LeadView::from(&updated),
    ))
}

/// Deletes a lead (kept for the audit trail).
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Lead id"), ("If-Match" = Option<String>, Header, description = "ETag of the version you read")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/leads/{id}")]
pub async fn delete_lead(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    visible_lead(&state.store.conn, &caller, id).await?;
    let txn = state.store.begin().await?;
    records::soft_delete::<lead::Entity, _>(
        &txn,
        &caller.actor(),
        id,
        if_match.0,
        records::snapshot,
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Converts a lead, exactly once, into a company and/or a contact and/or a deal, all in one
/// transaction, keeping the links both ways: the lead records what it became, the deal carries
/// the company and contact. A second conversion is 409 `already_converted`; a junk lead is 409
/// `invalid_transition`. The lead becomes `qualified`.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Lead id")),
    request_body = ConvertLead,
    responses((status = 200, description = "Converted", body = Conversion))
)]
#[post("/leads/{id}/convert")]
pub async fn convert_lead(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<Uuid>,
    body: JsonBody<ConvertLead>,
) -> ApiResult<HttpResponse> {
    use sdelka_domain::clients::Phone;
    let id = id.into_inner();
    let req = body.0;
    let lead = visible_lead(&state.store.conn, &caller, id).await?;
    sdelka_domain::lead::convert(
        LeadStatus::parse(&lead.status).unwrap_or(LeadStatus::New),
        lead.converted_at.is_some(),
    )
    .map_err(refusal)?;
    let make_company = req
        .create_company
        .unwrap_or(lead.company_name.is_some() && req.company_id.is_none());
    let make_contact = req.create_contact.unwrap_or(lead.contact_name.is_some());
    let make_deal = req.create_deal.unwrap_or(true);
    if make_company && req.company_id.is_some() {
        return Err(ApiError::field(
            "company_id",
            "conflicting",
            "either create a company or name one, not both",
        ));
    }
    if !(make_company || make_contact || make_deal || req.company_id.is_some()) {
        return Err(ApiError::field(
            "create_deal",
            "nothing_to_do",
            "a conversion creates or links at least one record",
        ));
    }
    if make_deal && !<crate::auth::SalesStaffOnly as crate::auth::Policy>::allows(&caller) {
        return Err(ApiError::forbidden(
            "creating a deal needs the role admin, head or sales_manager",
        ));
    }
    let txn = state.store.begin().await?;
    let actor = caller.actor();
    if let Some(c) = req.company_id {
        sdelka_persistence::ops::access::ensure_visible(
            &txn,
            &caller,
            sdelka_persistence::ops::timeline::TimelineEntity::Companies,
            c,
            false,
        )
        .await
        .map_err(|_| {
            ApiError::field(
                "company_id",
                "not_found",
                format!("company {c} does not exist"),
            )
        })?;
    }
    let company_id = if make_company {
        let Some(name) = lead.company_name.clone() else {
            return Err(ApiError::field(
                "company_name",
                "required",
                "the lead has no company name to create a company from",
            ));
        };
        let mut company = sdelka_persistence::ops::companies::new_company(
            name,
            lead.responsible_id,
            &[sdelka_persistence::ops::companies::CompanyType::Client],
        );
        company.source = Some(format!("lead:{}", lead.source));
        Some(
            records::create::<sdelka_persistence::entity::company::Entity, _>(
                &txn,
                &actor,
                company,
                records::snapshot,
            )
            .await?
            .id,
        )
    } else {
        req.company_id
    };
    let contact_id = if make_contact {
        let Some(full_name) = lead.contact_name.clone() else {
            return Err(ApiError::field(
                "contact_name",
                "required",
                "the lead has no contact name to create a contact from",
            ));
        };
        let phones = match &lead.phone {
            Some(p) => vec![
                Phone::parse(p)
                    .map_err(|e| {
                        ApiError::field(
                            "phone",
                            "invalid_phone",
                            format!("fix the lead's phone before converting it: {e}"),
                        )
                    })?
                    .as_str()
                    .to_owned(),
            ],
            None => Vec::new(),
        };
        let (last, first, middle) = split_person_name(&full_name);
        let mut contact = sdelka_persistence::ops::contacts::new_contact(
            last,
            phones,
            lead.email.clone().into_iter().collect(),
            lead.responsible_id,
        );
        contact.first_name = first;
        contact.middle_name = middle;
        sdelka_persistence::ops::contacts::refresh_search(&mut contact);
        Some(
            records::create::<sdelka_persistence::entity::contact::Entity, _>(
                &txn,
                &actor,
                contact,
                records::snapshot,
            )
            .await?
            .id,
        )
    } else {
        None
    };
    let deal_id = if make_deal {
        let deal = sdelka_persistence::ops::deals::open_deal(
            &txn,
            &caller,
            sdelka_persistence::ops::deals::NewDeal {
                title: req.deal_title.clone().unwrap_or_else(|| lead.title.clone()),
                pipeline_id: req.pipeline_id,
                stage_id: None,
                company_id,
                legal_entity_id: None,
                contact_ids: contact_id.into_iter().collect(),
                responsible_id: Some(lead.responsible_id),
                currency: lead.currency.clone(),
                amount_minor: lead.potential_amount_minor.unwrap_or(0),
                expected_close_date: None,
                loss_reason: None,
                order_number: None,
                invoice_numbers: Vec::new(),
                source: Some(format!("lead:{}", lead.id)),
                external_id: None,
            },
        )
        .await?;
        Some(deal.id)
    } else {
        None
    };
    let converted = records::update::<lead::Entity, _, _, ApiError>(
        &txn,
        &actor,
        id,
        Some(lead.version),
        |l| {
            let next = sdelka_domain::lead::convert(
                LeadStatus::parse(&l.status).unwrap_or(LeadStatus::New),
                l.converted_at.is_some(),
            )
            .map_err(refusal)?;
            l.status = next.as_str().to_owned();
            l.converted_at = Some(now());
            l.converted_company_id = company_id;
            l.converted_contact_id = contact_id;
            l.converted_deal_id = deal_id;
            Ok(())
        },
        records::snapshot,
    )
    .await;
    let converted = match converted {
        Ok(result) => result?,
        // Another conversion committed between our read and our write.
        Err(sdelka_persistence::StoreError::StaleVersion { .. }) => {
            return Err(refusal(LeadRefusal::AlreadyConverted).into());
        }
        Err(e) => return Err(e.into()),
    };
    txn.commit().await?;
    Ok(HttpResponse::Ok().json(Conversion {
        lead: LeadView::from(&converted),
        company_id,
        contact_id,
        deal_id,
    }))
}
