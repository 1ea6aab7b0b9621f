//! The definition of a business process (WF-BP-1, WF-BP-2) as it travels in JSON: a template
//! bound to an entity type, its triggers and a block-structured list of steps of a small closed
//! set. A parallel fan-out joins at the end of its own block, a switch's branches rejoin after
//! it, and a `goto` only goes back — so every process can be drawn as nested boxes and every
//! join can be reasoned about. A definition is only data; [`super::publish`] checks it and
//! freezes it into a [`super::PublishedDefinition`].

use chrono::Duration;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::billing::{BillTime, BillingMode};
use crate::money::Money;
use crate::role::Role;

use super::predicate::Predicate;

/// The record a process runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    Lead,
    Deal,
    Company,
    Contact,
    Invoice,
    Contract,
    SupplierInvoice,
}

impl EntityType {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Lead => "lead",
            EntityType::Deal => "deal",
            EntityType::Company => "company",
            EntityType::Contact => "contact",
            EntityType::Invoice => "invoice",
            EntityType::Contract => "contract",
            EntityType::SupplierInvoice => "supplier_invoice",
        }
    }
}

/// A whole process definition: what the integrator writes and publishes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Definition {
    pub entity_type: EntityType,
    pub name: String,
    /// What starts an instance; none means "started by hand only".
    pub triggers: Vec<Trigger>,
    /// WF-BILL-1 for the whole template: every completed task of an instance bills its time
    /// into the deal in this mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_billing: Option<BillTime>,
    pub steps: Vec<Step>,
}

/// When an instance starts by itself (WF-BP-1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "on", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    Manual,
    /// The entity type's default process: it starts when the record is created.
    Created,
    StageEntered {
        stage: String,
    },
    /// A field changed; with `to`, only when it changed to that value.
    FieldChanged {
        field: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<serde_json::Value>,
    },
}

/// A step: its id (unique in the definition, what rounds, tasks, timers and the map name), an
/// optional title, and what kind of step it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(flatten)]
    pub body: StepBody,
}

/// The closed set of step kinds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepBody {
    Task(TaskStep),
    Parallel(ParallelStep),
    Switch(SwitchStep),
    Wait(WaitStep),
    Goto(GotoStep),
    End(EndStep),
    Action(ActionStep),
}

impl StepBody {
    pub fn kind(&self) -> &'static str {
        match self {
            StepBody::Task(_) => "task",
            StepBody::Parallel(_) => "parallel",
            StepBody::Switch(_) => "switch",
            StepBody::Wait(_) => "wait",
            StepBody::Goto(_) => "goto",
            StepBody::End(_) => "end",
            StepBody::Action(_) => "action",
        }
    }
}

/// The step kinds a definition may name, in the order the documentation lists them.
pub const STEP_KINDS: [&str; 7] = [
    "task", "parallel", "switch", "wait", "goto", "end", "action",
];

/// A length of time as the definition writes it: `{"days": 2, "hours": 4}`. Negative parts
/// are allowed where an offset may point back (a day before a date field).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Span {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub days: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hours: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub minutes: i32,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

impl Span {
    pub fn days(days: i32) -> Span {
        Span {
            days,
            ..Span::default()
        }
    }

    pub fn hours(hours: i32) -> Span {
        Span {
            hours,
            ..Span::default()
        }
    }

    pub fn duration(self) -> Duration {
        Duration::days(i64::from(self.days))
            + Duration::hours(i64::from(self.hours))
            + Duration::minutes(i64::from(self.minutes))
    }

    /// At most ten years either way, so that adding it to a time cannot overflow.
    pub fn in_range(self) -> bool {
        self.duration().num_days().abs() <= 3660
    }
}

/// Human work in the one task inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskStep {
    #[serde(default)]
    pub task_type: TaskType,
    /// One task per participant; completion decides over them.
    pub assignees: Vec<AssigneeSpec>,
    #[serde(default)]
    pub completion: Completion,
    /// The outcomes a task offers; none means a single `done`.
    #[serde(default)]
    pub outcomes: Vec<OutcomeSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Due>,
    /// What completing with an approving outcome needs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<Requirement>,
    /// WF-BP-6: what one completed task of this step costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<Sla>,
}

impl TaskStep {
    /// The outcomes offered, `done` when the definition names none.
    pub fn offered_outcomes(&self) -> Vec<OutcomeSpec> {
        if self.outcomes.is_empty() {
            vec![OutcomeSpec {
                id: "done".into(),
                label: None,
                verdict: Verdict::Approve,
                comment: None,
            }]
        } else {
            self.outcomes.clone()
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskType {
    #[default]
    Task,
    Call,
    Meeting,
}

/// Whom a task is for, as the definition names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AssigneeSpec {
    User {
        id: Uuid,
    },
    /// Any holder of the role may claim the task.
    Role {
        role: String,
    },
    /// Any member of the pool may claim it; the first one gets it.
    Pool {
        id: Uuid,
    },
    /// The entity's responsible user.
    Responsible,
    /// The supervisor of the entity's responsible user.
    Supervisor,
}

/// How several participants' tasks decide the step (SPEC §3: sequential, "all must approve",
/// quorum "N of M", "first one decides", "any may approve").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum Completion {
    /// The first completed task decides, whatever its outcome.
    First,
    /// One approval decides; rejected only when every participant rejected.
    Any,
    /// Every participant must approve; the first rejection decides.
    #[default]
    All,
    /// `n` approvals decide; rejected as soon as `n` can no longer be reached.
    Quorum { n: u32 },
}

/// What an outcome means for the completion rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    #[default]
    Approve,
    Reject,
    /// Back to the author: decides the step at once, whatever the completion rule.
    Rework,
}

/// A typed outcome a task offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeSpec {
    /// Snake-case name, e.g. `approve`, `return_for_rework`, `client_refuses`.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default)]
    pub verdict: Verdict,
    /// Whether a comment is required; by default rejecting and returning must say why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<CommentRule>,
}

impl OutcomeSpec {
    pub fn comment_required(&self) -> bool {
        match self.comment {
            Some(CommentRule::Required) => true,
            Some(CommentRule::Optional) => false,
            None => match self.verdict {
                Verdict::Reject | Verdict::Rework => true,
                Verdict::Approve => false,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentRule {
    Required,
    Optional,
}

/// When a task is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Due {
    /// This long after the step starts.
    After { after: Span },
    /// A date field of the entity, moved by `offset`.
    Field {
        field: String,
        #[serde(default)]
        offset: Span,
    },
}

/// What completing a task needs (checked for approving outcomes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Requirement {
    /// A document of this type attached to the entity (a file type or a sales document such
    /// as `quote`).
    Document { document_type: String },
    /// These fields of the entity filled.
    Fields { fields: Vec<String> },
}

/// Due-time rules (WF-CON-3): remind the assignee before, escalate to the supervisor after,
/// and repeat the escalation while the task stays open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_before: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_after: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<Repeat>,
}

/// Escalate again every `every`, at most `times` more times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    pub every: Span,
    pub times: u32,
}

/// A fan-out of branches that run side by side and join at the end of the block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParallelStep {
    pub join: Join,
    pub branches: Vec<Branch>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Branch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub steps: Vec<Step>,
}

/// When a parallel step is done: when all branches finished, any one, or `n` of them. The
/// branches still running then are cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Join {
    All,
    Any,
    N { n: u32 },
}

/// The first branch whose condition holds runs; `otherwise` when none holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SwitchStep {
    pub branches: Vec<Case>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otherwise: Option<Vec<Step>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub when: Predicate,
    pub steps: Vec<Step>,
}

/// A pause: a delay, until a date field, or until an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitStep {
    pub until: WaitFor,
    /// Give up waiting after this long (outcome `timed_out`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Span>,
    /// Do not wait at all when this already holds on entry (outcome `already`), e.g. the
    /// advance was paid before the step was reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_if: Option<Predicate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum WaitFor {
    Delay {
        delay: Span,
    },
    /// Until a date field of the entity (moved by `offset`); while the field is empty, until
    /// it is filled.
    DateField {
        field: String,
        #[serde(default)]
        offset: Span,
    },
    Event {
        event: EventSpec,
    },
}

/// An event of the entity a wait can listen for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventSpec {
    /// A payment was applied; with `min_percent`, only once the payment percent reaches it.
    PaymentReceived {
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "rust_decimal::serde::str_option"
        )]
        min_percent: Option<Decimal>,
    },
    FieldChanged {
        field: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<serde_json::Value>,
    },
    StageEntered {
        stage: String,
    },
    DocumentAttached {
        document_type: String,
    },
}

/// Back to an earlier step of the same block or of an enclosing one (a rework loop). Every
/// step from the target on starts a new round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GotoStep {
    pub target: String,
    /// After this many rounds of the target the goto lets the process go on instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rounds: Option<u32>,
}

/// The end of the whole process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndStep {
    pub result: EndResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndResult {
    Completed,
    Cancelled,
}

/// An automatic step: one operation of the closed catalogue, run exactly once per round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionStep {
    pub action: Action,
}

/// Whom a message is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Recipient {
    User {
        id: Uuid,
    },
    Role {
        role: String,
    },
    Pool {
        id: Uuid,
    },
    Responsible,
    Supervisor,
    /// The entity's contact, through his email.
    Contact,
}

/// The catalogue of automatic actions; each is an existing operation of the service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    Notify {
        to: Recipient,
        text: String,
    },
    /// Through the outbox.
    SendEmail {
        to: Recipient,
        subject: String,
        body: String,
    },
    SetField {
        field: String,
        value: serde_json::Value,
    },
    MoveToStage {
        stage: String,
    },
    CreateCalendarEvent {
        title: String,
        /// From the moment the action runs.
        starts_in: Span,
        duration: Span,
        participants: Vec<Recipient>,
    },
    CreateReminder {
        text: String,
        remind_in: Span,
        to: Recipient,
    },
    /// A quote or an invoice made from the deal.
    CreateDocument {
        document: DocumentKind,
    },
    /// Through the webhook delivery of the integration layer.
    CallWebhook {
        url: String,
        event: String,
    },
    /// WF-BILL-1: bill the time of a task step's tasks into the deal.
    BillTime {
        task: String,
        mode: BillingMode,
        /// As [`BillTime::hourly_rate`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hourly_rate: Option<Money>,
        #[serde(default)]
        notify_responsible: bool,
    },
    /// Start another published process on the same entity; with `wait`, as a sub-process
    /// whose end this step waits for (its result is the step's outcome).
    StartProcess {
        template: String,
        #[serde(default)]
        wait: bool,
    },
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Notify { .. } => "notify",
            Action::SendEmail { .. } => "send_email",
            Action::SetField { .. } => "set_field",
            Action::MoveToStage { .. } => "move_to_stage",
            Action::CreateCalendarEvent { .. } => "create_calendar_event",
            Action::CreateReminder { .. } => "create_reminder",
            Action::CreateDocument { .. } => "create_document",
            Action::CallWebhook { .. } => "call_webhook",
            Action::BillTime { .. } => "bill_time",
            Action::StartProcess { .. } => "start_process",
        }
    }

    /// Whether the step waits after the action for a sub-process to finish.
    pub fn waits(&self) -> bool {
        matches!(self, Action::StartProcess { wait: true, .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Quote,
    Invoice,
}

/// A role name of the definition, if it is one the service knows.
pub fn parse_role(name: &str) -> Option<Role> {
    name.parse().ok()
}
