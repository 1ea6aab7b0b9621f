//! Property tests of the engine: random inputs to random valid definitions never leave a join
//! that can no longer complete, never run an action twice (same step and round), and every
//! input ends the instance or leaves it waiting on something that can move it.

use std::collections::BTreeSet;

use chrono::Duration;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::tests::fixtures::*;
use super::*;
use crate::money::Money;

#[derive(Debug, Clone)]
enum Shape {
    Task {
        participants: u8,
        mode: u8,
        sla: bool,
    },
    Notify,
    Wait(u8),
    Switch {
        cases: Vec<Vec<Shape>>,
        otherwise: Option<Vec<Shape>>,
    },
    Parallel {
        join: u8,
        branches: Vec<Vec<Shape>>,
    },
    Goto {
        back: u8,
        max_rounds: Option<u32>,
    },
    End {
        cancelled: bool,
    },
}

fn shape() -> impl Strategy<Value = Shape> {
    let leaf = prop_oneof![
        4 => (1u8..4, 0u8..4, any::<bool>()).prop_map(|(participants, mode, sla)| Shape::Task { participants, mode, sla }),
        2 => Just(Shape::Notify),
        2 => (0u8..3).prop_map(Shape::Wait),
        2 => (any::<u8>(), prop::option::of(1u32..3)).prop_map(|(back, max_rounds)| Shape::Goto { back, max_rounds }),
        1 => any::<bool>().prop_map(|cancelled| Shape::End { cancelled }),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        let seq = prop::collection::vec(inner, 1..4);
        prop_oneof![
            (
                prop::collection::vec(seq.clone(), 1..3),
                prop::option::of(seq.clone())
            )
                .prop_map(|(cases, otherwise)| Shape::Switch { cases, otherwise }),
            (0u8..3, prop::collection::vec(seq, 1..4))
                .prop_map(|(join, branches)| Shape::Parallel { join, branches }),
        ]
    })
}

fn steps_json(seq: &[Shape], next: &mut u32) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for s in seq {
        *next += 1;
        let id = format!("s{next}");
        let v = match s {
            Shape::Task {
                participants,
                mode,
                sla,
            } => {
                let people = [RESPONSIBLE, SUPERVISOR, HEAD];
                let assignees: Vec<Value> = (0..*participants as usize)
                    .map(|i| json!({ "type": "user", "id": people[i] }))
                    .collect();
                let completion = match mode {
                    0 => json!({ "mode": "first" }),
                    1 => json!({ "mode": "any" }),
                    2 => json!({ "mode": "all" }),
                    _ => json!({ "mode": "quorum", "n": (*participants as u32).div_ceil(2) }),
                };
                let mut t = json!({ "id": id, "kind": "task", "assignees": assignees, "completion": completion, "cost": "10.00",
                    "outcomes": [{ "id": "approve" }, { "id": "reject", "verdict": "reject" }, { "id": "rework", "verdict": "rework" }] });
                if *sla {
                    t["due"] = json!({ "type": "after", "after": { "hours": 4 } });
                    t["sla"] = json!({ "remind_before": { "hours": 1 }, "escalate_after": { "hours": 1 }, "repeat": { "every": { "hours": 2 }, "times": 2 } });
                }
                t
            }
            Shape::Notify => {
                json!({ "id": id, "kind": "action", "action": { "type": "notify", "to": { "type": "responsible" }, "text": "x" } })
            }
            Shape::Wait(0) => {
                json!({ "id": id, "kind": "wait", "until": { "type": "delay", "delay": { "hours": 3 } } })
            }
            Shape::Wait(1) => {
                json!({ "id": id, "kind": "wait", "until": { "type": "event", "event": { "type": "payment_received" } }, "timeout": { "days": 1 } })
            }
            Shape::Wait(_) => {
                json!({ "id": id, "kind": "wait", "until": { "type": "date_field", "field": "expected_close_date" } })
            }
            Shape::Switch { cases, otherwise } => {
                let branches: Vec<Value> = cases.iter().enumerate().map(|(i, c)| json!({
                    "when": { "type": "compare", "field": "amount", "op": "gte", "value": format!("{}.00", 1000 * (i + 1)) },
                    "steps": steps_json(c, next) })).collect();
                let mut v = json!({ "id": id, "kind": "switch", "branches": branches });
                if let Some(o) = otherwise {
                    v["otherwise"] = Value::Array(steps_json(o, next));
                }
                v
            }
            Shape::Parallel { join, branches } => {
                let join = match join {
                    0 => json!({ "type": "all" }),
                    1 => json!({ "type": "any" }),
                    _ => json!({ "type": "n", "n": branches.len().div_ceil(2) }),
                };
                let branches: Vec<Value> = branches
                    .iter()
                    .map(|b| json!({ "steps": steps_json(b, next) }))
                    .collect();
                json!({ "id": id, "kind": "parallel", "join": join, "branches": branches })
            }
            Shape::Goto { back, max_rounds } => {
                if ids.is_empty() {
                    json!({ "id": id, "kind": "action", "action": { "type": "notify", "to": { "type": "responsible" }, "text": "x" } })
                } else {
                    let target = &ids[ids.len() - 1 - (*back as usize % ids.len())];
                    let mut g = json!({ "id": id, "kind": "goto", "target": target });
                    if let Some(m) = max_rounds {
                        g["max_rounds"] = json!(m);
                    }
                    g
                }
            }
            Shape::End { cancelled: true } => {
                json!({ "id": id, "kind": "end", "result": "cancelled", "reason": "r" })
            }
            Shape::End { cancelled: false } => {
                json!({ "id": id, "kind": "end", "result": "completed" })
            }
        };
        let stops = matches!(s, Shape::End { .. })
            || (v["kind"] == "goto" && v.get("max_rounds").is_none());
        ids.push(id);
        out.push(v);
        if stops {
            break;
        }
    }
    out
}

fn definition() -> impl Strategy<Value = PublishedDefinition> {
    prop::collection::vec(shape(), 1..6).prop_filter_map("invalid definition", |seq| {
        let mut next = 0;
        let def = deal(Value::Array(steps_json(&seq, &mut next)));
        publish(&def, &directory(EntityType::Deal)).ok()
    })
}

/// Every open step can still move: tasks have open tasks, waits have a timer or an event,
/// switches run their branch, and a parallel step has enough branches done or running to
/// complete its join.
fn check_live(def: &PublishedDefinition, s: &InstanceState) -> Result<(), String> {
    let open_in = |block: usize| -> bool {
        def.blocks[block]
            .nodes
            .iter()
            .any(|n| s.steps[&def.nodes[*n].step.id].status.is_open())
    };
    let mut any_open = false;
    for (i, n) in def.nodes.iter().enumerate() {
        let st = &s.steps[&n.step.id];
        if !st.status.is_open() {
            continue;
        }
        any_open = true;
        let _ = i;
        match &n.step.body {
            StepBody::Task(_) => {
                if !st.tasks.iter().any(|t| t.state == TaskState::Open) {
                    return Err(format!("{} is active without an open task", n.step.id));
                }
            }
            StepBody::Wait(w) => {
                let timer = s.timers.iter().any(|t| t.key.step == n.step.id);
                let event = matches!(w.until, WaitFor::Event { .. } | WaitFor::DateField { .. });
                if !timer && !event {
                    return Err(format!("{} waits for nothing", n.step.id));
                }
            }
            StepBody::Switch(_) => {
                if !n.children.iter().any(|b| open_in(*b)) {
                    return Err(format!("switch {} runs no branch", n.step.id));
                }
            }
            StepBody::Parallel(par) => {
                let live = n
                    .children
                    .iter()
                    .enumerate()
                    .filter(|(b, blk)| !st.branches.contains(b) && open_in(**blk))
                    .count();
                if st.branches.len() + live < validate::join_needs(par.join, n.children.len()) {
                    return Err(format!("the join of {} can no longer complete", n.step.id));
                }
            }
            StepBody::Action(a) => {
                if !a.action.waits() {
                    return Err(format!("action {} left open", n.step.id));
                }
            }
            StepBody::Goto(_) | StepBody::End(_) => return Err(format!("{} left open", n.step.id)),
        }
    }
    for t in &s.timers {
        if !s.steps[&t.key.step].status.is_open() || s.steps[&t.key.step].round != t.key.round {
            return Err(format!("timer {:?} of a step that moved on", t.key));
        }
    }
    match s.status {
        InstanceStatus::Running if !any_open => Err("running, but nothing is open".into()),
        InstanceStatus::Completed | InstanceStatus::Cancelled { .. }
            if any_open || !s.timers.is_empty() =>
        {
            Err("finished with open steps or timers".into())
        }
        _ => Ok(()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, max_global_rejects: 100_000, max_local_rejects: 100_000, ..ProptestConfig::default() })]

    #[test]
    fn random_inputs_never_break_a_join_repeat_an_action_or_spin(
        def in definition(),
        amount in 0i64..4000,
        choices in prop::collection::vec((any::<u8>(), any::<u8>()), 0..60),
    ) {
        let mut d = Driver::new(def);
        d.facts.fields.insert("amount".into(), FieldValue::Money(Money::from_minor(amount * 100)));
        d.input(Input::Start);
        let mut actions = BTreeSet::new();
        let mut tasks = BTreeSet::new();
        let mut fired: Vec<TimerKey> = Vec::new();
        let mut check = |d: &Driver, effects: &[Effect]| -> Result<(), TestCaseError> {
            for e in effects {
                match e {
                    Effect::RunAction { key, .. } => prop_assert!(actions.insert(key.clone()), "action {key} ran twice"),
                    Effect::CreateTask { key, .. } => prop_assert!(tasks.insert(key.clone()), "task {key} created twice"),
                    _ => {}
                }
            }
            if let Err(e) = check_live(&d.def, &d.state) {
                return Err(TestCaseError::fail(e));
            }
            Ok(())
        };
        let start = d.effects.clone();
        check(&d, &start)?;
        for (pick, param) in choices {
            if d.state.status != InstanceStatus::Running {
                break;
            }
            let open: Vec<TaskKey> = d.state.open_tasks().map(|t| t.key.clone()).collect();
            let timers: Vec<ScheduledTimer> = d.state.timers.clone();
            let kinds = 5u8;
            let input = match pick % kinds {
                0 | 1 if !open.is_empty() => {
                    let key = open[param as usize % open.len()].clone();
                    let outcome = ["approve", "reject", "rework"][param as usize % 3];
                    Input::TaskCompleted(d.completion(key, outcome))
                }
                2 if !timers.is_empty() => {
                    let t = &timers[param as usize % timers.len()];
                    if d.now < t.at {
                        d.now = t.at;
                    }
                    fired.push(t.key.clone());
                    Input::TimerFired(t.key.clone())
                }
                3 if !fired.is_empty() => Input::TimerFired(fired[param as usize % fired.len()].clone()),
                3 => Input::Entity(EntityEvent::FieldChanged {
                    field: "expected_close_date".into(),
                    value: FieldValue::Date(d.now + Duration::hours(i64::from(param % 5))),
                }),
                4 if param == 255 => Input::Cancel { reason: "enough".into() },
                _ => Input::Entity(EntityEvent::PaymentReceived { payment_percent: Decimal::from(param % 101) }),
            };
            let before = d.effects.len();
            match d.try_input(input) {
                Ok(_) => {}
                Err(ProcessRefusal::Runaway(n)) => return Err(TestCaseError::fail(format!("ran {n} steps on one input"))),
                Err(ProcessRefusal::Inconsistent(m)) => return Err(TestCaseError::fail(m)),
                Err(_) => {}
            }
            let new: Vec<Effect> = d.effects[before..].to_vec();
            check(&d, &new)?;
        }
    }

    /// Processing is deterministic: the same input to the same state gives the same result.
    #[test]
    fn processing_is_a_function(def in definition(), pick in any::<u8>()) {
        let mut d = Driver::new(def);
        d.input(Input::Start);
        let open: Vec<TaskKey> = d.state.open_tasks().map(|t| t.key.clone()).collect();
        if let Some(key) = open.get(pick as usize % open.len().max(1)) {
            let input = Input::TaskCompleted(d.completion(key.clone(), "approve"));
            let a = process(&d.def, &d.state, &input, &d.facts, d.now);
            let b = process(&d.def, &d.state, &input, &d.facts, d.now);
            prop_assert_eq!(a, b);
        }
    }
}
