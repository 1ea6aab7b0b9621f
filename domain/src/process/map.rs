//! The process map (WF-BP-3) as data: every step of the definition in drawing order with its
//! nesting, its state in the current round, assignees, times, due and overdue, outcome, round
//! and cost; the edges taken; and on whom the instance waits, since when. The JSON endpoint
//! and the SVG picture are both drawn from this.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::money::Money;

use super::engine::{Edge, InstanceState, Participant, StepStatus, TaskState};
use super::validate::PublishedDefinition;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessMap {
    pub status: &'static str,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub cost: Money,
    pub steps: Vec<MapStep>,
    pub edges: Vec<Edge>,
    /// Who holds the instance up: the open tasks' assignees, oldest first.
    pub waiting_on: Vec<WaitingOn>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapStep {
    pub id: String,
    pub kind: &'static str,
    pub title: Option<String>,
    /// JSON pointer of the step in the definition.
    pub path: String,
    /// 0 for top-level steps; one more inside each branch.
    pub depth: usize,
    /// The owning parallel or switch step and the branch index, for nested steps.
    pub parent: Option<(String, usize)>,
    pub status: StepStatus,
    pub round: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub overdue: bool,
    pub assignees: Vec<MapTask>,
    pub outcome: Option<String>,
    pub cost: Money,
    /// How many earlier rounds the step has.
    pub past_rounds: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapTask {
    pub key: String,
    pub assignee: Participant,
    pub state: TaskState,
    pub outcome: Option<String>,
    pub completed_by: Option<uuid::Uuid>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitingOn {
    pub step: String,
    pub task: String,
    pub assignee: Participant,
    pub since: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub overdue: bool,
}

/// Draws the map of `state` at `now`.
pub fn map(def: &PublishedDefinition, state: &InstanceState, now: DateTime<Utc>) -> ProcessMap {
    let mut steps = Vec::new();
    let mut waiting_on = Vec::new();
    walk(def, state, 0, 0, now, &mut steps, &mut waiting_on);
    waiting_on.sort_by_key(|w| w.since);
    ProcessMap {
        status: state.status.name(),
        started_at: state.started_at,
        finished_at: state.finished_at,
        cost: state.cost,
        steps,
        edges: state.edges.clone(),
        waiting_on,
    }
}

fn walk(
    def: &PublishedDefinition,
    state: &InstanceState,
    block: usize,
    depth: usize,
    now: DateTime<Utc>,
    out: &mut Vec<MapStep>,
    waiting: &mut Vec<WaitingOn>,
) {
    let parent = def.blocks[block].owner.map(|o| {
        let owner = &def.nodes[o];
        let branch = owner.children.iter().position(|b| *b == block).unwrap_or(0);
        (owner.step.id.clone(), branch)
    });
    for &n in &def.blocks[block].nodes {
        let node = &def.nodes[n];
        let st = state.steps.get(&node.step.id);
        let status = st.map_or(StepStatus::Pending, |s| s.status);
        let due_at = st.and_then(|s| s.due_at);
        let overdue = status.is_open() && due_at.is_some_and(|d| d < now);
        let tasks: Vec<MapTask> = st
            .map(|s| {
                s.tasks
                    .iter()
                    .map(|t| MapTask {
                        key: t.key.to_string(),
                        assignee: t.assignee,
                        state: t.state,
                        outcome: t.outcome.clone(),
                        completed_by: t.completed_by,
                        completed_at: t.completed_at,
                    })
                    .collect()
            })
            .unwrap_or_default();
        if let Some(s) = st {
            for t in s.tasks.iter().filter(|t| t.state == TaskState::Open) {
                waiting.push(WaitingOn {
                    step: node.step.id.clone(),
                    task: t.key.to_string(),
                    assignee: t.assignee,
                    since: s.started_at,
                    due_at,
                    overdue,
                });
            }
        }
        out.push(MapStep {
            id: node.step.id.clone(),
            kind: node.step.body.kind(),
            title: node.step.title.clone(),
            path: node.path.clone(),
            depth,
            parent: parent.clone(),
            status,
            round: st.map_or(1, |s| s.round),
            started_at: st.and_then(|s| s.started_at),
            finished_at: st.and_then(|s| s.finished_at),
            due_at,
            overdue,
            assignees: tasks,
            outcome: st.and_then(|s| s.outcome.clone()),
            cost: st.map_or(Money::ZERO, |s| s.cost),
            past_rounds: st.map_or(0, |s| s.history.len()),
        });
        for &child in &node.children {
            walk(def, state, child, depth + 1, now, out, waiting);
        }
    }
}
