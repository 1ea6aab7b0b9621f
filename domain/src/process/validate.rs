//! Publishing: a definition is parsed from JSON and checked as a whole, every problem reported
//! at once with the JSON pointer of the offending part (`/steps/3/branches/1/steps/0/assignees/0`)
//! and the rule it breaks. What passes becomes a [`PublishedDefinition`], the frozen form
//! instances run on; there is no other way to obtain one.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::role::Role;
use crate::validation::FieldViolation;

use super::definition::*;
use super::predicate::{FieldType, Predicate, check_comparison};

/// What the definition may refer to: the users, pools and roles that can take tasks, the
/// entity type's fields, the document types and the templates that can be started. The
/// persistence layer fills it from the database at publishing time.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub users: BTreeSet<Uuid>,
    pub pools: BTreeSet<Uuid>,
    /// Roles held by at least one active user.
    pub roles: BTreeSet<Role>,
    /// The fields of the entity type; a `stage` field of choice type lists its stages.
    pub fields: BTreeMap<String, FieldType>,
    pub document_types: BTreeSet<String>,
    /// Codes of published templates `start_process` may name.
    pub templates: BTreeSet<String>,
}

/// One broken rule of a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefinitionError {
    /// JSON pointer into the definition.
    pub path: String,
    /// Stable rule name, e.g. `unreachable_step`.
    pub code: &'static str,
    pub message: String,
}

impl DefinitionError {
    fn new(path: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        DefinitionError {
            path: path.into(),
            code,
            message: message.into(),
        }
    }
}

impl From<DefinitionError> for FieldViolation {
    fn from(e: DefinitionError) -> Self {
        FieldViolation::new(format!("definition{}", e.path), e.code, e.message)
    }
}

/// Where a step sits: its block and position, and the blocks it owns (branches of a parallel
/// or switch step; a switch's `otherwise` is its last block).
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub step: Step,
    pub path: String,
    pub block: usize,
    pub pos: usize,
    pub children: Vec<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct Block {
    /// The parallel or switch step owning the block; `None` for the top-level steps.
    pub owner: Option<usize>,
    pub nodes: Vec<usize>,
}

/// A definition that passed every check, frozen: instances run on it and keep it.
#[derive(Debug, Clone)]
pub struct PublishedDefinition {
    definition: Definition,
    schema: BTreeMap<String, FieldType>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) blocks: Vec<Block>,
    pub(crate) by_id: BTreeMap<String, usize>,
}

impl PublishedDefinition {
    pub fn definition(&self) -> &Definition {
        &self.definition
    }

    /// The entity fields the definition was checked against, kept with the version.
    pub fn schema(&self) -> &BTreeMap<String, FieldType> {
        &self.schema
    }

    /// The stored form of a version: the definition and the field schema it was checked
    /// against.
    pub fn to_stored(&self) -> Value {
        serde_json::json!({ "definition": self.definition, "schema": self.schema })
    }

    /// Reads a stored version back. The structure and typing are checked again against the
    /// stored schema; users, pools, roles, document types and templates are not, because a
    /// published version stays runnable when the directory changes later.
    pub fn restore(stored: &Value) -> Result<PublishedDefinition, Vec<DefinitionError>> {
        let schema: BTreeMap<String, FieldType> = stored
            .get("schema")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| vec![DefinitionError::new("/schema", "invalid", e.to_string())])?
            .unwrap_or_default();
        let definition = stored.get("definition").unwrap_or(&Value::Null);
        check(definition, None, schema)
    }

    /// The ids of the top-level steps, in order.
    pub fn step_ids(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().map(|n| n.step.id.as_str())
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.by_id.get(id).map(|i| &self.nodes[*i].step)
    }

    /// The JSON pointer of a step in the definition.
    pub fn path_of(&self, id: &str) -> Option<&str> {
        self.by_id.get(id).map(|i| self.nodes[*i].path.as_str())
    }

    /// Whether the definition starts on this trigger event.
    pub fn starts_on(&self, event: &TriggerEvent) -> bool {
        self.definition.triggers.iter().any(|t| match (t, event) {
            (Trigger::Created, TriggerEvent::Created) => true,
            (Trigger::StageEntered { stage }, TriggerEvent::StageEntered { stage: s }) => {
                stage == s
            }
            (
                Trigger::FieldChanged { field, to },
                TriggerEvent::FieldChanged { field: f, value },
            ) => {
                field == f
                    && to.as_ref().is_none_or(|to| {
                        self.schema
                            .get(field)
                            .and_then(|ty| super::predicate::FieldValue::from_operand(ty, to))
                            .is_some_and(|v| v == *value)
                    })
            }
            (Trigger::Manual, _)
            | (Trigger::Created, _)
            | (Trigger::StageEntered { .. }, _)
            | (Trigger::FieldChanged { .. }, _) => false,
        })
    }
}

/// What happened to a record, as triggers see it.
#[derive(Debug, Clone, PartialEq)]
pub enum TriggerEvent {
    Created,
    StageEntered {
        stage: String,
    },
    FieldChanged {
        field: String,
        value: super::predicate::FieldValue,
    },
}

/// Parses and checks a draft; on success it is frozen.
pub fn publish(
    definition: &Value,
    directory: &Directory,
) -> Result<PublishedDefinition, Vec<DefinitionError>> {
    check(definition, Some(directory), directory.fields.clone())
}

fn check(
    definition: &Value,
    directory: Option<&Directory>,
    schema: BTreeMap<String, FieldType>,
) -> Result<PublishedDefinition, Vec<DefinitionError>> {
    let mut errors = Vec::new();
    let Some(def) = parse_definition(definition, &mut errors) else {
        return Err(errors);
    };
    let mut p = PublishedDefinition {
        definition: def,
        schema,
        nodes: Vec::new(),
        blocks: Vec::new(),
        by_id: BTreeMap::new(),
    };
    let top = p.definition.steps.clone();
    index_block(&mut p, &top, None, "/steps", &mut errors);
    let mut checker = Checker {
        p: &p,
        dir: directory,
        errors,
    };
    checker.definition();
    let errors = checker.errors;
    if errors.is_empty() {
        Ok(p)
    } else {
        Err(errors)
    }
}

// ---- parsing ----------------------------------------------------------------------------

fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } => out.push_str(&format!("/{key}")),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}

fn leaf<T: serde::de::DeserializeOwned>(
    v: Value,
    path: &str,
    errors: &mut Vec<DefinitionError>,
) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(v) {
        Ok(t) => Some(t),
        Err(e) => {
            let at = pointer(e.path());
            errors.push(DefinitionError::new(
                format!("{path}{at}"),
                "invalid",
                e.into_inner().to_string(),
            ));
            None
        }
    }
}

fn parse_definition(v: &Value, errors: &mut Vec<DefinitionError>) -> Option<Definition> {
    let Some(obj) = v.as_object() else {
        errors.push(DefinitionError::new(
            "",
            "not_an_object",
            "a definition is a JSON object",
        ));
        return None;
    };
    unknown_keys(
        obj,
        &["entity_type", "name", "triggers", "task_billing", "steps"],
        "",
        errors,
    );
    let entity_type = match obj.get("entity_type") {
        Some(e) => leaf::<EntityType>(e.clone(), "/entity_type", errors),
        None => {
            errors.push(missing("/entity_type"));
            None
        }
    };
    let name = match obj.get("name").and_then(Value::as_str) {
        Some(n) if !n.trim().is_empty() && n.chars().count() <= 200 => Some(n.to_owned()),
        _ => {
            errors.push(DefinitionError::new(
                "/name",
                "invalid",
                "a name of 1 to 200 characters is required",
            ));
            None
        }
    };
    let triggers = match obj.get("triggers") {
        Some(t) => leaf::<Vec<Trigger>>(t.clone(), "/triggers", errors),
        None => Some(Vec::new()),
    };
    let task_billing = match obj.get("task_billing") {
        Some(Value::Null) | None => Some(None),
        Some(b) => leaf::<BillTime>(b.clone(), "/task_billing", errors).map(Some),
    };
    if let Some(Some(b)) = &task_billing {
        billing_rules(b, "/task_billing", errors);
    }
    let steps = match obj.get("steps") {
        Some(s) => parse_steps(s, "/steps", errors),
        None => {
            errors.push(missing("/steps"));
            None
        }
    };
    if let Some(steps) = &steps
        && steps.is_empty()
    {
        errors.push(DefinitionError::new(
            "/steps",
            "empty_block",
            "a process has at least one step",
        ));
    }
    if !errors.is_empty() {
        return None;
    }
    Some(Definition {
        entity_type: entity_type?,
        name: name?,
        triggers: triggers?,
        task_billing: task_billing?,
        steps: steps?,
    })
}

fn missing(path: &str) -> DefinitionError {
    DefinitionError::new(path, "required", "this member is required")
}

fn unknown_keys(
    obj: &Map<String, Value>,
    allowed: &[&str],
    path: &str,
    errors: &mut Vec<DefinitionError>,
) {
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            errors.push(DefinitionError::new(
                format!("{path}/{k}"),
                "unknown_member",
                format!(
                    "`{k}` is not a member here; expected one of {}",
                    allowed.join(", ")
                ),
            ));
        }
    }
}

fn parse_steps(v: &Value, path: &str, errors: &mut Vec<DefinitionError>) -> Option<Vec<Step>> {
    let Some(items) = v.as_array() else {
        errors.push(DefinitionError::new(
            path,
            "not_a_list",
            "steps are a JSON array",
        ));
        return None;
    };
    let before = errors.len();
    let steps: Vec<Option<Step>> = items
        .iter()
        .enumerate()
        .map(|(i, s)| parse_step(s, &format!("{path}/{i}"), errors))
        .collect();
    if errors.len() > before {
        return None;
    }
    steps.into_iter().collect()
}

fn parse_step(v: &Value, path: &str, errors: &mut Vec<DefinitionError>) -> Option<Step> {
    let Some(obj) = v.as_object() else {
        errors.push(DefinitionError::new(
            path,
            "not_an_object",
            "a step is a JSON object",
        ));
        return None;
    };
    let id = match obj.get("id").and_then(Value::as_str) {
        Some(id) if valid_id(id) => Some(id.to_owned()),
        _ => {
            errors.push(DefinitionError::new(
                format!("{path}/id"),
                "invalid_step_id",
                "a step id is 1 to 64 characters of a-z, 0-9, `_` and `-`",
            ));
            None
        }
    };
    let title = match obj.get("title") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if t.chars().count() <= 500 => Some(t.clone()),
        Some(_) => {
            errors.push(DefinitionError::new(
                format!("{path}/title"),
                "invalid",
                "a title is a string of at most 500 characters",
            ));
            None
        }
    };
    let Some(kind) = obj.get("kind").and_then(Value::as_str) else {
        errors.push(DefinitionError::new(
            format!("{path}/kind"),
            "required",
            format!("a step names its kind: one of {}", STEP_KINDS.join(", ")),
        ));
        return None;
    };
    let mut rest = obj.clone();
    rest.remove("id");
    rest.remove("title");
    rest.remove("kind");
    let body = match kind {
        "task" => leaf(Value::Object(rest), path, errors).map(StepBody::Task),
        "wait" => leaf(Value::Object(rest), path, errors).map(StepBody::Wait),
        "goto" => leaf(Value::Object(rest), path, errors).map(StepBody::Goto),
        "end" => leaf(Value::Object(rest), path, errors).map(StepBody::End),
        "action" => leaf(Value::Object(rest), path, errors).map(StepBody::Action),
        "parallel" => parse_parallel(&rest, path, errors).map(StepBody::Parallel),
        "switch" => parse_switch(&rest, path, errors).map(StepBody::Switch),
        other => {
            errors.push(DefinitionError::new(
                format!("{path}/kind"),
                "unknown_step_kind",
                format!(
                    "`{other}` is not a step kind; one of {}",
                    STEP_KINDS.join(", ")
                ),
            ));
            None
        }
    };
    Some(Step {
        id: id?,
        title,
        body: body?,
    })
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn branch_list<'a>(
    obj: &'a Map<String, Value>,
    path: &str,
    errors: &mut Vec<DefinitionError>,
) -> Option<&'a Vec<Value>> {
    match obj.get("branches").and_then(Value::as_array) {
        Some(b) if !b.is_empty() => Some(b),
        _ => {
            errors.push(DefinitionError::new(
                format!("{path}/branches"),
                "no_branches",
                "a non-empty list of branches is required",
            ));
            None
        }
    }
}

fn branch_title(
    b: &Map<String, Value>,
    path: &str,
    errors: &mut Vec<DefinitionError>,
) -> Option<String> {
    match b.get("title") {
        Some(Value::String(t)) => Some(t.clone()),
        None | Some(Value::Null) => None,
        Some(_) => {
            errors.push(DefinitionError::new(
                format!("{path}/title"),
                "invalid",
                "a title is a string",
            ));
            None
        }
    }
}

fn parse_parallel(
    obj: &Map<String, Value>,
    path: &str,
    errors: &mut Vec<DefinitionError>,
) -> Option<ParallelStep> {
    unknown_keys(obj, &["join", "branches"], path, errors);
    let join = match obj.get("join") {
        Some(j) => leaf::<Join>(j.clone(), &format!("{path}/join"), errors),
        None => Some(Join::All),
    };
    let mut branches = Vec::new();
    for (i, b) in branch_list(obj, path, errors)?.iter().enumerate() {
        let bpath = format!("{path}/branches/{i}");
        let Some(bo) = b.as_object() else {
            errors.push(DefinitionError::new(
                bpath,
                "not_an_object",
                "a branch is a JSON object",
            ));
            continue;
        };
        unknown_keys(bo, &["title", "steps"], &bpath, errors);
        let title = branch_title(bo, &bpath, errors);
        let steps = parse_steps(
            bo.get("steps").unwrap_or(&Value::Null),
            &format!("{bpath}/steps"),
            errors,
        );
        if let Some(steps) = steps {
            branches.push(Branch { title, steps });
        }
    }
    Some(ParallelStep {
        join: join?,
        branches,
    })
}

fn parse_switch(
    obj: &Map<String, Value>,
    path: &str,
    errors: &mut Vec<DefinitionError>,
) -> Option<SwitchStep> {
    unknown_keys(obj, &["branches", "otherwise"], path, errors);
    let mut branches = Vec::new();
    for (i, b) in branch_list(obj, path, errors)?.iter().enumerate() {
        let bpath = format!("{path}/branches/{i}");
        let Some(bo) = b.as_object() else {
            errors.push(DefinitionError::new(
                bpath,
                "not_an_object",
                "a branch is a JSON object",
            ));
            continue;
        };
        unknown_keys(bo, &["title", "when", "steps"], &bpath, errors);
        let title = branch_title(bo, &bpath, errors);
        let when = match bo.get("when") {
            Some(w) => leaf::<Predicate>(w.clone(), &format!("{bpath}/when"), errors),
            None => {
                errors.push(missing(&format!("{bpath}/when")));
                None
            }
        };
        let steps = parse_steps(
            bo.get("steps").unwrap_or(&Value::Null),
            &format!("{bpath}/steps"),
            errors,
        );
        if let (Some(when), Some(steps)) = (when, steps) {
            branches.push(Case { title, when, steps });
        }
    }
    let otherwise = match obj.get("otherwise") {
        None | Some(Value::Null) => None,
        Some(o) => Some(parse_steps(o, &format!("{path}/otherwise"), errors)?),
    };
    Some(SwitchStep {
        branches,
        otherwise,
    })
}

// ---- the index --------------------------------------------------------------------------

fn index_block(
    p: &mut PublishedDefinition,
    steps: &[Step],
    owner: Option<usize>,
    path: &str,
    errors: &mut Vec<DefinitionError>,
) -> usize {
    let block = p.blocks.len();
    p.blocks.push(Block {
        owner,
        nodes: Vec::new(),
    });
    for (pos, step) in steps.iter().enumerate() {
        let node = p.nodes.len();
        let spath = format!("{path}/{pos}");
        p.nodes.push(Node {
            step: step.clone(),
            path: spath.clone(),
            block,
            pos,
            children: Vec::new(),
        });
        p.blocks[block].nodes.push(node);
        if p.by_id.insert(step.id.clone(), node).is_some() {
            errors.push(DefinitionError::new(
                format!("{spath}/id"),
                "duplicate_step_id",
                format!("the step id `{}` is used more than once", step.id),
            ));
        }
        let children: Vec<usize> = match &step.body {
            StepBody::Parallel(par) => par
                .branches
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    index_block(
                        p,
                        &b.steps,
                        Some(node),
                        &format!("{spath}/branches/{i}/steps"),
                        errors,
                    )
                })
                .collect(),
            StepBody::Switch(sw) => {
                let mut c: Vec<usize> = sw
                    .branches
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        index_block(
                            p,
                            &b.steps,
                            Some(node),
                            &format!("{spath}/branches/{i}/steps"),
                            errors,
                        )
                    })
                    .collect();
                if let Some(o) = &sw.otherwise {
                    c.push(index_block(
                        p,
                        o,
                        Some(node),
                        &format!("{spath}/otherwise"),
                        errors,
                    ));
                }
                c
            }
            StepBody::Task(_)
            | StepBody::Wait(_)
            | StepBody::Goto(_)
            | StepBody::End(_)
            | StepBody::Action(_) => Vec::new(),
        };
        p.nodes[node].children = children;
    }
    block
}

impl PublishedDefinition {
    /// The outcome ids a step can end with, for `outcome` predicates.
    pub(crate) fn outcomes_of(&self, node: usize) -> Vec<String> {
        match &self.nodes[node].step.body {
            StepBody::Task(t) => t.offered_outcomes().into_iter().map(|o| o.id).collect(),
            StepBody::Wait(_) => vec!["arrived".into(), "timed_out".into(), "already".into()],
            StepBody::Action(a) if a.action.waits() => vec!["completed".into(), "cancelled".into()],
            StepBody::Action(_)
            | StepBody::Parallel(_)
            | StepBody::Switch(_)
            | StepBody::Goto(_)
            | StepBody::End(_) => Vec::new(),
        }
    }

    /// Whether `block` lies inside `ancestor` (or is it).
    pub(crate) fn block_within(&self, mut block: usize, ancestor: usize) -> bool {
        loop {
            if block == ancestor {
                return true;
            }
            match self.blocks[block].owner {
                Some(owner) => block = self.nodes[owner].block,
                None => return false,
            }
        }
    }

    /// Whether a sequence can never run past its end: it always ends the process or loops.
    fn terminates(&self, block: usize) -> bool {
        self.blocks[block]
            .nodes
            .iter()
            .any(|n| self.step_terminates(*n))
    }

    fn step_terminates(&self, node: usize) -> bool {
        let n = &self.nodes[node];
        match &n.step.body {
            StepBody::End(_) => true,
            StepBody::Goto(g) => g.max_rounds.is_none(),
            StepBody::Switch(sw) => {
                sw.otherwise.is_some() && n.children.iter().all(|b| self.terminates(*b))
            }
            StepBody::Parallel(par) => {
                let live = n.children.iter().filter(|b| !self.terminates(**b)).count();
                live < join_needs(par.join, n.children.len())
            }
            StepBody::Task(_) | StepBody::Wait(_) | StepBody::Action(_) => false,
        }
    }

    /// Whether running `nodes` always stops to wait for an input (a task, a delay, an event,
    /// a sub-process) before running past them.
    fn seq_waits(&self, nodes: &[usize]) -> bool {
        nodes.iter().any(|n| self.step_waits(*n))
    }

    fn step_waits(&self, node: usize) -> bool {
        let n = &self.nodes[node];
        match &n.step.body {
            StepBody::Task(_) => true,
            StepBody::Wait(w) => {
                w.skip_if.is_none()
                    && match &w.until {
                        WaitFor::Delay { delay } => delay.duration() > chrono::Duration::zero(),
                        WaitFor::Event { .. } => true,
                        WaitFor::DateField { .. } => false,
                    }
            }
            StepBody::Action(a) => a.action.waits(),
            StepBody::Switch(sw) => {
                sw.otherwise.is_some()
                    && n.children
                        .iter()
                        .all(|b| self.seq_waits(&self.blocks[*b].nodes))
            }
            StepBody::Parallel(par) => {
                let quick = n
                    .children
                    .iter()
                    .filter(|b| !self.seq_waits(&self.blocks[**b].nodes))
                    .count();
                quick < join_needs(par.join, n.children.len())
            }
            StepBody::Goto(_) | StepBody::End(_) => false,
        }
    }
}

/// How many branches a join needs.
pub(crate) fn join_needs(join: Join, branches: usize) -> usize {
    match join {
        Join::All => branches,
        Join::Any => 1,
        Join::N { n } => n as usize,
    }
}

// ---- the checks -------------------------------------------------------------------------

struct Checker<'a> {
    p: &'a PublishedDefinition,
    dir: Option<&'a Directory>,
    errors: Vec<DefinitionError>,
}

impl Checker<'_> {
    fn err(&mut self, path: impl Into<String>, code: &'static str, message: impl Into<String>) {
        self.errors.push(DefinitionError::new(path, code, message));
    }

    fn definition(&mut self) {
        let def = &self.p.definition;
        let is_deal = def.entity_type == EntityType::Deal;
        if def.task_billing.is_some() && !is_deal {
            self.err(
                "/task_billing",
                "not_for_entity",
                "task billing goes into deals only",
            );
        }
        for (i, t) in def.triggers.iter().enumerate() {
            let path = format!("/triggers/{i}");
            match t {
                Trigger::Manual | Trigger::Created => {}
                Trigger::StageEntered { stage } => self.stage(stage, &format!("{path}/stage")),
                Trigger::FieldChanged { field, to } => {
                    self.field_value(field, to.as_ref(), &path, "to");
                }
            }
        }
        for block in 0..self.p.blocks.len() {
            self.block(block);
        }
        for node in 0..self.p.nodes.len() {
            self.step(node);
        }
    }

    /// Steps after one that never runs past itself cannot be reached.
    fn block(&mut self, block: usize) {
        let nodes = self.p.blocks[block].nodes.clone();
        if let Some(first) = nodes.iter().position(|n| self.p.step_terminates(*n)) {
            for n in &nodes[first + 1..] {
                let node = &self.p.nodes[*n];
                self.err(
                    node.path.clone(),
                    "unreachable_step",
                    format!(
                        "step `{}` can never run: the step before it always ends the process or jumps back",
                        node.step.id
                    ),
                );
            }
        }
    }

    fn step(&mut self, node: usize) {
        let n = self.p.nodes[node].clone();
        let path = n.path.as_str();
        match &n.step.body {
            StepBody::Task(t) => self.task(t, path),
            StepBody::Parallel(par) => {
                if let Join::N { n: k } = par.join
                    && (k == 0 || k as usize > par.branches.len())
                {
                    self.err(
                        format!("{path}/join/n"),
                        "join_out_of_range",
                        format!("the join needs 1 to {} branches", par.branches.len()),
                    );
                }
                for (i, b) in n.children.iter().enumerate() {
                    let bpath = format!("{path}/branches/{i}/steps");
                    if self.p.blocks[*b].nodes.is_empty() {
                        self.err(
                            bpath,
                            "empty_branch",
                            "a parallel branch has at least one step",
                        );
                    } else if self.p.terminates(*b)
                        && !self.p.blocks[*b]
                            .nodes
                            .iter()
                            .any(|s| matches!(self.p.nodes[*s].step.body, StepBody::End(_)))
                    {
                        self.err(
                            bpath,
                            "branch_never_joins",
                            "this branch always jumps back and never reaches the join",
                        );
                    }
                }
            }
            StepBody::Switch(sw) => {
                for (i, c) in sw.branches.iter().enumerate() {
                    self.predicate(&c.when, &format!("{path}/branches/{i}/when"), Some(node));
                }
            }
            StepBody::Wait(w) => {
                match &w.until {
                    WaitFor::Delay { delay } => {
                        self.positive(delay, &format!("{path}/until/delay"))
                    }
                    WaitFor::DateField { field, offset } => {
                        self.date_field(field, &format!("{path}/until/field"));
                        self.span(offset, &format!("{path}/until/offset"));
                    }
                    WaitFor::Event { event } => self.event(event, &format!("{path}/until/event")),
                }
                if let Some(t) = &w.timeout {
                    self.positive(t, &format!("{path}/timeout"));
                }
                if let Some(p) = &w.skip_if {
                    self.predicate(p, &format!("{path}/skip_if"), None);
                }
            }
            StepBody::Goto(g) => self.goto(node, g, path),
            StepBody::End(e) => {
                if e.result == EndResult::Cancelled
                    && e.reason.as_deref().is_none_or(|r| r.trim().is_empty())
                {
                    self.err(
                        format!("{path}/reason"),
                        "reason_required",
                        "a cancelling end says why",
                    );
                }
            }
            StepBody::Action(a) => self.action(&a.action, &format!("{path}/action")),
        }
    }

    fn task(&mut self, t: &TaskStep, path: &str) {
        if t.assignees.is_empty() {
            self.err(
                format!("{path}/assignees"),
                "no_assignee",
                "a task has at least one assignee",
            );
        }
        for (i, a) in t.assignees.iter().enumerate() {
            self.assignee(a, &format!("{path}/assignees/{i}"));
        }
        if let Completion::Quorum { n } = t.completion
            && (n == 0 || n as usize > t.assignees.len())
        {
            self.err(
                format!("{path}/completion/n"),
                "quorum_out_of_range",
                format!("a quorum is 1 to {} of the assignees", t.assignees.len()),
            );
        }
        let mut seen = BTreeSet::new();
        for (i, o) in t.outcomes.iter().enumerate() {
            if !valid_id(&o.id) {
                self.err(
                    format!("{path}/outcomes/{i}/id"),
                    "invalid_outcome_id",
                    "an outcome id is snake-case, 1 to 64 characters",
                );
            }
            if !seen.insert(o.id.clone()) {
                self.err(
                    format!("{path}/outcomes/{i}/id"),
                    "duplicate_outcome",
                    format!("the outcome `{}` is offered twice", o.id),
                );
            }
        }
        match &t.due {
            Some(Due::After { after }) => self.positive(after, &format!("{path}/due/after")),
            Some(Due::Field { field, offset }) => {
                self.date_field(field, &format!("{path}/due/field"));
                self.span(offset, &format!("{path}/due/offset"));
            }
            None => {}
        }
        for (i, r) in t.requires.iter().enumerate() {
            let rpath = format!("{path}/requires/{i}");
            match r {
                Requirement::Document { document_type } => {
                    self.document_type(document_type, &format!("{rpath}/document_type"));
                }
                Requirement::Fields { fields } => {
                    if fields.is_empty() {
                        self.err(
                            format!("{rpath}/fields"),
                            "empty_list",
                            "name at least one field",
                        );
                    }
                    for (j, f) in fields.iter().enumerate() {
                        let _ = self.known_field(f, &format!("{rpath}/fields/{j}"));
                    }
                }
            }
        }
        if t.cost.is_some_and(|c| c.is_negative()) {
            self.err(format!("{path}/cost"), "negative", "a cost is not negative");
        }
        if let Some(sla) = &t.sla {
            if t.due.is_none() {
                self.err(
                    format!("{path}/sla"),
                    "sla_without_due",
                    "due-time rules need a due time",
                );
            }
            if let Some(r) = &sla.remind_before {
                self.positive(r, &format!("{path}/sla/remind_before"));
            }
            if let Some(e) = &sla.escalate_after {
                self.span(e, &format!("{path}/sla/escalate_after"));
                if e.duration() < chrono::Duration::zero() {
                    self.err(
                        format!("{path}/sla/escalate_after"),
                        "negative",
                        "escalation comes after the due time",
                    );
                }
            }
            if let Some(rep) = &sla.repeat {
                self.positive(&rep.every, &format!("{path}/sla/repeat/every"));
                if rep.times == 0 || rep.times > 100 {
                    self.err(
                        format!("{path}/sla/repeat/times"),
                        "out_of_range",
                        "repeat 1 to 100 times",
                    );
                }
                if sla.escalate_after.is_none() {
                    self.err(
                        format!("{path}/sla/repeat"),
                        "repeat_without_escalation",
                        "only an escalation repeats",
                    );
                }
            }
        }
    }

    fn goto(&mut self, node: usize, g: &GotoStep, path: &str) {
        let tpath = format!("{path}/target");
        let Some(&target) = self.p.by_id.get(&g.target) else {
            self.err(
                tpath,
                "unknown_step",
                format!("no step has the id `{}`", g.target),
            );
            return;
        };
        if let Some(0) = g.max_rounds {
            self.err(
                format!("{path}/max_rounds"),
                "out_of_range",
                "at least one round",
            );
        }
        let p = self.p;
        let target_block = p.nodes[target].block;
        let here = p.nodes[node].block;
        if !p.block_within(here, target_block) {
            self.err(
                tpath,
                "goto_out_of_block",
                format!("`{}` is not in this block or an enclosing one: a goto may not jump into another block", g.target),
            );
            return;
        }
        // Climb from the goto to the target's block: no parallel branch may be left (its
        // join would never complete), and note where the climb enters the target's block.
        let mut block = here;
        let mut at = node;
        let mut waits = false;
        while block != target_block {
            let nodes = &p.blocks[block].nodes;
            waits |= p.seq_waits(&nodes[..p.nodes[at].pos]);
            let Some(owner) = p.blocks[block].owner else {
                break;
            };
            if matches!(p.nodes[owner].step.body, StepBody::Parallel(_)) {
                self.err(
                    tpath,
                    "goto_out_of_block",
                    format!("`{}` lies outside the parallel branch of this goto: the branch would never join", g.target),
                );
                return;
            }
            at = owner;
            block = p.nodes[owner].block;
        }
        let (from, to) = (p.nodes[target].pos, p.nodes[at].pos);
        if from > to || target == node {
            self.err(
                tpath,
                "goto_forward",
                "a goto only jumps back to an earlier step",
            );
            return;
        }
        waits |= p.seq_waits(&p.blocks[target_block].nodes[from..to]);
        if !waits && g.max_rounds.is_none() {
            self.err(
                path,
                "loop_without_wait",
                "the loop back to this target passes no task, delay or event wait: it would spin; add one or set max_rounds",
            );
        }
    }

    fn action(&mut self, a: &Action, path: &str) {
        let is_deal = self.p.definition.entity_type == EntityType::Deal;
        match a {
            Action::Notify { to, text } => {
                self.recipient(to, &format!("{path}/to"));
                self.nonempty(text, &format!("{path}/text"));
            }
            Action::SendEmail { to, subject, body } => {
                self.recipient(to, &format!("{path}/to"));
                self.nonempty(subject, &format!("{path}/subject"));
                self.nonempty(body, &format!("{path}/body"));
            }
            Action::SetField { field, value } => {
                self.field_value(field, Some(value), path, "value")
            }
            Action::MoveToStage { stage } => self.stage(stage, &format!("{path}/stage")),
            Action::CreateCalendarEvent {
                title,
                starts_in,
                duration,
                participants,
            } => {
                self.nonempty(title, &format!("{path}/title"));
                self.span(starts_in, &format!("{path}/starts_in"));
                self.positive(duration, &format!("{path}/duration"));
                if participants.is_empty() {
                    self.err(
                        format!("{path}/participants"),
                        "empty_list",
                        "an event has at least one participant",
                    );
                }
                for (i, r) in participants.iter().enumerate() {
                    self.recipient(r, &format!("{path}/participants/{i}"));
                }
            }
            Action::CreateReminder {
                text,
                remind_in,
                to,
            } => {
                self.nonempty(text, &format!("{path}/text"));
                self.span(remind_in, &format!("{path}/remind_in"));
                self.recipient(to, &format!("{path}/to"));
            }
            Action::CreateDocument { .. } => {
                if !is_deal {
                    self.err(
                        format!("{path}/document"),
                        "not_for_entity",
                        "documents are made from deals",
                    );
                }
            }
            Action::CallWebhook { url, event } => {
                if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2000
                {
                    self.err(
                        format!("{path}/url"),
                        "invalid_url",
                        "an http(s) URL is required",
                    );
                }
                self.nonempty(event, &format!("{path}/event"));
            }
            Action::BillTime {
                task,
                mode,
                hourly_rate,
                notify_responsible,
            } => {
                let billing = BillTime {
                    mode: *mode,
                    hourly_rate: *hourly_rate,
                    notify_responsible: *notify_responsible,
                };
                billing_rules(&billing, path, &mut self.errors);
                if !is_deal {
                    self.err(
                        format!("{path}/task"),
                        "not_for_entity",
                        "time is billed into deals only",
                    );
                }
                let is_task = self
                    .p
                    .by_id
                    .get(task)
                    .is_some_and(|n| matches!(self.p.nodes[*n].step.body, StepBody::Task(_)));
                if !is_task {
                    self.err(
                        format!("{path}/task"),
                        "unknown_step",
                        format!("`{task}` is not a task step of this process"),
                    );
                }
            }
            Action::StartProcess { template, .. } => {
                if let Some(dir) = self.dir
                    && !dir.templates.contains(template)
                {
                    self.err(
                        format!("{path}/template"),
                        "unknown_template",
                        format!("no published template `{template}`"),
                    );
                }
            }
        }
    }

    fn assignee(&mut self, a: &AssigneeSpec, path: &str) {
        let r = match a {
            AssigneeSpec::User { id } => Recipient::User { id: *id },
            AssigneeSpec::Role { role } => Recipient::Role { role: role.clone() },
            AssigneeSpec::Pool { id } => Recipient::Pool { id: *id },
            AssigneeSpec::Responsible => Recipient::Responsible,
            AssigneeSpec::Supervisor => Recipient::Supervisor,
        };
        self.recipient(&r, path);
    }

    fn recipient(&mut self, r: &Recipient, path: &str) {
        match r {
            Recipient::Role { role } => match parse_role(role) {
                None => self.err(
                    format!("{path}/role"),
                    "unknown_role",
                    format!("`{role}` is not a role"),
                ),
                Some(role) => {
                    if let Some(dir) = self.dir
                        && !dir.roles.contains(&role)
                    {
                        self.err(
                            format!("{path}/role"),
                            "role_without_holders",
                            format!("no active user holds the role `{role}`"),
                        );
                    }
                }
            },
            Recipient::User { id } => {
                if let Some(dir) = self.dir
                    && !dir.users.contains(id)
                {
                    self.err(
                        format!("{path}/id"),
                        "unknown_user",
                        format!("no active user {id}"),
                    );
                }
            }
            Recipient::Pool { id } => {
                if let Some(dir) = self.dir
                    && !dir.pools.contains(id)
                {
                    self.err(
                        format!("{path}/id"),
                        "unknown_pool",
                        format!("no pool {id}"),
                    );
                }
            }
            Recipient::Responsible | Recipient::Supervisor | Recipient::Contact => {}
        }
    }

    fn event(&mut self, e: &EventSpec, path: &str) {
        match e {
            EventSpec::PaymentReceived { min_percent } => {
                if !matches!(
                    self.p.definition.entity_type,
                    EntityType::Deal | EntityType::Invoice
                ) {
                    self.err(
                        path,
                        "not_for_entity",
                        "payments are received by deals and invoices",
                    );
                }
                if min_percent.is_some_and(|p| {
                    p <= rust_decimal::Decimal::ZERO || p > rust_decimal::Decimal::ONE_HUNDRED
                }) {
                    self.err(
                        format!("{path}/min_percent"),
                        "out_of_range",
                        "a percent above 0 and at most 100",
                    );
                }
            }
            EventSpec::FieldChanged { field, to } => {
                self.field_value(field, to.as_ref(), path, "to")
            }
            EventSpec::StageEntered { stage } => self.stage(stage, &format!("{path}/stage")),
            EventSpec::DocumentAttached { document_type } => {
                self.document_type(document_type, &format!("{path}/document_type"));
            }
        }
    }

    fn predicate(&mut self, p: &Predicate, path: &str, switch: Option<usize>) {
        match p {
            Predicate::All { of } | Predicate::Any { of } => {
                if of.is_empty() {
                    self.err(
                        format!("{path}/of"),
                        "empty_list",
                        "combine at least one condition",
                    );
                }
                for (i, q) in of.iter().enumerate() {
                    self.predicate(q, &format!("{path}/of/{i}"), switch);
                }
            }
            Predicate::Not { predicate } => {
                self.predicate(predicate, &format!("{path}/predicate"), switch)
            }
            Predicate::IsSet { field } => {
                self.known_field(field, &format!("{path}/field"));
            }
            Predicate::Compare { field, op, value } => {
                if let Some(ty) = self.known_field(field, &format!("{path}/field"))
                    && let Err((code, message)) = check_comparison(&ty, *op, value)
                {
                    self.err(format!("{path}/value"), code, message);
                }
            }
            Predicate::Outcome { step, is } => {
                let spath = format!("{path}/step");
                let Some(&target) = self.p.by_id.get(step) else {
                    self.err(
                        spath,
                        "unknown_step",
                        format!("no step has the id `{step}`"),
                    );
                    return;
                };
                if let Some(sw) = switch {
                    let inside = self.p.nodes[sw]
                        .children
                        .iter()
                        .any(|b| self.p.block_within(self.p.nodes[target].block, *b));
                    if inside || target == sw {
                        self.err(
                            spath.clone(),
                            "outcome_not_yet_known",
                            "a switch tests outcomes of steps before it, not inside it",
                        );
                    }
                }
                let offered = self.p.outcomes_of(target);
                if offered.is_empty() {
                    self.err(
                        spath,
                        "no_outcomes",
                        format!("step `{step}` has no outcome to test"),
                    );
                }
                if is.is_empty() {
                    self.err(
                        format!("{path}/is"),
                        "empty_list",
                        "name at least one outcome",
                    );
                }
                for (i, o) in is.iter().enumerate() {
                    if !offered.is_empty() && !offered.contains(o) {
                        self.err(
                            format!("{path}/is/{i}"),
                            "unknown_outcome",
                            format!("step `{step}` offers {}", offered.join(", ")),
                        );
                    }
                }
            }
        }
    }

    fn known_field(&mut self, field: &str, path: &str) -> Option<FieldType> {
        match self.p.schema.get(field) {
            Some(t) => Some(t.clone()),
            None => {
                self.err(
                    path,
                    "unknown_field",
                    format!(
                        "a {} has no field `{field}`",
                        self.p.definition.entity_type.as_str()
                    ),
                );
                None
            }
        }
    }

    fn date_field(&mut self, field: &str, path: &str) {
        if let Some(t) = self.known_field(field, path)
            && t != FieldType::Date
        {
            self.err(
                path,
                "not_a_date_field",
                format!("`{field}` is a {} field, not a date", t.name()),
            );
        }
    }

    /// A field and the value it is set or compared to; the value sits at `{path}/{member}`.
    fn field_value(&mut self, field: &str, value: Option<&Value>, path: &str, member: &str) {
        if let Some(ty) = self.known_field(field, &format!("{path}/field"))
            && let Some(v) = value
            && super::predicate::FieldValue::from_operand(&ty, v).is_none()
        {
            self.err(
                format!("{path}/{member}"),
                "ill_typed_operand",
                format!("`{v}` is not a value of this {} field", ty.name()),
            );
        }
    }

    fn stage(&mut self, stage: &str, path: &str) {
        match self.p.schema.get("stage") {
            Some(FieldType::Choice { options }) if options.iter().any(|o| o == stage) => {}
            Some(FieldType::Choice { options }) => {
                self.err(
                    path,
                    "unknown_stage",
                    format!("`{stage}` is not a stage; one of {}", options.join(", ")),
                );
            }
            _ => self.err(path, "unknown_stage", "this entity type has no stages"),
        }
    }

    fn document_type(&mut self, t: &str, path: &str) {
        if let Some(dir) = self.dir
            && !dir.document_types.contains(t)
        {
            self.err(
                path,
                "unknown_document_type",
                format!("`{t}` is not a document type"),
            );
        }
    }

    fn nonempty(&mut self, s: &str, path: &str) {
        if s.trim().is_empty() {
            self.err(path, "required", "must not be empty");
        }
    }

    fn span(&mut self, s: &Span, path: &str) {
        if !s.in_range() {
            self.err(path, "out_of_range", "at most ten years");
        }
    }

    fn positive(&mut self, s: &Span, path: &str) {
        self.span(s, path);
        if s.duration() <= chrono::Duration::zero() {
            self.err(path, "not_positive", "a length of time above zero");
        }
    }
}

/// The billing configuration's own rules (WF-BILL-1), at `path` in the definition.
fn billing_rules(b: &BillTime, path: &str, errors: &mut Vec<DefinitionError>) {
    for (member, code, message) in b.problems() {
        errors.push(DefinitionError::new(
            format!("{path}/{member}"),
            code,
            message,
        ));
    }
}
