//! The trainer on the CPU with the `tiny` configuration.

mod common;

use common::{cpu, losses, request};
use lediflow::train::{RunDir, RunError, Stage, TrainError, train};

#[test]
fn every_stage_trains_and_its_loss_decreases() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = train(request(dir.path(), Stage::ORDER.to_vec(), 40, false)).expect("train");
    for stage in Stage::ORDER {
        let l = losses(&report, stage);
        assert_eq!(l.len(), 40, "{stage}: one logged loss per step");
        let first: f64 = l[..5].iter().sum::<f64>() / 5.0;
        let last: f64 = l[35..].iter().sum::<f64>() / 5.0;
        assert!(last < first, "{stage}: loss went from {first} to {last}");
    }
    let run = RunDir::new(dir.path());
    for path in [
        run.state_path(),
        run.model_path(),
        run.ema_path(),
        run.log_path(),
        run.plot_path(),
        run.sample_path(Stage::Baseline, 40),
    ] {
        assert!(path.is_file(), "{} missing", path.display());
    }
    let loaded = lediflow::model_io::load_file(&run.ema_path(), &cpu()).expect("the EMA file is a valid model");
    assert_eq!(loaded.networks.len(), 5);
    assert_eq!(lediflow::train::log::read(&run.log_path()).len(), 160);
}

#[test]
fn corrupt_or_missing_checkpoints_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    train(request(dir.path(), vec![Stage::Aux], 2, false)).expect("train");
    let run = RunDir::new(dir.path());

    let again = train(request(dir.path(), vec![Stage::Aux], 2, false));
    assert!(matches!(again, Err(TrainError::Invalid(_))), "a second fresh run must not overwrite the first");

    std::fs::write(run.model_path(), b"not a burnpack file").expect("write");
    let err = train(request(dir.path(), vec![Stage::Aux], 4, true)).err().expect("corrupt weights");
    assert!(matches!(err, TrainError::Run(RunError::Checkpoint { .. })), "{err}");

    std::fs::write(run.state_path(), b"{ truncated").expect("write");
    let err = train(request(dir.path(), vec![Stage::Aux], 4, true)).err().expect("corrupt state");
    assert!(matches!(err, TrainError::Run(RunError::State { .. })), "{err}");

    let empty = tempfile::tempdir().expect("tempdir");
    assert!(train(request(empty.path(), vec![Stage::Aux], 4, true)).is_err(), "nothing to resume");
    let fresh = tempfile::tempdir().expect("tempdir");
    let err = train(request(fresh.path(), vec![Stage::Flow], 2, false)).err().expect("flow before aux");
    assert!(matches!(err, TrainError::MissingStage { .. }), "{err}");
}

#[test]
fn a_run_moved_with_only_its_ema_weights_continues_training() {
    let dir = tempfile::tempdir().expect("tempdir");
    train(request(dir.path(), vec![Stage::Aux], 4, false)).expect("train");
    let run = RunDir::new(dir.path());
    std::fs::remove_file(run.model_path()).expect("remove weights");
    std::fs::remove_file(run.optimizer_path(Stage::Aux)).expect("remove optimiser");
    let report = train(request(dir.path(), vec![Stage::Aux], 8, true)).expect("resume from the EMA");
    let l = losses(&report, Stage::Aux);
    assert_eq!(l.len(), 4);
    assert!(l.iter().all(|v| v.is_finite()));
    assert_eq!(report.state.expect("state").progress(Stage::Aux).step, 8);
}
