//! `/activities`: tasks, calls, meetings and emails (ACT-1), their completion, time entries
//! on tasks, and reminders (ACT-2).
//!
//! An activity's owner (`owner_type`, `owner_id`) may be a record of another area (a deal, a
//! company, …); the reference is validated as a type, but its existence is not checked here.
//! A task's `responsible_id` is its assignee: the shared task inbox of SPEC §3 can add a role
//! or pool assignee next to it.

use crate::entity::{activity, activity_time_entry, reminder};
use crate::pagination::{CursorValue, SortKey};
use crate::records;
use crate::reminders::{self, TARGET_ACTIVITY};
use chrono::{DateTime, NaiveDate, Utc};
use sdelka_domain::work::{ActivityKind, CallDirection, OwnerType};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::Caller;
use super::dto::double_option;
use super::{Error, OpResult};

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
