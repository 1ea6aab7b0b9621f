//! Execution (WF-BP-2, WF-BP-3): one pure function from (definition, instance state, input,
//! the entity as it is now, the time) to the next state and the effects, or a typed refusal.
//! The persistence layer runs it under a lock on the instance and writes what it returns:
//! tasks, timers and outbox rows keyed so that a repeated write is harmless.
//!
//! Every effect carries a key that is unique for the instance: tasks by step, round and
//! participant, actions and timers by step and round. A timer that fires for a step that has
//! moved on (another round, already done, cancelled) is stale and changes nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::Money;
use crate::role::Role;
use crate::workflow::WrongState;

use super::definition::*;
use super::predicate::{Facts, FieldValue};
use super::validate::{PublishedDefinition, join_needs};

/// The entity the instance runs on, as it is when the input is processed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntityFacts {
    pub fields: BTreeMap<String, FieldValue>,
    pub responsible: Option<Uuid>,
    /// The supervisor of the responsible user (his department's head).
    pub supervisor: Option<Uuid>,
}

/// Whom a created task is for, resolved from the definition's assignee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Participant {
    User(Uuid),
    Role(Role),
    Pool(Uuid),
}

impl Participant {
    pub fn to_task_assignee(self) -> crate::task::Assignee {
        match self {
            Participant::User(u) => crate::task::Assignee::User(u),
            Participant::Role(r) => crate::task::Assignee::Role(r),
            Participant::Pool(p) => crate::task::Assignee::Pool(p),
        }
    }
}

/// The idempotency key of one task: step, round and participant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskKey {
    pub step: String,
    pub round: u32,
    pub participant: u32,
}

impl std::fmt::Display for TaskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}#{}", self.step, self.round, self.participant)
    }
}

/// The key of an action run: it runs once per step and round.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ActionKey {
    pub step: String,
    pub round: u32,
}

impl std::fmt::Display for ActionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.step, self.round)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimerPurpose {
    /// The end of a wait step's delay or date.
    Wait,
    /// A wait gives up.
    Timeout,
    /// Remind the assignees before the due time.
    Remind,
    /// Escalate to the supervisors; `repeat` counts the repetitions.
    Escalate { repeat: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TimerKey {
    pub step: String,
    pub round: u32,
    pub purpose: TimerPurpose,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledTimer {
    pub key: TimerKey,
    pub at: DateTime<Utc>,
}

/// What the instance as a whole is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum InstanceStatus {
    NotStarted,
    Running,
    Completed,
    Cancelled { reason: String },
}

impl InstanceStatus {
    pub fn name(&self) -> &'static str {
        match self {
            InstanceStatus::NotStarted => "not_started",
            InstanceStatus::Running => "running",
            InstanceStatus::Completed => "completed",
            InstanceStatus::Cancelled { .. } => "cancelled",
        }
    }
}

/// A step's state on the process map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Not reached (yet) in this round.
    Pending,
    /// Running: tasks open, branches running.
    Active,
    /// Waiting for a time, an event or a sub-process.
    Waiting,
    Done,
    /// Not taken: another branch of a switch ran, or the process ended before it.
    Skipped,
    /// Stopped while it ran: its parallel branch lost the join, or the process was cancelled.
    Cancelled,
}

impl StepStatus {
    pub fn name(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Active => "active",
            StepStatus::Waiting => "waiting",
            StepStatus::Done => "done",
            StepStatus::Skipped => "skipped",
            StepStatus::Cancelled => "cancelled",
        }
    }

    pub fn is_open(self) -> bool {
        matches!(self, StepStatus::Active | StepStatus::Waiting)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Open,
    Completed,
    /// Closed without its participant: the step was decided by others, or stopped.
    Closed,
}

/// One participant's task of a task step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantTask {
    pub key: TaskKey,
    pub assignee: Participant,
    pub state: TaskState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_by: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
}

/// A finished round of a step, kept for the map and the reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastRound {
    pub round: u32,
    pub status: StepStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub tasks: Vec<ParticipantTask>,
}

/// Everything the map needs to know of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepState {
    pub status: StepStatus,
    /// 1 on the first pass; every jump back over the step adds one.
    pub round: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub tasks: Vec<ParticipantTask>,
    pub outcome: Option<String>,
    /// The cost of the step's completed tasks over all rounds (WF-BP-6).
    pub cost: Money,
    /// A switch: the branch taken (`otherwise` is the last). A parallel step: the branches
    /// that have reached the join.
    pub branches: Vec<usize>,
    pub reminded: bool,
    pub escalations: u32,
    pub history: Vec<PastRound>,
}

impl StepState {
    fn new() -> StepState {
        StepState {
            status: StepStatus::Pending,
            round: 1,
            started_at: None,
            finished_at: None,
            due_at: None,
            tasks: Vec::new(),
            outcome: None,
            cost: Money::ZERO,
            branches: Vec::new(),
            reminded: false,
            escalations: 0,
            history: Vec::new(),
        }
    }
}

/// A transition taken, for the map's edges. `from` is `start` for the first step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub round: u32,
    pub at: DateTime<Utc>,
}

/// The whole state of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceState {
    #[serde(flatten)]
    pub status: InstanceStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub steps: BTreeMap<String, StepState>,
    pub edges: Vec<Edge>,
    pub timers: Vec<ScheduledTimer>,
    /// The sum of the costs of its completed tasks.
    pub cost: Money,
}

impl Default for InstanceState {
    fn default() -> Self {
        InstanceState::new()
    }
}

impl InstanceState {
    pub fn new() -> InstanceState {
        InstanceState {
            status: InstanceStatus::NotStarted,
            started_at: None,
            finished_at: None,
            steps: BTreeMap::new(),
            edges: Vec::new(),
            timers: Vec::new(),
            cost: Money::ZERO,
        }
    }

    /// The open tasks of the instance.
    pub fn open_tasks(&self) -> impl Iterator<Item = &ParticipantTask> {
        self.steps
            .values()
            .flat_map(|s| s.tasks.iter())
            .filter(|t| t.state == TaskState::Open)
    }
}

/// A completed task as the task inbox reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskCompletion {
    pub task: TaskKey,
    pub by: Uuid,
    pub outcome: String,
    pub comment: String,
    /// Document types attached to the entity or the task.
    pub documents: Vec<String>,
    /// Fields filled with the completion (the entity's own filled fields count too).
    pub filled_fields: Vec<String>,
}

/// Something that happened to the entity.
#[derive(Debug, Clone, PartialEq)]
pub enum EntityEvent {
    PaymentReceived { payment_percent: Decimal },
    FieldChanged { field: String, value: FieldValue },
    StageEntered { stage: String },
    DocumentAttached { document_type: String },
}

/// What an instance is told.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Start,
    TaskCompleted(TaskCompletion),
    TimerFired(TimerKey),
    Entity(EntityEvent),
    SubProcessFinished {
        action: ActionKey,
        result: EndResult,
    },
    Cancel {
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// Its participant completed it.
    Completed,
    /// The step was decided without it (first / any / quorum), or its branch lost the join.
    Superseded,
    /// The process ended or was cancelled, or a jump back left the step.
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NotifyKind {
    /// The task is due soon: tell its assignee.
    Reminder,
    /// The task is overdue: tell the assignee's supervisor.
    Escalation { repeat: u32 },
}

/// What the persistence layer must do, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    CreateTask {
        key: TaskKey,
        title: String,
        task_type: TaskType,
        assignee: Participant,
        due_at: Option<DateTime<Utc>>,
        outcomes: Vec<OutcomeSpec>,
        requires: Vec<Requirement>,
        cost: Option<Money>,
    },
    CloseTask {
        key: TaskKey,
        reason: CloseReason,
    },
    ScheduleTimer {
        key: TimerKey,
        at: DateTime<Utc>,
    },
    CancelTimer {
        key: TimerKey,
    },
    /// Run an action of the catalogue, once for this key.
    RunAction {
        key: ActionKey,
        action: Action,
    },
    /// WF-BILL-1 for a completed task, once for this key.
    BillTask {
        key: TaskKey,
        mode: BillingMode,
        hourly_rate: Option<Money>,
        notify_responsible: bool,
    },
    Notify {
        kind: NotifyKind,
        task: TaskKey,
        assignee: Participant,
        due_at: Option<DateTime<Utc>>,
    },
    Finished {
        result: EndResult,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

/// The outcome of processing one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub state: InstanceState,
    pub effects: Vec<Effect>,
}

/// Why an input was refused. Nothing changes on a refusal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessRefusal {
    #[error("the process instance is {state}")]
    NotRunning { state: &'static str },
    #[error("the process instance has already started")]
    AlreadyStarted,
    #[error("the task {task} does not belong to this process instance")]
    UnknownTask { task: String },
    #[error("the task {task} is closed")]
    TaskClosed { task: String },
    #[error("only the assignee of the task may complete it")]
    NotYourTask,
    #[error("this task offers the outcomes {allowed}")]
    OutcomeNotOffered { allowed: String },
    #[error("the outcome {outcome} needs a comment saying why")]
    CommentRequired { outcome: String },
    #[error("the task requires a document of type {document_type} attached")]
    DocumentRequired { document_type: String },
    #[error("the task requires the fields {fields} filled")]
    FieldsRequired { fields: String },
    #[error("cancelling needs a reason")]
    ReasonRequired,
    /// The definition was validated against loops that do not wait; this is the safety net.
    #[error("the process ran {0} steps on one input without waiting")]
    Runaway(u32),
    #[error("the instance state does not match its definition: {0}")]
    Inconsistent(String),
}

impl crate::workflow::Refusal for ProcessRefusal {
    fn wrong_state(&self) -> Option<WrongState> {
        match self {
            ProcessRefusal::NotRunning { state } => Some(WrongState {
                current: state,
                allowed: Vec::new(),
            }),
            ProcessRefusal::AlreadyStarted => Some(WrongState {
                current: "running",
                allowed: vec!["cancel"],
            }),
            ProcessRefusal::UnknownTask { .. }
            | ProcessRefusal::TaskClosed { .. }
            | ProcessRefusal::NotYourTask
            | ProcessRefusal::OutcomeNotOffered { .. }
            | ProcessRefusal::CommentRequired { .. }
            | ProcessRefusal::DocumentRequired { .. }
            | ProcessRefusal::FieldsRequired { .. }
            | ProcessRefusal::ReasonRequired
            | ProcessRefusal::Runaway(_)
            | ProcessRefusal::Inconsistent(_) => None,
        }
    }
}

/// The most steps one input may run. Validation refuses loops that do not wait, so a valid
/// definition stays far below it.
const FUEL: u32 = 100_000;

/// Processes one input.
pub fn process(
    def: &PublishedDefinition,
    state: &InstanceState,
    input: &Input,
    facts: &EntityFacts,
    now: DateTime<Utc>,
) -> Result<Transition, ProcessRefusal> {
    let mut run = Run {
        def,
        facts,
        now,
        state: state.clone(),
        effects: Vec::new(),
        fuel: FUEL,
    };
    match input {
        Input::Start => run.start()?,
        Input::TaskCompleted(c) => run.task_completed(c)?,
        Input::TimerFired(key) => run.timer(key)?,
        Input::Entity(e) => run.entity_event(e)?,
        Input::SubProcessFinished { action, result } => run.sub_process(action, *result)?,
        Input::Cancel { reason } => run.cancel(reason)?,
    }
    Ok(Transition {
        state: run.state,
        effects: run.effects,
    })
}

/// How running a block of steps stopped.
enum Seq {
    /// The block ran to its end.
    Completed,
    /// Something in it waits for an input.
    Blocked,
    /// A goto to a step of an enclosing block: (target node, goto id).
    Jump(usize, String),
    /// The process ended.
    Ended,
}

/// How entering one step went.
enum Flow {
    Continue,
    Blocked,
    Jump(usize, String),
    Ended,
}

struct Run<'a> {
    def: &'a PublishedDefinition,
    facts: &'a EntityFacts,
    now: DateTime<Utc>,
    state: InstanceState,
    effects: Vec<Effect>,
    fuel: u32,
}

type R<T> = Result<T, ProcessRefusal>;

impl Run<'_> {
    fn id(&self, node: usize) -> String {
        self.def.nodes[node].step.id.clone()
    }

    fn st(&mut self, node: usize) -> R<&mut StepState> {
        let id = &self.def.nodes[node].step.id;
        self.state
            .steps
            .get_mut(id)
            .ok_or_else(|| ProcessRefusal::Inconsistent(format!("no state for step {id}")))
    }

    fn st_ref(&self, node: usize) -> Option<&StepState> {
        self.state.steps.get(&self.def.nodes[node].step.id)
    }

    fn node_of(&self, id: &str) -> Option<usize> {
        self.def.by_id.get(id).copied()
    }

    fn running(&self) -> R<()> {
        match self.state.status {
            InstanceStatus::Running => Ok(()),
            InstanceStatus::NotStarted
            | InstanceStatus::Completed
            | InstanceStatus::Cancelled { .. } => Err(ProcessRefusal::NotRunning {
                state: self.state.status.name(),
            }),
        }
    }

    // ---- inputs ---------------------------------------------------------------------

    fn start(&mut self) -> R<()> {
        if self.state.status != InstanceStatus::NotStarted {
            return Err(ProcessRefusal::AlreadyStarted);
        }
        self.state.status = InstanceStatus::Running;
        self.state.started_at = Some(self.now);
        for n in &self.def.nodes {
            self.state.steps.insert(n.step.id.clone(), StepState::new());
        }
        let flow = self.run_block(0, 0, "start".into())?;
        self.settle(0, flow)
    }

    fn task_completed(&mut self, c: &TaskCompletion) -> R<()> {
        self.running()?;
        let unknown = || ProcessRefusal::UnknownTask {
            task: c.task.to_string(),
        };
        let node = self.node_of(&c.task.step).ok_or_else(unknown)?;
        let StepBody::Task(task) = &self.def.nodes[node].step.body else {
            return Err(unknown());
        };
        let st = self.st_ref(node).ok_or_else(unknown)?;
        let closed = || ProcessRefusal::TaskClosed {
            task: c.task.to_string(),
        };
        let Some(index) = st.tasks.iter().position(|t| t.key == c.task) else {
            if st.round != c.task.round
                || st
                    .history
                    .iter()
                    .any(|h| h.tasks.iter().any(|t| t.key == c.task))
            {
                return Err(closed());
            }
            return Err(unknown());
        };
        let t = &st.tasks[index];
        if t.state != TaskState::Open || st.status != StepStatus::Active {
            return Err(closed());
        }
        if let Participant::User(u) = t.assignee
            && u != c.by
        {
            return Err(ProcessRefusal::NotYourTask);
        }
        let offered = task.offered_outcomes();
        let Some(outcome) = offered.iter().find(|o| o.id == c.outcome) else {
            let names: Vec<&str> = offered.iter().map(|o| o.id.as_str()).collect();
            return Err(ProcessRefusal::OutcomeNotOffered {
                allowed: names.join(", "),
            });
        };
        if outcome.comment_required() && c.comment.trim().is_empty() {
            return Err(ProcessRefusal::CommentRequired {
                outcome: outcome.id.clone(),
            });
        }
        if outcome.verdict == Verdict::Approve {
            for r in &task.requires {
                match r {
                    Requirement::Document { document_type } => {
                        if !c.documents.iter().any(|d| d == document_type) {
                            return Err(ProcessRefusal::DocumentRequired {
                                document_type: document_type.clone(),
                            });
                        }
                    }
                    Requirement::Fields { fields } => {
                        let missing: Vec<&str> = fields
                            .iter()
                            .filter(|f| {
                                !c.filled_fields.contains(f)
                                    && !self.facts.fields.get(*f).is_some_and(FieldValue::is_set)
                            })
                            .map(String::as_str)
                            .collect();
                        if !missing.is_empty() {
                            return Err(ProcessRefusal::FieldsRequired {
                                fields: missing.join(", "),
                            });
                        }
                    }
                }
            }
        }
        let verdict = outcome.verdict;
        let cost = task.cost.unwrap_or(Money::ZERO);
        let completion = task.completion;
        let now = self.now;
        let st = self.st(node)?;
        let t = &mut st.tasks[index];
        t.state = TaskState::Completed;
        t.completed_by = Some(c.by);
        t.outcome = Some(c.outcome.clone());
        t.comment = (!c.comment.trim().is_empty()).then(|| c.comment.clone());
        t.completed_at = Some(now);
        st.cost = st.cost.checked_add(cost).unwrap_or(st.cost);
        self.state.cost = self.state.cost.checked_add(cost).unwrap_or(self.state.cost);
        self.effects.push(Effect::CloseTask {
            key: c.task.clone(),
            reason: CloseReason::Completed,
        });
        if let Some(b) = &self.def.definition().task_billing {
            self.effects.push(Effect::BillTask {
                key: c.task.clone(),
                mode: b.mode,
                hourly_rate: b.hourly_rate,
                notify_responsible: b.notify_responsible,
            });
        }
        let st = self.st(node)?;
        let total = st.tasks.len();
        let open = st
            .tasks
            .iter()
            .filter(|t| t.state == TaskState::Open)
            .count();
        let approvals = st
            .tasks
            .iter()
            .filter(|t| {
                t.state == TaskState::Completed
                    && t.outcome.as_ref().is_some_and(|o| {
                        offered
                            .iter()
                            .any(|s| s.id == *o && s.verdict == Verdict::Approve)
                    })
            })
            .count();
        let decided = match (verdict, completion) {
            (Verdict::Rework, _) | (_, Completion::First) => true,
            (Verdict::Approve, Completion::Any) => true,
            (Verdict::Reject, Completion::Any) => open == 0,
            (Verdict::Reject, Completion::All) => true,
            (Verdict::Approve, Completion::All) => approvals == total,
            (_, Completion::Quorum { n }) => {
                approvals >= n as usize || open + approvals < n as usize
            }
        };
        if decided {
            self.close_open_tasks(node, CloseReason::Superseded)?;
            self.finish_step(node, Some(c.outcome.clone()))?;
            self.resume(node)?;
        }
        Ok(())
    }

    fn timer(&mut self, key: &TimerKey) -> R<()> {
        if self.state.status != InstanceStatus::Running {
            return Ok(());
        }
        let Some(pos) = self.state.timers.iter().position(|t| t.key == *key) else {
            return Ok(());
        };
        if self.state.timers[pos].at > self.now {
            return Ok(());
        }
        self.state.timers.remove(pos);
        let Some(node) = self.node_of(&key.step) else {
            return Ok(());
        };
        let Some(st) = self.st_ref(node) else {
            return Ok(());
        };
        if st.round != key.round || !st.status.is_open() {
            return Ok(());
        }
        match key.purpose {
            TimerPurpose::Wait => {
                self.finish_step(node, Some("arrived".into()))?;
                self.resume(node)
            }
            TimerPurpose::Timeout => {
                self.finish_step(node, Some("timed_out".into()))?;
                self.resume(node)
            }
            TimerPurpose::Remind => {
                self.st(node)?.reminded = true;
                self.notify_open(node, NotifyKind::Reminder)
            }
            TimerPurpose::Escalate { repeat } => {
                self.st(node)?.escalations = repeat + 1;
                self.notify_open(node, NotifyKind::Escalation { repeat })?;
                let StepBody::Task(t) = &self.def.nodes[node].step.body else {
                    return Ok(());
                };
                if let Some(rep) = t.sla.as_ref().and_then(|s| s.repeat)
                    && repeat < rep.times
                {
                    let at = self.now + rep.every.duration();
                    self.schedule(node, TimerPurpose::Escalate { repeat: repeat + 1 }, at)?;
                }
                Ok(())
            }
        }
    }

    fn entity_event(&mut self, e: &EntityEvent) -> R<()> {
        if self.state.status != InstanceStatus::Running {
            return Ok(());
        }
        let waiting: Vec<usize> = (0..self.def.nodes.len())
            .filter(|n| {
                matches!(self.def.nodes[*n].step.body, StepBody::Wait(_))
                    && self
                        .st_ref(*n)
                        .is_some_and(|s| s.status == StepStatus::Waiting)
            })
            .collect();
        for node in waiting {
            // An earlier wait's continuation may have ended the process or moved on.
            if self.state.status != InstanceStatus::Running
                || self
                    .st_ref(node)
                    .is_none_or(|s| s.status != StepStatus::Waiting)
            {
                continue;
            }
            let StepBody::Wait(w) = &self.def.nodes[node].step.body else {
                continue;
            };
            match &w.until {
                WaitFor::Event { event } => {
                    if self.matches(event, e) {
                        self.finish_step(node, Some("arrived".into()))?;
                        self.resume(node)?;
                    }
                }
                WaitFor::DateField { field, offset } => {
                    if let EntityEvent::FieldChanged { field: f, value } = e
                        && f == field
                    {
                        let round = self.st(node)?.round;
                        self.cancel_timer(&TimerKey {
                            step: self.id(node),
                            round,
                            purpose: TimerPurpose::Wait,
                        });
                        if let FieldValue::Date(d) = value {
                            let at = *d + offset.duration();
                            if at <= self.now {
                                self.finish_step(node, Some("arrived".into()))?;
                                self.resume(node)?;
                            } else {
                                self.schedule(node, TimerPurpose::Wait, at)?;
                            }
                        }
                    }
                }
                WaitFor::Delay { .. } => {}
            }
        }
        Ok(())
    }

    fn matches(&self, spec: &EventSpec, e: &EntityEvent) -> bool {
        match (spec, e) {
            (
                EventSpec::PaymentReceived { min_percent },
                EntityEvent::PaymentReceived { payment_percent },
            ) => min_percent.is_none_or(|m| *payment_percent >= m),
            (
                EventSpec::FieldChanged { field, to },
                EntityEvent::FieldChanged { field: f, value },
            ) => {
                field == f
                    && to.as_ref().is_none_or(|to| {
                        self.def
                            .schema()
                            .get(field)
                            .and_then(|ty| FieldValue::from_operand(ty, to))
                            .is_some_and(|v| v == *value)
                    })
            }
            (EventSpec::StageEntered { stage }, EntityEvent::StageEntered { stage: s }) => {
                stage == s
            }
            (
                EventSpec::DocumentAttached { document_type },
                EntityEvent::DocumentAttached { document_type: d },
            ) => document_type == d,
            (EventSpec::PaymentReceived { .. }, _)
            | (EventSpec::FieldChanged { .. }, _)
            | (EventSpec::StageEntered { .. }, _)
            | (EventSpec::DocumentAttached { .. }, _) => false,
        }
    }

    fn sub_process(&mut self, key: &ActionKey, result: EndResult) -> R<()> {
        if self.state.status != InstanceStatus::Running {
            return Ok(());
        }
        let Some(node) = self.node_of(&key.step) else {
            return Ok(());
        };
        let waits =
            matches!(&self.def.nodes[node].step.body, StepBody::Action(a) if a.action.waits());
        let Some(st) = self.st_ref(node) else {
            return Ok(());
        };
        if !waits || st.round != key.round || st.status != StepStatus::Waiting {
            return Ok(());
        }
        let outcome = match result {
            EndResult::Completed => "completed",
            EndResult::Cancelled => "cancelled",
        };
        self.finish_step(node, Some(outcome.into()))?;
        self.resume(node)
    }

    fn cancel(&mut self, reason: &str) -> R<()> {
        self.running()?;
        if reason.trim().is_empty() {
            return Err(ProcessRefusal::ReasonRequired);
        }
        self.finish_instance(EndResult::Cancelled, Some(reason.trim().to_owned()))
    }

    // ---- running steps --------------------------------------------------------------

    /// Runs the steps of `block` from `pos` on.
    fn run_block(&mut self, block: usize, mut pos: usize, mut from: String) -> R<Seq> {
        loop {
            let Some(&node) = self.def.blocks[block].nodes.get(pos) else {
                return Ok(Seq::Completed);
            };
            if self.fuel == 0 {
                return Err(ProcessRefusal::Runaway(FUEL));
            }
            self.fuel -= 1;
            match self.enter(node, &from)? {
                Flow::Continue => {
                    from = self.id(node);
                    pos += 1;
                }
                Flow::Jump(target, goto) if self.def.nodes[target].block == block => {
                    pos = self.def.nodes[target].pos;
                    from = goto;
                }
                Flow::Jump(target, goto) => return Ok(Seq::Jump(target, goto)),
                Flow::Blocked => return Ok(Seq::Blocked),
                Flow::Ended => return Ok(Seq::Ended),
            }
        }
    }

    /// Carries on after something in `block` finished asynchronously.
    fn settle(&mut self, block: usize, seq: Seq) -> R<()> {
        match seq {
            Seq::Blocked | Seq::Ended => Ok(()),
            Seq::Jump(target, goto) => {
                let tb = self.def.nodes[target].block;
                let seq = self.run_block(tb, self.def.nodes[target].pos, goto)?;
                self.settle(tb, seq)
            }
            Seq::Completed => match self.def.blocks[block].owner {
                None => self.finish_instance(EndResult::Completed, None),
                Some(owner) => match &self.def.nodes[owner].step.body {
                    StepBody::Switch(_) => {
                        self.finish_step(owner, None)?;
                        self.resume(owner)
                    }
                    StepBody::Parallel(par) => {
                        let join = par.join;
                        let Some(branch) = self.def.nodes[owner]
                            .children
                            .iter()
                            .position(|b| *b == block)
                        else {
                            return Err(ProcessRefusal::Inconsistent(
                                "a branch without its parallel step".into(),
                            ));
                        };
                        let st = self.st(owner)?;
                        if st.status != StepStatus::Active {
                            return Ok(());
                        }
                        if !st.branches.contains(&branch) {
                            st.branches.push(branch);
                        }
                        if self.joined(owner, join)? {
                            self.close_parallel(owner)?;
                            self.resume(owner)
                        } else {
                            Ok(())
                        }
                    }
                    StepBody::Task(_)
                    | StepBody::Wait(_)
                    | StepBody::Goto(_)
                    | StepBody::End(_)
                    | StepBody::Action(_) => Err(ProcessRefusal::Inconsistent(
                        "a block owned by a leaf step".into(),
                    )),
                },
            },
        }
    }

    /// Carries on after `node` finished asynchronously.
    fn resume(&mut self, node: usize) -> R<()> {
        let n = &self.def.nodes[node];
        let block = n.block;
        let seq = self.run_block(block, n.pos + 1, n.step.id.clone())?;
        self.settle(block, seq)
    }

    fn joined(&mut self, node: usize, join: Join) -> R<bool> {
        let branches = self.def.nodes[node].children.len();
        Ok(self.st(node)?.branches.len() >= join_needs(join, branches))
    }

    /// A satisfied join: the branches still running lose, the step is done.
    fn close_parallel(&mut self, node: usize) -> R<()> {
        let done = self.st(node)?.branches.clone();
        for (i, b) in self.def.nodes[node]
            .children
            .clone()
            .into_iter()
            .enumerate()
        {
            if !done.contains(&i) {
                self.stop_block(b, CloseReason::Superseded)?;
            }
        }
        self.finish_step(node, None)
    }

    fn enter(&mut self, node: usize, from: &str) -> R<Flow> {
        let now = self.now;
        let id = self.id(node);
        let st = self.st(node)?;
        st.status = StepStatus::Active;
        st.started_at = Some(now);
        st.finished_at = None;
        let round = st.round;
        self.state.edges.push(Edge {
            from: from.to_owned(),
            to: id.clone(),
            round,
            at: now,
        });
        let step = &self.def.nodes[node].step;
        match &step.body {
            StepBody::Task(t) => {
                self.open_task(node, t, round)?;
                Ok(Flow::Blocked)
            }
            StepBody::Action(a) => {
                self.effects.push(Effect::RunAction {
                    key: ActionKey { step: id, round },
                    action: a.action.clone(),
                });
                if a.action.waits() {
                    self.st(node)?.status = StepStatus::Waiting;
                    Ok(Flow::Blocked)
                } else {
                    self.finish_step(node, None)?;
                    Ok(Flow::Continue)
                }
            }
            StepBody::Wait(w) => self.enter_wait(node, w),
            StepBody::Switch(sw) => {
                // Only this round's outcomes count: a step skipped in this round does not
                // answer with what it decided in an earlier one.
                let facts_outcome = |s: &str| -> Option<String> {
                    self.state
                        .steps
                        .get(s)
                        .filter(|st| st.status == StepStatus::Done)
                        .and_then(|st| st.outcome.clone())
                };
                let facts = Facts {
                    fields: &self.facts.fields,
                    schema: self.def.schema(),
                    outcome_of: &facts_outcome,
                };
                let chosen = sw
                    .branches
                    .iter()
                    .position(|c| c.when.holds(&facts))
                    .or(sw.otherwise.as_ref().map(|_| sw.branches.len()));
                let children = self.def.nodes[node].children.clone();
                for (i, b) in children.iter().enumerate() {
                    if Some(i) != chosen {
                        self.skip_block(*b)?;
                    }
                }
                let Some(chosen) = chosen else {
                    self.finish_step(node, None)?;
                    return Ok(Flow::Continue);
                };
                self.st(node)?.branches = vec![chosen];
                match self.run_block(children[chosen], 0, id)? {
                    Seq::Completed => {
                        self.finish_step(node, None)?;
                        Ok(Flow::Continue)
                    }
                    Seq::Blocked => Ok(Flow::Blocked),
                    Seq::Jump(t, g) => Ok(Flow::Jump(t, g)),
                    Seq::Ended => Ok(Flow::Ended),
                }
            }
            StepBody::Parallel(par) => {
                let join = par.join;
                self.st(node)?.branches = Vec::new();
                let children = self.def.nodes[node].children.clone();
                for (i, b) in children.iter().enumerate() {
                    match self.run_block(*b, 0, id.clone())? {
                        Seq::Completed => self.st(node)?.branches.push(i),
                        Seq::Blocked => {}
                        Seq::Ended => return Ok(Flow::Ended),
                        Seq::Jump(..) => {
                            return Err(ProcessRefusal::Inconsistent(
                                "a jump out of a parallel branch".into(),
                            ));
                        }
                    }
                    if self.joined(node, join)? {
                        for later in &children[i + 1..] {
                            self.skip_block(*later)?;
                        }
                        self.close_parallel(node)?;
                        return Ok(Flow::Continue);
                    }
                }
                Ok(Flow::Blocked)
            }
            StepBody::Goto(g) => {
                let target = self
                    .node_of(&g.target)
                    .ok_or_else(|| ProcessRefusal::Inconsistent(format!("no step {}", g.target)))?;
                let target_round = self.st(target)?.round;
                if g.max_rounds.is_some_and(|m| target_round >= m) {
                    self.finish_step(node, Some("limit_reached".into()))?;
                    return Ok(Flow::Continue);
                }
                self.finish_step(node, Some("jumped".into()))?;
                // Every step from the target to where this goto sits starts a new round.
                let tb = self.def.nodes[target].block;
                let mut at = node;
                while self.def.nodes[at].block != tb {
                    let Some(owner) = self.def.blocks[self.def.nodes[at].block].owner else {
                        return Err(ProcessRefusal::Inconsistent(
                            "a goto outside its target's block".into(),
                        ));
                    };
                    at = owner;
                }
                let range: Vec<usize> = self.def.blocks[tb].nodes
                    [self.def.nodes[target].pos..=self.def.nodes[at].pos]
                    .to_vec();
                for n in range {
                    self.new_round(n)?;
                }
                Ok(Flow::Jump(target, id))
            }
            StepBody::End(e) => {
                self.finish_step(node, None)?;
                self.finish_instance(e.result, e.reason.clone())?;
                Ok(Flow::Ended)
            }
        }
    }

    fn enter_wait(&mut self, node: usize, w: &WaitStep) -> R<Flow> {
        if let Some(p) = &w.skip_if {
            let outcome_of = |s: &str| {
                self.state
                    .steps
                    .get(s)
                    .filter(|st| st.status == StepStatus::Done)
                    .and_then(|st| st.outcome.clone())
            };
            let facts = Facts {
                fields: &self.facts.fields,
                schema: self.def.schema(),
                outcome_of: &outcome_of,
            };
            if p.holds(&facts) {
                self.finish_step(node, Some("already".into()))?;
                return Ok(Flow::Continue);
            }
        }
        self.st(node)?.status = StepStatus::Waiting;
        match &w.until {
            WaitFor::Delay { delay } => {
                let at = self.now + delay.duration();
                self.schedule(node, TimerPurpose::Wait, at)?;
            }
            WaitFor::DateField { field, offset } => {
                if let Some(FieldValue::Date(d)) = self.facts.fields.get(field) {
                    let at = *d + offset.duration();
                    if at <= self.now {
                        self.finish_step(node, Some("arrived".into()))?;
                        return Ok(Flow::Continue);
                    }
                    self.schedule(node, TimerPurpose::Wait, at)?;
                }
            }
            WaitFor::Event { .. } => {}
        }
        if let Some(t) = &w.timeout {
            let at = self.now + t.duration();
            self.schedule(node, TimerPurpose::Timeout, at)?;
        }
        Ok(Flow::Blocked)
    }

    fn resolve(&self, a: &AssigneeSpec) -> Participant {
        let admins = Participant::Role(Role::Admin);
        match a {
            AssigneeSpec::User { id } => Participant::User(*id),
            AssigneeSpec::Role { role } => parse_role(role).map_or(admins, Participant::Role),
            AssigneeSpec::Pool { id } => Participant::Pool(*id),
            // Nobody responsible: the admins get it rather than nobody.
            AssigneeSpec::Responsible => self.facts.responsible.map_or(admins, Participant::User),
            AssigneeSpec::Supervisor => self
                .facts
                .supervisor
                .or(self.facts.responsible)
                .map_or(admins, Participant::User),
        }
    }

    fn open_task(&mut self, node: usize, t: &TaskStep, round: u32) -> R<()> {
        let step = &self.def.nodes[node].step;
        let id = step.id.clone();
        let title = step.title.clone().unwrap_or_else(|| id.clone());
        let due_at = match &t.due {
            None => None,
            Some(Due::After { after }) => Some(self.now + after.duration()),
            Some(Due::Field { field, offset }) => match self.facts.fields.get(field) {
                Some(FieldValue::Date(d)) => Some(*d + offset.duration()),
                _ => None,
            },
        };
        let mut tasks = Vec::new();
        for (i, a) in t.assignees.iter().enumerate() {
            let key = TaskKey {
                step: id.clone(),
                round,
                participant: i as u32,
            };
            let assignee = self.resolve(a);
            self.effects.push(Effect::CreateTask {
                key: key.clone(),
                title: title.clone(),
                task_type: t.task_type,
                assignee,
                due_at,
                outcomes: t.offered_outcomes(),
                requires: t.requires.clone(),
                cost: t.cost,
            });
            tasks.push(ParticipantTask {
                key,
                assignee,
                state: TaskState::Open,
                completed_by: None,
                outcome: None,
                comment: None,
                completed_at: None,
            });
        }
        let st = self.st(node)?;
        st.tasks = tasks;
        st.due_at = due_at;
        st.reminded = false;
        st.escalations = 0;
        if let (Some(due), Some(sla)) = (due_at, &t.sla) {
            if let Some(before) = sla.remind_before {
                self.schedule(node, TimerPurpose::Remind, due - before.duration())?;
            }
            if let Some(after) = sla.escalate_after {
                self.schedule(
                    node,
                    TimerPurpose::Escalate { repeat: 0 },
                    due + after.duration(),
                )?;
            }
        }
        Ok(())
    }

    fn notify_open(&mut self, node: usize, kind: NotifyKind) -> R<()> {
        let st = self.st(node)?;
        let due_at = st.due_at;
        let open: Vec<(TaskKey, Participant)> = st
            .tasks
            .iter()
            .filter(|t| t.state == TaskState::Open)
            .map(|t| (t.key.clone(), t.assignee))
            .collect();
        for (task, assignee) in open {
            self.effects.push(Effect::Notify {
                kind,
                task,
                assignee,
                due_at,
            });
        }
        Ok(())
    }

    fn schedule(&mut self, node: usize, purpose: TimerPurpose, at: DateTime<Utc>) -> R<()> {
        let key = TimerKey {
            step: self.id(node),
            round: self.st(node)?.round,
            purpose,
        };
        self.state.timers.retain(|t| t.key != key);
        self.state.timers.push(ScheduledTimer {
            key: key.clone(),
            at,
        });
        self.effects.push(Effect::ScheduleTimer { key, at });
        Ok(())
    }

    fn cancel_timer(&mut self, key: &TimerKey) {
        let before = self.state.timers.len();
        self.state.timers.retain(|t| t.key != *key);
        if self.state.timers.len() != before {
            self.effects.push(Effect::CancelTimer { key: key.clone() });
        }
    }

    fn cancel_step_timers(&mut self, node: usize) {
        let id = self.id(node);
        let keys: Vec<TimerKey> = self
            .state
            .timers
            .iter()
            .filter(|t| t.key.step == id)
            .map(|t| t.key.clone())
            .collect();
        for k in keys {
            self.cancel_timer(&k);
        }
    }

    fn close_open_tasks(&mut self, node: usize, reason: CloseReason) -> R<()> {
        let st = self.st(node)?;
        let mut closed = Vec::new();
        for t in st.tasks.iter_mut().filter(|t| t.state == TaskState::Open) {
            t.state = TaskState::Closed;
            closed.push(t.key.clone());
        }
        for key in closed {
            self.effects.push(Effect::CloseTask { key, reason });
        }
        Ok(())
    }

    fn finish_step(&mut self, node: usize, outcome: Option<String>) -> R<()> {
        self.cancel_step_timers(node);
        let now = self.now;
        let st = self.st(node)?;
        st.status = StepStatus::Done;
        st.finished_at = Some(now);
        st.outcome = outcome;
        Ok(())
    }

    /// Stops a step that runs (its tasks close, its timers go) and skips one not reached;
    /// recursively for the steps inside.
    fn stop_step(&mut self, node: usize, reason: CloseReason) -> R<()> {
        for b in self.def.nodes[node].children.clone() {
            self.stop_block(b, reason)?;
        }
        let status = self.st(node)?.status;
        match status {
            StepStatus::Active | StepStatus::Waiting => {
                self.close_open_tasks(node, reason)?;
                self.cancel_step_timers(node);
                let now = self.now;
                let st = self.st(node)?;
                st.status = StepStatus::Cancelled;
                st.finished_at = Some(now);
            }
            StepStatus::Pending => self.st(node)?.status = StepStatus::Skipped,
            StepStatus::Done | StepStatus::Skipped | StepStatus::Cancelled => {}
        }
        Ok(())
    }

    fn stop_block(&mut self, block: usize, reason: CloseReason) -> R<()> {
        for n in self.def.blocks[block].nodes.clone() {
            self.stop_step(n, reason)?;
        }
        Ok(())
    }

    fn skip_block(&mut self, block: usize) -> R<()> {
        self.stop_block(block, CloseReason::Cancelled)
    }

    /// A jump back passes over the step: its round is kept in the history and it starts
    /// over, pending.
    fn new_round(&mut self, node: usize) -> R<()> {
        for b in self.def.nodes[node].children.clone() {
            for n in self.def.blocks[b].nodes.clone() {
                self.new_round(n)?;
            }
        }
        if self.st(node)?.status.is_open() {
            self.close_open_tasks(node, CloseReason::Cancelled)?;
            self.cancel_step_timers(node);
            let now = self.now;
            let st = self.st(node)?;
            st.status = StepStatus::Cancelled;
            st.finished_at = Some(now);
        }
        let st = self.st(node)?;
        if st.status != StepStatus::Pending {
            st.history.push(PastRound {
                round: st.round,
                status: st.status,
                started_at: st.started_at,
                finished_at: st.finished_at,
                outcome: st.outcome.take(),
                tasks: std::mem::take(&mut st.tasks),
            });
        }
        st.round += 1;
        st.status = StepStatus::Pending;
        st.started_at = None;
        st.finished_at = None;
        st.due_at = None;
        st.tasks.clear();
        st.outcome = None;
        st.branches.clear();
        st.reminded = false;
        st.escalations = 0;
        Ok(())
    }

    fn finish_instance(&mut self, result: EndResult, reason: Option<String>) -> R<()> {
        let close = match result {
            EndResult::Completed => CloseReason::Cancelled,
            EndResult::Cancelled => CloseReason::Cancelled,
        };
        for n in 0..self.def.nodes.len() {
            let status = self.st(n)?.status;
            match status {
                StepStatus::Active | StepStatus::Waiting => {
                    self.close_open_tasks(n, close)?;
                    self.cancel_step_timers(n);
                    let now = self.now;
                    let st = self.st(n)?;
                    st.status = StepStatus::Cancelled;
                    st.finished_at = Some(now);
                }
                StepStatus::Pending => self.st(n)?.status = StepStatus::Skipped,
                StepStatus::Done | StepStatus::Skipped | StepStatus::Cancelled => {}
            }
        }
        let keys: Vec<TimerKey> = self.state.timers.iter().map(|t| t.key.clone()).collect();
        for k in keys {
            self.cancel_timer(&k);
        }
        self.state.status = match result {
            EndResult::Completed => InstanceStatus::Completed,
            EndResult::Cancelled => InstanceStatus::Cancelled {
                reason: reason.clone().unwrap_or_default(),
            },
        };
        self.state.finished_at = Some(self.now);
        self.effects.push(Effect::Finished { result, reason });
        Ok(())
    }
}
