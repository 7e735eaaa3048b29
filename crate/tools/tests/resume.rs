//! Resuming repeats the uninterrupted run. In a process of its own: the CPU backend's random
//! generator is process-wide, and concurrent tests would draw from it between our steps.

mod common;

use common::{losses, request};
use lediflow_tools::train::{Stage, train};

#[test]
fn a_resumed_run_repeats_the_uninterrupted_loss_sequence() {
    let straight = tempfile::tempdir().expect("tempdir");
    let full = train(request(straight.path(), vec![Stage::Aux, Stage::Flow], 6, false)).expect("train");

    // The same run, interrupted in the middle of each stage.
    let split = tempfile::tempdir().expect("tempdir");
    let parts = [
        train(request(split.path(), vec![Stage::Aux], 3, false)).expect("aux 0..3"),
        train(request(split.path(), vec![Stage::Aux], 6, true)).expect("aux 3..6"),
        train(request(split.path(), vec![Stage::Flow], 3, true)).expect("flow 0..3"),
        train(request(split.path(), vec![Stage::Flow], 6, true)).expect("flow 3..6"),
    ];
    for stage in [Stage::Aux, Stage::Flow] {
        let resumed: Vec<f64> = parts.iter().flat_map(|p| losses(p, stage)).collect();
        let uninterrupted = losses(&full, stage);
        assert_eq!(resumed.len(), 6, "{stage}");
        for (a, b) in resumed.iter().zip(&uninterrupted) {
            assert!(
                (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                "{stage}: resumed {resumed:?} vs uninterrupted {uninterrupted:?}"
            );
        }
    }
}
