//! The LeDiFlow tools (floor 3 and the data they need): the procedural landscapes and image
//! folders ([`data`]), the trainer ([`train`]), the evaluation and its network ([`eval`]) and the
//! `lediflow` command line ([`cli`]), all on `lediflow-core`.

pub mod cli;
pub mod data;
pub mod eval;
pub mod progress;
pub mod train;
