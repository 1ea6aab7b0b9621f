//! `/activities`: tasks, calls, meetings and emails (ACT-1), their completion, time entries
//! on tasks, and reminders (ACT-2).
//!
//! An activity's owner (`owner_type`, `owner_id`) may be a record of another area (a deal, a
//! company, …); it must be a live record the caller may see (`refs::owner`).
//! A task's `responsible_id` is its assignee: the shared task inbox of SPEC §3 can add a role
//! or pool assignee next to it.

use crate::activities::{self, ActivityFilter, activities_query};
use crate::entity::{activity, activity_time_entry, reminder, user};
use crate::journal::now;
use crate::pagination::{CursorValue, SortKey, fetch_page};
use crate::records;
use crate::reminders::{self, TARGET_ACTIVITY};
use chrono::{DateTime, NaiveDate, Utc};
use sdelka_domain::work::{self as rules, ActivityKind, CallDirection, OwnerType};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::approvals::{follow_activity, open_activity_task};
use super::dto::double_option;
use super::{Caller, Db, Error, ErrorCode, ListPage, ListParams, OpResult, ensure_exists, present};

/// The kind of an activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActivityType {
    Task,
    Call,
    Meeting,
    Email,
}

impl From<ActivityType> for ActivityKind {
    fn from(t: ActivityType) -> Self {
        match t {
            ActivityType::Task => ActivityKind::Task,
            ActivityType::Call => ActivityKind::Call,
            ActivityType::Meeting => ActivityKind::Meeting,
            ActivityType::Email => ActivityKind::Email,
        }
    }
}

/// The type of record an activity, event or file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OwnerTypeName {
    Lead,
    Deal,
    Company,
    Contact,
    Invoice,
    Contract,
    Organization,
}

impl From<OwnerTypeName> for OwnerType {
    fn from(t: OwnerTypeName) -> Self {
        match t {
            OwnerTypeName::Lead => OwnerType::Lead,
            OwnerTypeName::Deal => OwnerType::Deal,
            OwnerTypeName::Company => OwnerType::Company,
            OwnerTypeName::Contact => OwnerType::Contact,
            OwnerTypeName::Invoice => OwnerType::Invoice,
            OwnerTypeName::Contract => OwnerType::Contract,
            OwnerTypeName::Organization => OwnerType::Organization,
        }
    }
}

/// Who called whom: `in` (the client called), `out` (we called).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallDirectionName {
    In,
    Out,
}

impl From<CallDirectionName> for CallDirection {
    fn from(d: CallDirectionName) -> Self {
        match d {
            CallDirectionName::In => CallDirection::In,
            CallDirectionName::Out => CallDirection::Out,
        }
    }
}

/// A reminder on an activity or calendar event.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReminderView {
    pub remind_at: DateTime<Utc>,
    pub message: Option<String>,
    /// `pending` until due, then `fired` (the notification is in the responsible's inbox).
    #[schema(example = "pending")]
    pub state: String,
    pub fired_at: Option<DateTime<Utc>>,
}

impl From<&reminder::Model> for ReminderView {
    fn from(r: &reminder::Model) -> Self {
        ReminderView {
            remind_at: r.remind_at,
            message: r.message.clone(),
            state: r.state.clone(),
            fired_at: r.fired_at,
        }
    }
}

/// An activity: task, call, meeting or email.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityView {
    pub id: Uuid,
    #[serde(rename = "type")]
    #[schema(value_type = ActivityType)]
    pub kind: String,
    #[schema(value_type = Option<OwnerTypeName>)]
    pub owner_type: Option<String>,
    pub owner_id: Option<Uuid>,
    #[schema(example = "Позвонить по счёту №17")]
    pub subject: String,
    pub description: Option<String>,
    /// Who does it (the assignee); visibility follows this user.
    pub responsible_id: Uuid,
    /// Who created it.
    pub author_id: Uuid,
    pub deadline: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// The outcome recorded on completion.
    pub result: Option<String>,
    #[schema(value_type = Option<CallDirectionName>)]
    pub call_direction: Option<String>,
    pub call_result: Option<String>,
    /// The current reminder, if one was set.
    pub reminder: Option<ReminderView>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ActivityView {
    pub fn new(a: &activity::Model, reminders: &[reminder::Model]) -> Self {
        ActivityView {
            id: a.id,
            kind: a.kind.clone(),
            owner_type: a.owner_type.clone(),
            owner_id: a.owner_id,
            subject: a.subject.clone(),
            description: a.description.clone(),
            responsible_id: a.responsible_id,
            author_id: a.author_id,
            deadline: a.deadline,
            completed_at: a.completed_at,
            result: a.result.clone(),
            call_direction: a.call_direction.clone(),
            call_result: a.call_result.clone(),
            reminder: reminders
                .iter()
                .find(|r| r.target_id == a.id)
                .map(ReminderView::from),
            version: a.version,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateActivity {
    #[serde(rename = "type")]
    pub kind: ActivityType,
    /// With `owner_id`: the record this activity is about.
    pub owner_type: Option<OwnerTypeName>,
    pub owner_id: Option<Uuid>,
    #[validate(length(min = 1, max = 500, message = "subject must be 1 to 500 characters"))]
    #[schema(example = "Позвонить по счёту №17")]
    pub subject: String,
    #[validate(length(max = 10000))]
    pub description: Option<String>,
    /// Default: the caller.
    pub responsible_id: Option<Uuid>,
    pub deadline: Option<DateTime<Utc>>,
    /// Calls only.
    pub call_direction: Option<CallDirectionName>,
    /// Calls only: how the call went.
    #[validate(length(max = 1000))]
    pub call_result: Option<String>,
    /// When to remind the responsible (a notification in the inbox, and an email if wanted).
    pub remind_at: Option<DateTime<Utc>>,
    #[validate(length(max = 2000))]
    pub reminder_message: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateActivity {
    #[validate(length(min = 1, max = 500, message = "subject must be 1 to 500 characters"))]
    pub subject: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub responsible_id: Option<Uuid>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub deadline: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<CallDirectionName>)]
    pub call_direction: Option<Option<CallDirectionName>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub call_result: Option<Option<String>>,
    /// A new reminder time (replaces the pending one); `null` cancels the pending reminder.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub remind_at: Option<Option<DateTime<Utc>>>,
    #[validate(length(max = 2000))]
    pub reminder_message: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteActivity {
    /// The outcome, e.g. "Клиент подтвердил оплату до пятницы".
    #[validate(length(min = 1, max = 5000, message = "result must be 1 to 5000 characters"))]
    pub result: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityListFilter {
    /// With `owner_id`: activities about one record.
    #[param(inline)]
    pub owner_type: Option<OwnerTypeName>,
    pub owner_id: Option<Uuid>,
    pub responsible_id: Option<Uuid>,
    #[serde(rename = "type")]
    #[param(rename = "type", inline)]
    pub kind: Option<ActivityType>,
    /// `true`: completed only; `false`: open only.
    pub completed: Option<bool>,
    /// Deadline at or after this instant.
    pub deadline_from: Option<DateTime<Utc>>,
    /// Deadline before this instant.
    pub deadline_to: Option<DateTime<Utc>>,
}

pub fn sorts() -> [SortKey<activity::Entity>; 3] {
    [
        SortKey {
            name: "created_at",
            column: activity::Column::CreatedAt,
            key: |m| CursorValue::Time(m.created_at),
        },
        SortKey {
            name: "updated_at",
            column: activity::Column::UpdatedAt,
            key: |m| CursorValue::Time(m.updated_at),
        },
        SortKey {
            name: "subject",
            column: activity::Column::Subject,
            key: |m| CursorValue::Text(m.subject.clone()),
        },
    ]
}

/// Reads an activity the caller may see; anything else is 404.
pub async fn visible_activity<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: Uuid,
) -> OpResult<activity::Model> {
    let a = records::find::<activity::Entity, _>(db, id).await?;
    if caller.visibility(db).await?.allows(Some(a.responsible_id)) {
        Ok(a)
    } else {
        Err(Error::not_found())
    }
}

/// Both halves of an owner reference, or neither.
pub fn owner_pair(
    owner_type: Option<OwnerTypeName>,
    owner_id: Option<Uuid>,
) -> OpResult<(Option<String>, Option<Uuid>)> {
    match (owner_type, owner_id) {
        (Some(t), Some(id)) => Ok((Some(OwnerType::from(t).as_str().to_owned()), Some(id))),
        (None, None) => Ok((None, None)),
        (Some(_), None) => Err(Error::field(
            "owner_id",
            "required",
            "owner_id is required with owner_type",
        )),
        (None, Some(_)) => Err(Error::field(
            "owner_type",
            "required",
            "owner_type is required with owner_id",
        )),
    }
}

pub async fn view_of<C: ConnectionTrait>(db: &C, a: &activity::Model) -> OpResult<ActivityView> {
    let r = reminders::latest_of(db, TARGET_ACTIVITY, &[a.id]).await?;
    Ok(ActivityView::new(a, &r))
}

/// Time spent on a task.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimeEntryView {
    pub id: Uuid,
    pub activity_id: Uuid,
    pub user_id: Uuid,
    #[schema(example = 90)]
    pub minutes: i32,
    /// The day the work was done.
    pub date: NaiveDate,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<&activity_time_entry::Model> for TimeEntryView {
    fn from(t: &activity_time_entry::Model) -> Self {
        TimeEntryView {
            id: t.id,
            activity_id: t.activity_id,
            user_id: t.user_id,
            minutes: t.minutes,
            date: t.work_date,
            comment: t.comment.clone(),
            created_at: t.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimeEntryList {
    pub items: Vec<TimeEntryView>,
    /// Sum of `minutes` over all entries.
    pub total_minutes: i64,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTimeEntry {
    /// Who worked; default: the caller.
    pub user_id: Option<Uuid>,
    #[validate(range(min = 1, max = 1440, message = "minutes must be between 1 and 1440"))]
    pub minutes: i32,
    /// `YYYY-MM-DD`.
    pub date: NaiveDate,
    #[validate(length(max = 2000))]
    pub comment: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Operations

/// The activity's view with the reminders given (the presenter of a write, which knows them
/// before the record is written).
fn public_with(reminders: &[reminder::Model]) -> impl Fn(&activity::Model) -> serde_json::Value {
    move |a| present(&ActivityView::new(a, reminders))
}

/// The activities the caller may see (his own, and his team's for a head), a page at a time.
pub async fn list_activities(
    db: Db<'_>,
    caller: &Caller,
    page: &ListParams,
    f: ActivityListFilter,
) -> OpResult<ListPage<ActivityView>> {
    let sorts = sorts();
    let req = page.page_request(&sorts, "created_at")?;
    let query = activities_query(&ActivityFilter {
        owner_type: f.owner_type.map(|t| OwnerType::from(t).as_str().to_owned()),
        owner_id: f.owner_id,
        responsible_id: f.responsible_id,
        kind: f.kind.map(|k| ActivityKind::from(k).as_str().to_owned()),
        completed: f.completed,
        deadline_from: f.deadline_from,
        deadline_to: f.deadline_to,
        updated_since: page.updated_since,
    });
    let query = caller
        .visibility(&db)
        .await?
        .apply(query, activity::Column::ResponsibleId);
    let page = fetch_page(&db, query, req, activity::Column::Id, |m| m.id).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|a| a.id).collect();
    let r = reminders::latest_of(&db, TARGET_ACTIVITY, &ids).await?;
    Ok(ListPage::of(page, |a| ActivityView::new(a, &r)))
}

/// Creates an activity, optionally with a reminder for its responsible; a task also opens
/// its task in the shared inbox.
pub async fn create_activity(
    db: Db<'_>,
    caller: &Caller,
    req: CreateActivity,
) -> OpResult<ActivityView> {
    let kind = ActivityKind::from(req.kind);
    let (owner_type, owner_id) = owner_pair(req.owner_type, req.owner_id)?;
    if !kind.is_call() && (req.call_direction.is_some() || req.call_result.is_some()) {
        return Err(Error::field(
            "call_direction",
            "only_for_calls",
            "call_direction and call_result are kept for calls only",
        ));
    }
    let responsible_id = req.responsible_id.unwrap_or(caller.user_id);
    let at = now();
    let model = activity::Model {
        id: Uuid::now_v7(),
        kind: kind.as_str().to_owned(),
        owner_type,
        owner_id,
        subject: req.subject.trim().to_owned(),
        description: req.description,
        responsible_id,
        author_id: caller.user_id,
        deadline: req.deadline,
        completed_at: None,
        result: None,
        call_direction: req
            .call_direction
            .map(|d| CallDirection::from(d).as_str().to_owned()),
        call_result: req.call_result,
        version: 1,
        created_at: at,
        updated_at: at,
        deleted_at: None,
    };
    let txn = db.begin().await?;
    super::refs::assignee(&txn, "responsible_id", responsible_id).await?;
    if let (Some(t), Some(o)) = (req.owner_type, req.owner_id) {
        super::refs::owner(&txn, caller, t.into(), o).await?;
    }
    // The reminder is scheduled first, so that the creation's event shows it.
    let mut scheduled = Vec::new();
    if let Some(remind_at) = req.remind_at {
        scheduled.push(
            reminders::schedule(
                &txn,
                TARGET_ACTIVITY,
                model.id,
                remind_at,
                req.reminder_message,
            )
            .await?,
        );
    }
    let model = records::create::<activity::Entity, _>(
        &txn,
        &caller.actor(),
        model,
        public_with(&scheduled),
    )
    .await?;
    // An activity of type task is a task of the shared inbox (SPEC §3).
    if kind.takes_time_entries() {
        open_activity_task(&txn, caller, &model).await?;
    }
    let view = view_of(&txn, &model).await?;
    txn.commit().await?;
    Ok(view)
}

/// One activity the caller may see.
pub async fn get_activity(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<ActivityView> {
    let a = visible_activity(&db, caller, id).await?;
    view_of(&db, &a).await
}

/// Changes an activity; `remind_at` reschedules (or with `null` cancels) its reminder.
pub async fn update_activity(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
    req: UpdateActivity,
) -> OpResult<ActivityView> {
    let txn = db.begin().await?;
    let current = visible_activity(&txn, caller, id).await?;
    if let Some(r) = req.responsible_id
        && r != current.responsible_id
    {
        super::refs::assignee(&txn, "responsible_id", r).await?;
    }
    // The reminder changes first, so that the update's event shows the reminder as it is
    // after the write (and the audit diff, as it was before).
    let before = reminders::latest_of(&txn, TARGET_ACTIVITY, &[id]).await?;
    match req.remind_at {
        Some(Some(t)) => {
            reminders::schedule(&txn, TARGET_ACTIVITY, id, t, req.reminder_message).await?;
        }
        Some(None) => {
            reminders::cancel_pending(&txn, TARGET_ACTIVITY, id).await?;
        }
        None => {}
    }
    let after = reminders::latest_of(&txn, TARGET_ACTIVITY, &[id]).await?;
    let updated = records::update::<activity::Entity, _, _, Error>(
        &txn,
        &caller.actor(),
        id,
        if_match,
        |a| {
            let is_call = ActivityKind::parse(&a.kind).is_some_and(ActivityKind::is_call);
            if !is_call && (req.call_direction.is_some() || req.call_result.is_some()) {
                return Err(Error::field(
                    "call_direction",
                    "only_for_calls",
                    "call_direction and call_result are kept for calls only",
                ));
            }
            if let Some(s) = &req.subject {
                a.subject = s.trim().to_owned();
            }
            if let Some(d) = &req.description {
                a.description = d.clone();
            }
            if let Some(r) = req.responsible_id {
                a.responsible_id = r;
            }
            if let Some(d) = req.deadline {
                a.deadline = d;
            }
            if let Some(d) = req.call_direction {
                a.call_direction = d.map(|d| CallDirection::from(d).as_str().to_owned());
            }
            if let Some(r) = &req.call_result {
                a.call_result = r.clone();
            }
            Ok(())
        },
        |a| {
            let r = if a.version == current.version {
                &before
            } else {
                &after
            };
            present(&ActivityView::new(a, r))
        },
    )
    .await??;
    follow_activity(&txn, caller, &updated, false).await?;
    let view = view_of(&txn, &updated).await?;
    txn.commit().await?;
    Ok(view)
}

/// Deletes an activity (kept for the audit trail); its pending reminder is cancelled and its
/// inbox task with it.
pub async fn delete_activity(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    if_match: Option<i32>,
) -> OpResult<()> {
    let txn = db.begin().await?;
    visible_activity(&txn, caller, id).await?;
    let current = reminders::latest_of(&txn, TARGET_ACTIVITY, &[id]).await?;
    records::soft_delete::<activity::Entity, _>(
        &txn,
        &caller.actor(),
        id,
        if_match,
        public_with(&current),
    )
    .await?;
    reminders::cancel_pending(&txn, TARGET_ACTIVITY, id).await?;
    let deleted = activity::Entity::find_by_id(id).one(&txn).await?;
    if let Some(a) = deleted {
        follow_activity(&txn, caller, &a, true).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Completes an activity with its result, once: a second attempt is a conflict. Its reminder
/// is cancelled and its inbox task completed with it.
pub async fn complete_activity(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    req: CompleteActivity,
) -> OpResult<ActivityView> {
    let result = req.result;
    let txn = db.begin().await?;
    let current = visible_activity(&txn, caller, id).await?;
    let before = reminders::latest_of(&txn, TARGET_ACTIVITY, &[id]).await?;
    // Nothing is left to remind of.
    reminders::cancel_pending(&txn, TARGET_ACTIVITY, id).await?;
    let after = reminders::latest_of(&txn, TARGET_ACTIVITY, &[id]).await?;
    let updated = records::update::<activity::Entity, _, _, Error>(
        &txn,
        &caller.actor(),
        id,
        None,
        |a| {
            let at = rules::complete(a.completed_at, now())
                .map_err(|e| Error::new(ErrorCode::Conflict, e.to_string()))?;
            a.completed_at = Some(at);
            a.result = Some(result.trim().to_owned());
            Ok(())
        },
        |a| {
            let r = if a.version == current.version {
                &before
            } else {
                &after
            };
            present(&ActivityView::new(a, r))
        },
    )
    .await??;
    // Its inbox task is completed with it.
    follow_activity(&txn, caller, &updated, false).await?;
    let view = view_of(&txn, &updated).await?;
    txn.commit().await?;
    Ok(view)
}

/// The time entries of an activity the caller may see.
pub async fn list_time_entries(db: Db<'_>, caller: &Caller, id: Uuid) -> OpResult<TimeEntryList> {
    let a = visible_activity(&db, caller, id).await?;
    let entries = activities::time_entries(&db, a.id).await?;
    Ok(TimeEntryList {
        total_minutes: entries.iter().map(|e| i64::from(e.minutes)).sum(),
        items: entries.iter().map(TimeEntryView::from).collect(),
    })
}

/// A recorded time entry and its record version.
pub struct TimeEntryAdded {
    pub entry: TimeEntryView,
    pub version: i32,
}

/// Records time spent on a task (tasks only).
pub async fn add_time_entry(
    db: Db<'_>,
    caller: &Caller,
    id: Uuid,
    req: NewTimeEntry,
) -> OpResult<TimeEntryAdded> {
    let txn = db.begin().await?;
    let a = visible_activity(&txn, caller, id).await?;
    if !ActivityKind::parse(&a.kind).is_some_and(ActivityKind::takes_time_entries) {
        return Err(Error::field(
            "activity_id",
            "not_a_task",
            format!(
                "time entries are kept for tasks only; this activity is a {}",
                a.kind
            ),
        ));
    }
    let user_id = req.user_id.unwrap_or(caller.user_id);
    ensure_exists::<user::Entity, _>(&txn, "user_id", user_id).await?;
    let at = now();
    let entry = records::create::<activity_time_entry::Entity, _>(
        &txn,
        &caller.actor(),
        activity_time_entry::Model {
            id: Uuid::now_v7(),
            activity_id: a.id,
            user_id,
            minutes: req.minutes,
            work_date: req.date,
            comment: req.comment,
            version: 1,
            created_at: at,
            updated_at: at,
            deleted_at: None,
        },
        |e| present(&TimeEntryView::from(e)),
    )
    .await?;
    txn.commit().await?;
    Ok(TimeEntryAdded {
        entry: TimeEntryView::from(&entry),
        version: entry.version,
    })
}
