//! Business processes (WF-BP-1..6, WF-BILL-1): versioned templates of block-structured steps
//! bound to an entity type, checked as a whole when published, and run by one pure function
//! from (definition, state, input, entity, time) to the next state and its effects. Contract
//! routing (WF-CON) runs on the same engine: a switch on the amount picks the route, task steps
//! with completion rules are its approval steps, a goto back is "return to the author".

pub mod definition;
pub mod engine;
pub mod map;
pub mod predicate;
pub mod svg;
pub mod templates;
pub mod validate;

pub use definition::*;
pub use engine::*;
pub use map::{ProcessMap, map};
pub use predicate::{FieldType, FieldValue, Op, Predicate};
pub use validate::{DefinitionError, Directory, PublishedDefinition, TriggerEvent, publish};

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
