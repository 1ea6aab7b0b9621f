//! Unit tests of publishing, of every step kind and of the shipped templates.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

use super::*;
use crate::money::Money;
use crate::role::Role;

pub(super) mod fixtures {
    use super::*;

    pub const RESPONSIBLE: Uuid = Uuid::from_u128(1);
    pub const SUPERVISOR: Uuid = Uuid::from_u128(2);
    pub const HEAD: Uuid = Uuid::from_u128(3);
    pub const ACCOUNTANT: Uuid = Uuid::from_u128(4);
    pub const POOL: Uuid = Uuid::from_u128(100);

    fn choice(options: &[&str]) -> FieldType {
        FieldType::Choice {
            options: options.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn fields(entity: EntityType) -> BTreeMap<String, FieldType> {
        let mut f: BTreeMap<String, FieldType> = BTreeMap::new();
        f.insert("title".into(), FieldType::Text);
        f.insert("responsible".into(), FieldType::User);
        match entity {
            EntityType::Deal => {
                f.insert("amount".into(), FieldType::Money);
                f.insert("payment_percent".into(), FieldType::Number);
                f.insert("expected_close_date".into(), FieldType::Date);
                f.insert("company".into(), FieldType::Text);
                f.insert("legal_entity".into(), FieldType::Text);
                f.insert("terms".into(), FieldType::Text);
                f.insert("loss_reason".into(), FieldType::Text);
                f.insert("urgent".into(), FieldType::Bool);
                f.insert(
                    "stage".into(),
                    choice(&["new", "proposal", "order", "won", "lost"]),
                );
            }
            EntityType::Lead => {
                f.insert(
                    "status".into(),
                    choice(&["new", "in_work", "qualified", "junk"]),
                );
                f.insert("potential_amount".into(), FieldType::Money);
                f.insert("next_call_at".into(), FieldType::Date);
            }
            EntityType::Contract => {
                f.insert("amount".into(), FieldType::Money);
                f.insert("made_from_template".into(), FieldType::Bool);
                f.insert("end_date".into(), FieldType::Date);
                f.insert(
                    "stage".into(),
                    choice(&["draft", "approval", "signing", "signed", "archived"]),
                );
            }
            EntityType::Company
            | EntityType::Contact
            | EntityType::Invoice
            | EntityType::SupplierInvoice => {}
        }
        f
    }

    pub fn directory(entity: EntityType) -> Directory {
        Directory {
            users: [RESPONSIBLE, SUPERVISOR, HEAD, ACCOUNTANT]
                .into_iter()
                .collect(),
            pools: [POOL].into_iter().collect(),
            roles: Role::ALL.into_iter().collect(),
            fields: fields(entity),
            document_types: [
                "quote",
                "invoice",
                "contract",
                "signed_scan",
                "contract_original",
                "vacation_application",
                "closing_document",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            templates: ["sale", "cold_lead", "document_approval"]
                .into_iter()
                .map(String::from)
                .collect(),
        }
    }

    pub fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    pub fn deal(steps: Value) -> Value {
        json!({ "entity_type": "deal", "name": "test", "steps": steps })
    }

    pub fn published(def: Value) -> PublishedDefinition {
        let entity = def
            .get("entity_type")
            .cloned()
            .and_then(|e| serde_json::from_value(e).ok())
            .unwrap_or(EntityType::Deal);
        match publish(&def, &directory(entity)) {
            Ok(p) => p,
            Err(e) => panic!("{e:#?}"),
        }
    }

    /// Drives one instance through the pure function, keeping every effect.
    pub struct Driver {
        pub def: PublishedDefinition,
        pub state: InstanceState,
        pub facts: EntityFacts,
        pub now: DateTime<Utc>,
        pub effects: Vec<Effect>,
    }

    impl Driver {
        pub fn new(def: PublishedDefinition) -> Driver {
            Driver {
                def,
                state: InstanceState::new(),
                facts: EntityFacts {
                    fields: BTreeMap::new(),
                    responsible: Some(RESPONSIBLE),
                    supervisor: Some(SUPERVISOR),
                },
                now: t0(),
                effects: Vec::new(),
            }
        }

        pub fn try_input(&mut self, input: Input) -> Result<Vec<Effect>, ProcessRefusal> {
            let t = process(&self.def, &self.state, &input, &self.facts, self.now)?;
            self.state = t.state;
            self.effects.extend(t.effects.iter().cloned());
            Ok(t.effects)
        }

        pub fn input(&mut self, input: Input) -> Vec<Effect> {
            match self.try_input(input) {
                Ok(e) => e,
                Err(e) => panic!("refused: {e}"),
            }
        }

        pub fn open_keys(&self, step: &str) -> Vec<TaskKey> {
            self.state
                .open_tasks()
                .filter(|t| t.key.step == step)
                .map(|t| t.key.clone())
                .collect()
        }

        pub fn completion(&self, key: TaskKey, outcome: &str) -> TaskCompletion {
            let by = match self.state.steps[&key.step].tasks[key.participant as usize].assignee {
                Participant::User(u) => u,
                Participant::Role(_) | Participant::Pool(_) => HEAD,
            };
            TaskCompletion {
                task: key,
                by,
                outcome: outcome.into(),
                comment: "потому что".into(),
                documents: vec!["quote".into(), "contract".into(), "signed_scan".into()],
                filled_fields: Vec::new(),
            }
        }

        /// Completes the participant's open task of `step`.
        pub fn complete_nth(&mut self, step: &str, n: usize, outcome: &str) -> Vec<Effect> {
            let keys = self.open_keys(step);
            let Some(key) = keys.get(n).cloned() else {
                panic!(
                    "no open task {n} of {step}; state: {:#?}",
                    self.state.steps.get(step)
                );
            };
            let c = self.completion(key, outcome);
            self.input(Input::TaskCompleted(c))
        }

        pub fn complete(&mut self, step: &str, outcome: &str) -> Vec<Effect> {
            self.complete_nth(step, 0, outcome)
        }

        pub fn status(&self, step: &str) -> StepStatus {
            self.state.steps[step].status
        }

        pub fn fire_due_timers(&mut self) -> Vec<Effect> {
            let due: Vec<TimerKey> = self
                .state
                .timers
                .iter()
                .filter(|t| t.at <= self.now)
                .map(|t| t.key.clone())
                .collect();
            let mut out = Vec::new();
            for k in due {
                out.extend(self.input(Input::TimerFired(k)));
            }
            out
        }

        pub fn action_keys(&self) -> Vec<(ActionKey, &'static str)> {
            self.effects
                .iter()
                .filter_map(|e| match e {
                    Effect::RunAction { key, action } => Some((key.clone(), action.kind())),
                    _ => None,
                })
                .collect()
        }
    }
}

use fixtures::*;

fn errors(def: Value) -> Vec<DefinitionError> {
    match publish(&def, &directory(EntityType::Deal)) {
        Ok(_) => panic!("published, but it should not"),
        Err(e) => e,
    }
}

fn has(errs: &[DefinitionError], path: &str, code: &str) -> bool {
    errs.iter().any(|e| e.path == path && e.code == code)
}

fn assert_error(def: Value, path: &str, code: &str) {
    let errs = errors(def);
    assert!(
        has(&errs, path, code),
        "expected {code} at {path}, got {errs:#?}"
    );
}

fn task(id: &str) -> Value {
    json!({ "id": id, "kind": "task", "assignees": [{ "type": "responsible" }] })
}

fn approval(id: &str) -> Value {
    json!({ "id": id, "kind": "task", "assignees": [{ "type": "responsible" }],
        "outcomes": [{ "id": "approve" }, { "id": "reject", "verdict": "reject" }, { "id": "rework", "verdict": "rework" }] })
}

fn notify(id: &str) -> Value {
    json!({ "id": id, "kind": "action", "action": { "type": "notify", "to": { "type": "responsible" }, "text": "x" } })
}

// ---- the shipped templates ----------------------------------------------------------------

#[test]
fn every_shipped_template_publishes_and_survives_storage() {
    for (code, text) in templates::SHIPPED {
        let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{code}: {e}"));
        let entity = serde_json::from_value(v["entity_type"].clone()).unwrap();
        let p = publish(&v, &directory(entity)).unwrap_or_else(|e| panic!("{code}: {e:#?}"));
        let restored = PublishedDefinition::restore(&p.to_stored())
            .unwrap_or_else(|e| panic!("{code}: {e:#?}"));
        assert_eq!(restored.definition(), p.definition(), "{code}");
        let again = serde_json::to_value(p.definition()).unwrap();
        let p2 = publish(&again, &directory(entity)).unwrap_or_else(|e| panic!("{code}: {e:#?}"));
        assert_eq!(
            p2.definition(),
            p.definition(),
            "{code} round-trips through its JSON"
        );
    }
}

#[test]
fn the_sale_starts_on_creation_and_hands_the_first_call_to_the_responsible() {
    let p = published(serde_json::from_str(templates::SHIPPED[0].1).unwrap());
    assert!(p.starts_on(&TriggerEvent::Created));
    let mut d = Driver::new(p);
    let effects = d.input(Input::Start);
    assert!(
        matches!(&effects[0], Effect::CreateTask { key, assignee: Participant::User(u), task_type: TaskType::Call, .. }
        if key.step == "first_contact" && *u == RESPONSIBLE)
    );
    // Remind and escalate timers of the SLA.
    assert_eq!(d.state.timers.len(), 2);
}

fn sale() -> Driver {
    let mut d = Driver::new(published(
        serde_json::from_str(templates::SHIPPED[0].1).unwrap(),
    ));
    d.input(Input::Start);
    d
}

#[test]
fn the_sale_ends_as_lost_when_the_client_refuses() {
    let mut d = sale();
    d.complete("first_contact", "client_refuses");
    assert_eq!(
        d.state.status,
        InstanceStatus::Cancelled {
            reason: "Клиент отказался".into()
        }
    );
    assert!(
        d.action_keys()
            .iter()
            .any(|(k, kind)| k.step == "lost_at_first_contact" && *kind == "move_to_stage")
    );
    assert_eq!(d.status("client_card"), StepStatus::Skipped);
    assert!(d.state.timers.is_empty(), "the SLA timers are cancelled");
    assert!(matches!(
        d.effects.last(),
        Some(Effect::Finished {
            result: EndResult::Cancelled,
            ..
        })
    ));
}

#[test]
fn the_sale_runs_to_its_end_through_rework_fan_out_quorum_and_the_advance() {
    let mut d = sale();
    d.complete("first_contact", "done");
    // The client card requires its fields.
    let key = d.open_keys("client_card")[0].clone();
    let c = d.completion(key, "done");
    assert_eq!(
        d.try_input(Input::TaskCompleted(c.clone())),
        Err(ProcessRefusal::FieldsRequired {
            fields: "company, legal_entity, terms".into()
        })
    );
    for f in ["company", "legal_entity", "terms"] {
        d.facts
            .fields
            .insert(f.into(), FieldValue::Text("ООО Ромашка".into()));
    }
    d.input(Input::TaskCompleted(c));
    // The head returns the terms: rework loop, round 2 of the client card.
    assert_eq!(d.open_keys("terms_agreed")[0].participant, 0);
    let key = d.open_keys("terms_agreed")[0].clone();
    let mut c = d.completion(key, "return_for_rework");
    assert_eq!(c.by, SUPERVISOR);
    c.comment = " ".into();
    assert!(matches!(
        d.try_input(Input::TaskCompleted(c.clone())),
        Err(ProcessRefusal::CommentRequired { .. })
    ));
    c.comment = "скидка слишком большая".into();
    d.input(Input::TaskCompleted(c));
    assert_eq!(d.state.steps["client_card"].round, 2);
    assert_eq!(d.state.steps["client_card"].history.len(), 1);
    assert_eq!(d.open_keys("client_card")[0].round, 2);
    d.complete("client_card", "done");
    d.complete("terms_agreed", "approve");
    // The quote is made, and the proposal task requires it.
    assert!(
        d.action_keys()
            .iter()
            .any(|(k, kind)| k.step == "make_quote" && k.round == 1 && *kind == "create_document")
    );
    let key = d.open_keys("proposal")[0].clone();
    let mut c = d.completion(key, "sent");
    c.documents.clear();
    assert_eq!(
        d.try_input(Input::TaskCompleted(c.clone())),
        Err(ProcessRefusal::DocumentRequired {
            document_type: "quote".into()
        })
    );
    c.documents = vec!["quote".into()];
    d.input(Input::TaskCompleted(c));
    // The fan-out: two tasks and a calendar event; the join waits for both tasks.
    assert_eq!(d.status("prepare_presentation"), StepStatus::Active);
    assert_eq!(d.status("book_meeting"), StepStatus::Done);
    d.complete("technical_check", "done");
    assert_eq!(d.status("prepare_presentation"), StepStatus::Active);
    assert_eq!(d.status("presentation"), StepStatus::Pending);
    d.complete("presentation_slides", "done");
    assert_eq!(d.status("prepare_presentation"), StepStatus::Done);
    // Feedback: the re-approval is a quorum of 2 of 3.
    d.complete("presentation", "feedback");
    assert_eq!(d.open_keys("proposal_reapproval").len(), 3);
    d.complete_nth("proposal_reapproval", 0, "approve");
    d.complete_nth("proposal_reapproval", 0, "reject");
    assert_eq!(d.status("proposal_reapproval"), StepStatus::Active);
    d.complete_nth("proposal_reapproval", 0, "approve");
    assert!(d.open_keys("proposal_reapproval").is_empty());
    // Back to a new quote version: round 2.
    assert!(
        d.action_keys()
            .iter()
            .any(|(k, _)| k.step == "make_quote" && k.round == 2)
    );
    assert_eq!(d.open_keys("proposal")[0].round, 2);
    d.complete("proposal", "sent");
    d.complete("technical_check", "done");
    d.complete("presentation_slides", "done");
    d.complete("presentation", "accepted");
    d.complete("order", "done");
    assert_eq!(d.status("advance_payment"), StepStatus::Waiting);
    // A payment below the advance share changes nothing; 30 % does.
    d.input(Input::Entity(EntityEvent::PaymentReceived {
        payment_percent: Decimal::new(10, 0),
    }));
    assert_eq!(d.status("advance_payment"), StepStatus::Waiting);
    d.input(Input::Entity(EntityEvent::PaymentReceived {
        payment_percent: Decimal::new(30, 0),
    }));
    assert_eq!(d.state.status, InstanceStatus::Completed);
    assert!(d.action_keys().iter().any(|(k, _)| k.step == "won"));
    assert!(d.state.timers.is_empty());
    // Costs: every completed task counts, in every round.
    let expected = [
        "300.00", "500.00", "700.00", "500.00", "700.00", "1000.00", "600.00", "800.00", "1500.00",
        "400.00", "400.00", "400.00", "1000.00", "600.00", "800.00", "1500.00", "500.00",
    ]
    .iter()
    .map(|s| Money::parse(s).unwrap())
    .fold(Money::ZERO, |a, b| a.checked_add(b).unwrap());
    assert_eq!(d.state.cost, expected);
    // The map's edges: the loop back is drawn.
    assert!(
        d.state
            .edges
            .iter()
            .any(|e| e.from == "back_to_client_card" && e.to == "client_card" && e.round == 2)
    );
    assert!(
        d.state
            .edges
            .iter()
            .any(|e| e.from == "new_quote_version" && e.to == "make_quote" && e.round == 2)
    );
    // No action ran twice.
    let mut keys = d.action_keys();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n);
}

#[test]
fn an_advance_already_paid_is_not_waited_for() {
    let mut d = sale();
    for f in ["company", "legal_entity", "terms"] {
        d.facts
            .fields
            .insert(f.into(), FieldValue::Text("x".into()));
    }
    d.facts.fields.insert(
        "payment_percent".into(),
        FieldValue::Number(Decimal::new(50, 0)),
    );
    for (s, o) in [
        ("first_contact", "done"),
        ("client_card", "done"),
        ("terms_agreed", "approve"),
        ("proposal", "sent"),
        ("technical_check", "done"),
        ("presentation_slides", "done"),
        ("presentation", "accepted"),
        ("order", "done"),
    ] {
        d.complete(s, o);
    }
    assert_eq!(
        d.state.steps["advance_payment"].outcome.as_deref(),
        Some("already")
    );
    assert_eq!(d.state.status, InstanceStatus::Completed);
}

#[test]
fn the_cold_lead_process_calls_again_and_gives_up_after_five_rounds() {
    let mut d = Driver::new(published(
        serde_json::from_str(templates::SHIPPED[1].1).unwrap(),
    ));
    d.input(Input::Start);
    assert!(d.action_keys().iter().any(|(_, k)| *k == "set_field"));
    for round in 1..=5 {
        assert_eq!(d.open_keys("call")[0].round, round);
        d.complete("call", "no_answer");
        assert_eq!(d.status("pause"), StepStatus::Waiting);
        d.now += Duration::days(2);
        d.fire_due_timers();
    }
    assert_eq!(d.state.status, InstanceStatus::Completed);
    assert!(
        d.action_keys()
            .iter()
            .any(|(k, _)| k.step == "junk_after_calls")
    );
}

#[test]
fn the_contract_route_follows_the_amount_exactly() {
    let def: Value = serde_json::from_str(templates::SHIPPED[2].1).unwrap();
    let p = published(def);
    let run = |amount: &str| {
        let mut d = Driver::new(p.clone());
        d.facts.fields.insert(
            "amount".into(),
            FieldValue::Money(Money::parse(amount).unwrap()),
        );
        d.facts
            .fields
            .insert("made_from_template".into(), FieldValue::Bool(true));
        d.input(Input::Start);
        d.complete("plan_check", "approve");
        d
    };
    assert_eq!(run("99999.99").status("small_approval"), StepStatus::Active);
    assert_eq!(
        run("100000.00").status("medium_approval"),
        StepStatus::Active
    );
    assert_eq!(
        run("999999.99").status("small_approval"),
        StepStatus::Skipped
    );
    let mut big = run("1000000.00");
    assert_eq!(big.open_keys("board_approval").len(), 3);
    // Returned by the board: the author reworks and the route restarts.
    big.complete_nth("board_approval", 1, "return_for_rework");
    big.complete("author_rework", "done");
    assert_eq!(big.open_keys("plan_check")[0].round, 2);
    assert_eq!(big.status("board_approval"), StepStatus::Pending);
    assert_eq!(big.state.steps["board_approval"].history.len(), 1);
    // Round 2 approves: the returns of round 1 no longer count.
    big.complete("plan_check", "approve");
    for i in [0, 0] {
        big.complete_nth("board_approval", i, "approve");
    }
    assert_eq!(big.status("author_rework"), StepStatus::Skipped);
    assert_eq!(big.status("sign"), StepStatus::Active);
    let key = big.open_keys("sign")[0].clone();
    let c = big.completion(key, "done");
    big.input(Input::TaskCompleted(c));
    big.input(Input::Entity(EntityEvent::DocumentAttached {
        document_type: "contract_original".into(),
    }));
    assert_eq!(big.state.status, InstanceStatus::Completed);
}

#[test]
fn the_vacation_chain_fans_out_to_hr_and_payroll() {
    let mut d = Driver::new(published(
        serde_json::from_str(templates::SHIPPED[3].1).unwrap(),
    ));
    d.input(Input::Start);
    let key = d.open_keys("application")[0].clone();
    let mut c = d.completion(key, "done");
    c.documents = vec!["vacation_application".into()];
    d.input(Input::TaskCompleted(c));
    d.complete("supervisor_approval", "approve");
    d.complete("vacation_pay", "done");
    d.complete("hr_order", "done");
    assert_eq!(d.state.status, InstanceStatus::Completed);
}

// ---- step kinds -------------------------------------------------------------------------

fn run(steps: Value) -> Driver {
    let mut d = Driver::new(published(deal(steps)));
    d.input(Input::Start);
    d
}

fn participants(mode: Value) -> Value {
    json!([{ "id": "vote", "kind": "task", "completion": mode,
        "assignees": [{ "type": "user", "id": RESPONSIBLE }, { "type": "user", "id": SUPERVISOR }, { "type": "user", "id": HEAD }],
        "outcomes": [{ "id": "approve" }, { "id": "reject", "verdict": "reject", "comment": "optional" }] }])
}

#[test]
fn completion_modes_decide_as_specified() {
    let mut d = run(participants(json!({ "mode": "first" })));
    d.complete_nth("vote", 1, "reject");
    assert_eq!(d.state.steps["vote"].outcome.as_deref(), Some("reject"));
    assert!(d.open_keys("vote").is_empty(), "the others' tasks close");

    let mut d = run(participants(json!({ "mode": "any" })));
    d.complete_nth("vote", 0, "reject");
    d.complete_nth("vote", 0, "reject");
    assert_eq!(d.status("vote"), StepStatus::Active);
    d.complete_nth("vote", 0, "approve");
    assert_eq!(d.state.steps["vote"].outcome.as_deref(), Some("approve"));

    let mut d = run(participants(json!({ "mode": "all" })));
    d.complete_nth("vote", 0, "approve");
    d.complete_nth("vote", 0, "approve");
    assert_eq!(d.status("vote"), StepStatus::Active);
    d.complete_nth("vote", 0, "approve");
    assert_eq!(d.state.status, InstanceStatus::Completed);
    let mut d = run(participants(json!({ "mode": "all" })));
    d.complete_nth("vote", 2, "reject");
    assert_eq!(d.state.steps["vote"].outcome.as_deref(), Some("reject"));

    let mut d = run(participants(json!({ "mode": "quorum", "n": 2 })));
    d.complete_nth("vote", 0, "reject");
    d.complete_nth("vote", 0, "reject");
    assert_eq!(
        d.state.steps["vote"].outcome.as_deref(),
        Some("reject"),
        "2 of 3 can no longer approve"
    );
}

#[test]
fn a_task_is_completed_once_by_its_assignee() {
    let mut d = run(participants(json!({ "mode": "all" })));
    let key = d.open_keys("vote")[0].clone();
    let mut c = d.completion(key.clone(), "approve");
    c.by = HEAD;
    assert_eq!(
        d.try_input(Input::TaskCompleted(c.clone())),
        Err(ProcessRefusal::NotYourTask)
    );
    c.by = RESPONSIBLE;
    c.outcome = "maybe".into();
    assert!(matches!(
        d.try_input(Input::TaskCompleted(c.clone())),
        Err(ProcessRefusal::OutcomeNotOffered { .. })
    ));
    c.outcome = "approve".into();
    d.input(Input::TaskCompleted(c.clone()));
    assert_eq!(
        d.try_input(Input::TaskCompleted(c)),
        Err(ProcessRefusal::TaskClosed {
            task: key.to_string()
        })
    );
    let bogus = TaskCompletion {
        task: TaskKey {
            step: "nope".into(),
            round: 1,
            participant: 0,
        },
        ..d.completion(d.open_keys("vote")[0].clone(), "approve")
    };
    assert!(matches!(
        d.try_input(Input::TaskCompleted(bogus)),
        Err(ProcessRefusal::UnknownTask { .. })
    ));
}

#[test]
fn a_pool_or_role_task_goes_to_the_pool_and_the_responsible_missing_goes_to_admins() {
    let mut d = Driver::new(published(deal(json!([
        { "id": "p", "kind": "task", "assignees": [{ "type": "pool", "id": POOL }, { "type": "role", "role": "lawyer" }, { "type": "responsible" }] }
    ]))));
    d.facts.responsible = None;
    let e = d.input(Input::Start);
    let who: Vec<Participant> = e
        .iter()
        .filter_map(|e| match e {
            Effect::CreateTask { assignee, .. } => Some(*assignee),
            _ => None,
        })
        .collect();
    assert_eq!(
        who,
        vec![
            Participant::Pool(POOL),
            Participant::Role(Role::Lawyer),
            Participant::Role(Role::Admin)
        ]
    );
}

#[test]
fn sla_reminds_then_escalates_and_repeats_each_once() {
    let mut d = run(
        json!([{ "id": "t", "kind": "task", "assignees": [{ "type": "responsible" }],
        "due": { "type": "after", "after": { "hours": 10 } },
        "sla": { "remind_before": { "hours": 2 }, "escalate_after": { "hours": 1 }, "repeat": { "every": { "hours": 5 }, "times": 2 } } }]),
    );
    assert_eq!(d.state.steps["t"].due_at, Some(t0() + Duration::hours(10)));
    let notes = |e: &[Effect]| {
        e.iter()
            .filter_map(|e| match e {
                Effect::Notify { kind, .. } => Some(*kind),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    d.now = t0() + Duration::hours(7);
    assert!(notes(&d.fire_due_timers()).is_empty());
    d.now = t0() + Duration::hours(8);
    assert_eq!(notes(&d.fire_due_timers()), vec![NotifyKind::Reminder]);
    let remind = TimerKey {
        step: "t".into(),
        round: 1,
        purpose: TimerPurpose::Remind,
    };
    assert!(
        d.input(Input::TimerFired(remind)).is_empty(),
        "a second pick of the same timer does nothing"
    );
    let mut seen = Vec::new();
    for h in 9..40 {
        d.now = t0() + Duration::hours(h);
        seen.extend(notes(&d.fire_due_timers()));
    }
    assert_eq!(
        seen,
        vec![
            NotifyKind::Escalation { repeat: 0 },
            NotifyKind::Escalation { repeat: 1 },
            NotifyKind::Escalation { repeat: 2 },
        ]
    );
    assert!(d.state.timers.is_empty());
}

#[test]
fn a_stale_timer_is_a_no_op() {
    let mut d = run(
        json!([{ "id": "w", "kind": "wait", "until": { "type": "delay", "delay": { "hours": 1 } } }]),
    );
    let key = TimerKey {
        step: "w".into(),
        round: 1,
        purpose: TimerPurpose::Wait,
    };
    // Fired early: re-checked and kept.
    assert!(d.input(Input::TimerFired(key.clone())).is_empty());
    assert_eq!(d.status("w"), StepStatus::Waiting);
    d.now += Duration::hours(1);
    d.input(Input::TimerFired(key.clone()));
    assert_eq!(d.state.status, InstanceStatus::Completed);
    let before = d.state.clone();
    assert!(d.input(Input::TimerFired(key)).is_empty());
    assert_eq!(d.state, before);
    let other_round = TimerKey {
        step: "w".into(),
        round: 7,
        purpose: TimerPurpose::Wait,
    };
    assert!(d.input(Input::TimerFired(other_round)).is_empty());
}

#[test]
fn waits_for_a_date_field_an_event_and_a_timeout() {
    let mut d = Driver::new(published(deal(json!([
        { "id": "close", "kind": "wait", "until": { "type": "date_field", "field": "expected_close_date", "offset": { "days": -1 } } },
        { "id": "stage", "kind": "wait", "until": { "type": "event", "event": { "type": "stage_entered", "stage": "order" } }, "timeout": { "days": 3 } },
        { "id": "after", "kind": "switch", "branches": [{ "when": { "type": "outcome", "step": "stage", "is": ["timed_out"] }, "steps": [notify("late")] }] }
    ]))));
    d.input(Input::Start);
    assert_eq!(d.status("close"), StepStatus::Waiting);
    assert!(
        d.state.timers.is_empty(),
        "no date yet: it waits for the field"
    );
    let date = t0() + Duration::days(5);
    d.input(Input::Entity(EntityEvent::FieldChanged {
        field: "expected_close_date".into(),
        value: FieldValue::Date(date),
    }));
    assert_eq!(d.state.timers[0].at, date - Duration::days(1));
    d.now = date;
    d.fire_due_timers();
    assert_eq!(d.status("stage"), StepStatus::Waiting);
    d.input(Input::Entity(EntityEvent::StageEntered {
        stage: "won".into(),
    }));
    assert_eq!(d.status("stage"), StepStatus::Waiting);
    d.now += Duration::days(3);
    d.fire_due_timers();
    assert_eq!(d.state.steps["stage"].outcome.as_deref(), Some("timed_out"));
    assert!(d.action_keys().iter().any(|(k, _)| k.step == "late"));
}

#[test]
fn a_switch_compares_money_exactly_and_takes_otherwise() {
    let steps = json!([{ "id": "s", "kind": "switch",
        "branches": [{ "when": { "type": "compare", "field": "amount", "op": "gte", "value": "100000.00" }, "steps": [notify("big")] }],
        "otherwise": [notify("small")] }]);
    for (amount, taken, skipped) in [("100000.00", "big", "small"), ("99999.99", "small", "big")] {
        let mut d = Driver::new(published(deal(steps.clone())));
        d.facts.fields.insert(
            "amount".into(),
            FieldValue::Money(Money::parse(amount).unwrap()),
        );
        d.input(Input::Start);
        assert_eq!(d.status(taken), StepStatus::Done);
        assert_eq!(d.status(skipped), StepStatus::Skipped);
    }
}

#[test]
fn a_parallel_any_join_cancels_the_losing_branches() {
    let mut d = run(
        json!([{ "id": "par", "kind": "parallel", "join": { "type": "any" }, "branches": [
        { "steps": [task("a"), notify("after_a")] },
        { "steps": [{ "id": "b", "kind": "task", "assignees": [{ "type": "responsible" }], "due": { "type": "after", "after": { "hours": 1 } }, "sla": { "escalate_after": { "hours": 1 } } }, notify("after_b")] }
    ] }, notify("joined")]),
    );
    d.complete("a", "done");
    assert_eq!(d.status("b"), StepStatus::Cancelled);
    assert_eq!(d.status("after_b"), StepStatus::Skipped);
    assert!(d.open_keys("b").is_empty());
    assert!(d.state.timers.is_empty());
    assert!(d.effects.iter().any(|e| matches!(e, Effect::CloseTask { key, reason: CloseReason::Superseded } if key.step == "b")));
    assert_eq!(d.state.status, InstanceStatus::Completed);
}

#[test]
fn a_parallel_n_join_and_a_branch_that_ends_the_process() {
    let mut d = run(
        json!([{ "id": "par", "kind": "parallel", "join": { "type": "n", "n": 2 }, "branches": [
        { "steps": [task("a")] }, { "steps": [task("b")] }, { "steps": [task("c")] }
    ] }]),
    );
    d.complete("a", "done");
    assert_eq!(d.status("par"), StepStatus::Active);
    d.complete("c", "done");
    assert_eq!(d.state.status, InstanceStatus::Completed);
    assert_eq!(d.status("b"), StepStatus::Cancelled);

    let mut d = run(json!([{ "id": "par", "kind": "parallel", "branches": [
        { "steps": [task("a")] },
        { "steps": [task("b"), { "id": "stop", "kind": "end", "result": "cancelled", "reason": "b ended it" }] }
    ] }]));
    d.complete("b", "done");
    assert_eq!(
        d.state.status,
        InstanceStatus::Cancelled {
            reason: "b ended it".into()
        }
    );
    assert_eq!(d.status("a"), StepStatus::Cancelled);
}

#[test]
fn a_goto_counts_rounds_and_actions_run_once_per_round() {
    let mut d = run(json!([notify("hello"), approval("check"),
        { "id": "sw", "kind": "switch", "branches": [{ "when": { "type": "outcome", "step": "check", "is": ["rework"] },
            "steps": [{ "id": "back", "kind": "goto", "target": "hello", "max_rounds": 2 }] }] }]));
    d.complete("check", "rework");
    assert_eq!(d.state.steps["hello"].round, 2);
    d.complete("check", "rework");
    // The limit lets the process go on.
    assert_eq!(d.state.status, InstanceStatus::Completed);
    assert_eq!(
        d.state.steps["back"].outcome.as_deref(),
        Some("limit_reached")
    );
    let hello: Vec<u32> = d
        .action_keys()
        .iter()
        .filter(|(k, _)| k.step == "hello")
        .map(|(k, _)| k.round)
        .collect();
    assert_eq!(hello, vec![1, 2]);
}

#[test]
fn a_sub_process_is_waited_for_and_its_result_is_the_outcome() {
    let mut d = run(
        json!([{ "id": "child", "kind": "action", "action": { "type": "start_process", "template": "cold_lead", "wait": true } },
        { "id": "sw", "kind": "switch", "branches": [{ "when": { "type": "outcome", "step": "child", "is": ["cancelled"] }, "steps": [notify("child_failed")] }] }]),
    );
    assert_eq!(d.status("child"), StepStatus::Waiting);
    let stale = ActionKey {
        step: "child".into(),
        round: 2,
    };
    assert!(
        d.input(Input::SubProcessFinished {
            action: stale,
            result: EndResult::Completed
        })
        .is_empty()
    );
    d.input(Input::SubProcessFinished {
        action: ActionKey {
            step: "child".into(),
            round: 1,
        },
        result: EndResult::Cancelled,
    });
    assert!(
        d.action_keys()
            .iter()
            .any(|(k, _)| k.step == "child_failed")
    );
    assert_eq!(d.state.status, InstanceStatus::Completed);
}

#[test]
fn cancelling_closes_open_tasks_and_needs_a_reason() {
    let mut d = run(
        json!([{ "id": "par", "kind": "parallel", "branches": [{ "steps": [task("a")] }, { "steps": [task("b")] }] }]),
    );
    assert_eq!(
        d.try_input(Input::Cancel { reason: " ".into() }),
        Err(ProcessRefusal::ReasonRequired)
    );
    let e = d.input(Input::Cancel {
        reason: "сделка закрыта".into(),
    });
    assert_eq!(
        e.iter()
            .filter(|e| matches!(
                e,
                Effect::CloseTask {
                    reason: CloseReason::Cancelled,
                    ..
                }
            ))
            .count(),
        2
    );
    assert_eq!(d.state.open_tasks().count(), 0);
    assert!(matches!(
        d.try_input(Input::Cancel {
            reason: "again".into()
        }),
        Err(ProcessRefusal::NotRunning { state: "cancelled" })
    ));
    assert_eq!(
        d.try_input(Input::Start),
        Err(ProcessRefusal::AlreadyStarted)
    );
}

#[test]
fn template_task_billing_bills_every_completed_task_once() {
    let mut def = deal(json!([task("a"), task("b")]));
    def["task_billing"] = json!({ "mode": "add_as_product", "notify_responsible": true });
    let mut d = Driver::new(published(def));
    d.input(Input::Start);
    d.complete("a", "done");
    d.complete("b", "done");
    let billed: Vec<String> = d
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::BillTask {
                key,
                mode: BillingMode::AddAsProduct,
                ..
            } => Some(key.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(billed, vec!["a#1#0", "b#1#0"]);
}

#[test]
fn the_state_is_stored_as_json_and_read_back() {
    let mut d = sale();
    d.complete("first_contact", "done");
    let stored = serde_json::to_value(&d.state).unwrap();
    let back: InstanceState = serde_json::from_value(stored).unwrap();
    assert_eq!(back, d.state);
}

// ---- publish validation ---------------------------------------------------------------------

#[test]
fn unknown_step_kinds_and_members_are_named() {
    assert_error(
        deal(json!([task("a"), { "id": "b", "kind": "loop" }])),
        "/steps/1/kind",
        "unknown_step_kind",
    );
    assert_error(
        deal(json!([{ "id": "a", "kind": "task", "assignees": [], "colour": 1 }])),
        "/steps/0/colour",
        "invalid",
    );
    assert_error(
        deal(json!([{ "id": "A b", "kind": "end", "result": "completed" }])),
        "/steps/0/id",
        "invalid_step_id",
    );
    assert_error(
        deal(
            json!([{ "id": "p", "kind": "parallel", "branches": [{ "steps": [{ "id": "x", "kind": "task", "assignees": [{ "type": "nobody" }] }] }] }]),
        ),
        "/steps/0/branches/0/steps/0/assignees/0/type",
        "invalid",
    );
    assert_error(
        json!({ "entity_type": "planet", "name": "x", "steps": [task("a")] }),
        "/entity_type",
        "invalid",
    );
}

#[test]
fn duplicate_ids_are_refused() {
    assert_error(
        deal(
            json!([task("a"), { "id": "s", "kind": "switch", "branches": [{ "when": { "type": "is_set", "field": "amount" }, "steps": [task("a")] }] }]),
        ),
        "/steps/1/branches/0/steps/0/id",
        "duplicate_step_id",
    );
}

#[test]
fn unreachable_steps_are_refused() {
    assert_error(
        deal(json!([task("a"), { "id": "e", "kind": "end", "result": "completed" }, task("b")])),
        "/steps/2",
        "unreachable_step",
    );
    assert_error(
        deal(json!([task("a"), { "id": "g", "kind": "goto", "target": "a" }, task("b")])),
        "/steps/2",
        "unreachable_step",
    );
    assert_error(
        deal(json!([{ "id": "s", "kind": "switch",
        "branches": [{ "when": { "type": "is_set", "field": "amount" }, "steps": [{ "id": "e1", "kind": "end", "result": "completed" }] }],
        "otherwise": [{ "id": "e2", "kind": "end", "result": "cancelled", "reason": "r" }] }, task("b")])),
        "/steps/1",
        "unreachable_step",
    );
}

#[test]
fn gotos_stay_in_their_block_and_go_back() {
    // Into another branch.
    assert_error(
        deal(json!([{ "id": "s", "kind": "switch", "branches": [
        { "when": { "type": "is_set", "field": "amount" }, "steps": [task("a")] },
        { "when": { "type": "is_set", "field": "terms" }, "steps": [task("b"), { "id": "g", "kind": "goto", "target": "a" }] }
    ] }])),
        "/steps/0/branches/1/steps/1/target",
        "goto_out_of_block",
    );
    // Out of a parallel branch.
    assert_error(
        deal(
            json!([task("a"), { "id": "p", "kind": "parallel", "branches": [
        { "steps": [task("b"), { "id": "g", "kind": "goto", "target": "a" }] }, { "steps": [task("c")] }
    ] }]),
        ),
        "/steps/1/branches/0/steps/1/target",
        "goto_out_of_block",
    );
    // Forward.
    assert_error(
        deal(json!([{ "id": "g", "kind": "goto", "target": "a", "max_rounds": 1 }, task("a")])),
        "/steps/0/target",
        "goto_forward",
    );
    assert_error(
        deal(json!([{ "id": "g", "kind": "goto", "target": "zz" }])),
        "/steps/0/target",
        "unknown_step",
    );
    // A loop that never waits.
    assert_error(
        deal(json!([notify("n"), { "id": "g", "kind": "goto", "target": "n" }])),
        "/steps/1",
        "loop_without_wait",
    );
    // A branch that loops forever can never reach its join.
    assert_error(
        deal(json!([{ "id": "p", "kind": "parallel", "branches": [
        { "steps": [task("b"), { "id": "g", "kind": "goto", "target": "b" }] }, { "steps": [task("c")] }
    ] }])),
        "/steps/0/branches/0/steps",
        "branch_never_joins",
    );
}

#[test]
fn assignees_must_resolve() {
    let stranger = Uuid::from_u128(999);
    let errs = errors(deal(json!([{ "id": "t", "kind": "task", "assignees": [
        { "type": "user", "id": stranger }, { "type": "pool", "id": stranger }, { "type": "role", "role": "astronaut" }
    ] }])));
    assert!(
        has(&errs, "/steps/0/assignees/0/id", "unknown_user"),
        "{errs:#?}"
    );
    assert!(has(&errs, "/steps/0/assignees/1/id", "unknown_pool"));
    assert!(has(&errs, "/steps/0/assignees/2/role", "unknown_role"));
    let mut dir = directory(EntityType::Deal);
    dir.roles.remove(&Role::Lawyer);
    let e = publish(&deal(json!([{ "id": "t", "kind": "task", "assignees": [{ "type": "role", "role": "lawyer" }] }])), &dir).unwrap_err();
    assert!(has(&e, "/steps/0/assignees/0/role", "role_without_holders"));
    assert_error(
        deal(json!([{ "id": "t", "kind": "task", "assignees": [] }])),
        "/steps/0/assignees",
        "no_assignee",
    );
}

#[test]
fn conditions_name_known_fields_with_well_typed_operands() {
    let when = |p: Value| {
        deal(
            json!([{ "id": "s", "kind": "switch", "branches": [{ "when": p, "steps": [task("a")] }] }]),
        )
    };
    assert_error(
        when(json!({ "type": "compare", "field": "colour", "op": "eq", "value": "red" })),
        "/steps/0/branches/0/when/field",
        "unknown_field",
    );
    assert_error(
        when(json!({ "type": "compare", "field": "amount", "op": "gt", "value": "1.005" })),
        "/steps/0/branches/0/when/value",
        "ill_typed_operand",
    );
    assert_error(
        when(json!({ "type": "compare", "field": "amount", "op": "gt", "value": 100 })),
        "/steps/0/branches/0/when/value",
        "ill_typed_operand",
    );
    assert_error(
        when(json!({ "type": "compare", "field": "title", "op": "lt", "value": "x" })),
        "/steps/0/branches/0/when/value",
        "operator_not_applicable",
    );
    assert_error(
        when(json!({ "type": "compare", "field": "stage", "op": "in", "value": ["won", "mars"] })),
        "/steps/0/branches/0/when/value",
        "ill_typed_operand",
    );
    assert_error(
        when(
            json!({ "type": "all", "of": [{ "type": "is_set", "field": "amount" }, { "type": "not", "predicate": { "type": "is_set", "field": "nope" } }] }),
        ),
        "/steps/0/branches/0/when/of/1/predicate/field",
        "unknown_field",
    );
    assert_error(
        when(json!({ "type": "outcome", "step": "a", "is": ["done"] })),
        "/steps/0/branches/0/when/step",
        "outcome_not_yet_known",
    );
    assert_error(
        deal(
            json!([task("t"), { "id": "s", "kind": "switch", "branches": [{ "when": { "type": "outcome", "step": "t", "is": ["won"] }, "steps": [task("a")] }] }]),
        ),
        "/steps/1/branches/0/when/is/0",
        "unknown_outcome",
    );
    assert_error(
        when(json!({ "type": "compare", "field": "amount", "op": "gte", "value": "1e5" })),
        "/steps/0/branches/0/when/value",
        "ill_typed_operand",
    );
    // Well typed: published.
    published(when(
        json!({ "type": "compare", "field": "stage", "op": "in", "value": ["won", "lost"] }),
    ));
    published(when(
        json!({ "type": "compare", "field": "expected_close_date", "op": "lt", "value": "2027-01-01" }),
    ));
}

#[test]
fn task_rules_are_checked() {
    let t = |extra: Value| {
        let mut s = task("t");
        for (k, v) in extra.as_object().unwrap() {
            s[k] = v.clone();
        }
        deal(json!([s]))
    };
    assert_error(
        t(json!({ "completion": { "mode": "quorum", "n": 2 } })),
        "/steps/0/completion/n",
        "quorum_out_of_range",
    );
    assert_error(
        t(json!({ "requires": [{ "type": "document", "document_type": "poem" }] })),
        "/steps/0/requires/0/document_type",
        "unknown_document_type",
    );
    assert_error(
        t(json!({ "requires": [{ "type": "fields", "fields": ["amount", "shoe_size"] }] })),
        "/steps/0/requires/0/fields/1",
        "unknown_field",
    );
    assert_error(
        t(json!({ "due": { "type": "field", "field": "amount" } })),
        "/steps/0/due/field",
        "not_a_date_field",
    );
    assert_error(
        t(json!({ "sla": { "remind_before": { "hours": 1 } } })),
        "/steps/0/sla",
        "sla_without_due",
    );
    assert_error(t(json!({ "cost": "-1.00" })), "/steps/0/cost", "negative");
    assert_error(
        t(json!({ "outcomes": [{ "id": "ok" }, { "id": "ok" }] })),
        "/steps/0/outcomes/1/id",
        "duplicate_outcome",
    );
    assert_error(
        deal(
            json!([{ "id": "p", "kind": "parallel", "join": { "type": "n", "n": 3 }, "branches": [{ "steps": [task("a")] }, { "steps": [task("b")] }] }]),
        ),
        "/steps/0/join/n",
        "join_out_of_range",
    );
    assert_error(
        deal(json!([{ "id": "e", "kind": "end", "result": "cancelled" }])),
        "/steps/0/reason",
        "reason_required",
    );
}

#[test]
fn actions_are_checked_against_the_catalogue() {
    let act = |a: Value| deal(json!([{ "id": "a", "kind": "action", "action": a }]));
    assert_error(
        act(json!({ "type": "set_field", "field": "amount", "value": "abc" })),
        "/steps/0/action/value",
        "ill_typed_operand",
    );
    assert_error(
        act(json!({ "type": "move_to_stage", "stage": "moon" })),
        "/steps/0/action/stage",
        "unknown_stage",
    );
    assert_error(
        act(json!({ "type": "call_webhook", "url": "ftp://x", "event": "e" })),
        "/steps/0/action/url",
        "invalid_url",
    );
    assert_error(
        act(json!({ "type": "start_process", "template": "nope" })),
        "/steps/0/action/template",
        "unknown_template",
    );
    assert_error(
        act(json!({ "type": "bill_time", "task": "a", "mode": "add_as_row" })),
        "/steps/0/action/task",
        "unknown_step",
    );
    assert_error(
        act(json!({ "type": "fly" })),
        "/steps/0/action/type",
        "invalid",
    );
    let lead = json!({ "entity_type": "lead", "name": "x", "steps": [{ "id": "a", "kind": "action", "action": { "type": "create_document", "document": "quote" } }] });
    let e = publish(&lead, &directory(EntityType::Lead)).unwrap_err();
    assert!(has(&e, "/steps/0/action/document", "not_for_entity"));
}

#[test]
fn every_error_is_reported_at_once() {
    let errs = errors(deal(json!([
        { "id": "a", "kind": "task", "assignees": [{ "type": "role", "role": "astronaut" }] },
        { "id": "b", "kind": "wait", "until": { "type": "delay", "delay": {} } },
        { "id": "c", "kind": "action", "action": { "type": "move_to_stage", "stage": "moon" } }
    ])));
    assert_eq!(errs.len(), 3, "{errs:#?}");
    let v: crate::validation::FieldViolation = errs[0].clone().into();
    assert_eq!(v.field, "definition/steps/0/assignees/0/role");
}

#[test]
fn the_map_shows_every_step_and_on_whom_the_sale_waits() {
    let mut d = sale();
    d.complete("first_contact", "done");
    d.now = t0() + Duration::days(3);
    let m = map(&d.def, &d.state, d.now);
    assert_eq!(m.status, "running");
    assert_eq!(m.steps.len(), d.def.step_ids().count());
    let step = |id: &str| m.steps.iter().find(|s| s.id == id).unwrap();
    assert_eq!(step("first_contact").status, StepStatus::Done);
    assert_eq!(step("first_contact").cost, Money::parse("300.00").unwrap());
    let card = step("client_card");
    assert_eq!(card.status, StepStatus::Active);
    assert!(card.overdue, "due two days after start, three days passed");
    assert_eq!(card.assignees[0].assignee, Participant::User(RESPONSIBLE));
    assert_eq!(step("technical_check").depth, 1);
    assert_eq!(
        step("technical_check").parent,
        Some(("prepare_presentation".into(), 1))
    );
    assert_eq!(step("technical_check").path, "/steps/9/branches/1/steps/0");
    assert_eq!(m.waiting_on.len(), 1);
    assert_eq!(m.waiting_on[0].step, "client_card");
    assert_eq!(m.waiting_on[0].since, Some(t0()));
    assert!(
        m.edges
            .iter()
            .any(|e| e.from == "start" && e.to == "first_contact")
    );
    assert!(
        m.edges
            .iter()
            .any(|e| e.from == "refused_at_first_contact" && e.to == "client_card")
    );
}
