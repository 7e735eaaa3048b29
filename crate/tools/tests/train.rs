//! The trainer on the CPU with the `tiny` configuration.

mod common;

use std::collections::BTreeMap;

use common::{cpu, losses, request};
use lediflow_core::model::LeDiFlowConfig;
use lediflow_tools::train::{RunDir, RunError, Stage, TrainError, train};

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
    let loaded = lediflow_core::model_io::load_file(&run.ema_path(), &cpu()).expect("the EMA file is a valid model");
    assert_eq!(loaded.networks.len(), 5);
    assert_eq!(lediflow_tools::train::log::read(&run.log_path()).len(), 160);
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
fn half_precision_on_the_cpu_is_a_clear_error_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let mut half = request(&run, vec![Stage::Aux], 2, false);
    half.precision = lediflow_core::model::precision::Precision::Bf16;
    let err = train(half).err().expect("ndarray has no bf16");
    assert!(matches!(&err, TrainError::Invalid(message) if message.contains("bf16")), "{err}");
    assert!(!run.exists(), "no run directory for a run that never started");
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

fn steps(state: &lediflow_tools::train::RunState) -> Vec<u64> {
    Stage::ORDER.iter().map(|s| state.progress(*s).step).collect()
}

fn counts(report: &lediflow_tools::train::TrainReport) -> Vec<usize> {
    Stage::ORDER.iter().map(|s| losses(report, *s).len()).collect()
}

#[test]
fn each_stage_trains_to_its_own_target_and_a_resume_does_not_reopen_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut first = request(dir.path(), Stage::ORDER.to_vec(), 3, false);
    first.settings.stage_steps = BTreeMap::from([(Stage::Latent, 2), (Stage::Flow, 4)]);
    let report = train(first).expect("train");
    assert_eq!(counts(&report), [3, 2, 4, 3], "aux, latent, flow, baseline");
    assert_eq!(steps(report.state.as_ref().expect("state")), [3, 2, 4, 3]);

    // Raising the default target re-opens the stages without one of their own (aux, baseline),
    // not the latent sampler, which reached its own; flow's target is raised explicitly.
    let mut more = request(dir.path(), Stage::ORDER.to_vec(), 5, true);
    more.stage_steps_override = BTreeMap::from([(Stage::Flow, 6)]);
    let report = train(more).expect("resume");
    assert_eq!(counts(&report), [2, 0, 2, 2]);
    let state = RunDir::new(dir.path()).read_state().expect("state on disk");
    assert_eq!(steps(&state), [5, 2, 6, 5]);
    assert_eq!(state.settings.steps, 5);
    assert_eq!(state.settings.stage_steps, BTreeMap::from([(Stage::Latent, 2), (Stage::Flow, 6)]));

    // Every stage is at its target: resuming trains nothing.
    let report = train(request(dir.path(), Stage::ORDER.to_vec(), 5, true)).expect("resume again");
    assert!(report.losses.is_empty(), "{:?}", report.losses);
    assert_eq!(steps(report.state.as_ref().expect("state")), [5, 2, 6, 5]);
    let rows = lediflow_tools::train::log::read(&RunDir::new(dir.path()).log_path());
    assert_eq!(rows.len(), 5 + 2 + 6 + 5, "one log row per step, none repeated");
}

#[test]
fn the_aux_loss_parts_are_logged_and_add_up_to_the_total() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = train(request(dir.path(), vec![Stage::Aux, Stage::Baseline], 4, false)).expect("train");
    let run = RunDir::new(dir.path());
    let text = std::fs::read_to_string(run.log_path()).expect("log");
    assert_eq!(text.lines().next(), Some(lediflow_tools::train::log::HEADER));
    assert!(lediflow_tools::train::log::HEADER.starts_with("stage,step,loss,images_per_second,lr,seconds,"));

    let beta = LeDiFlowConfig::tiny().loss.beta;
    let rows = lediflow_tools::train::log::read(&run.log_path());
    assert_eq!(rows.len(), 8);
    for row in &rows {
        match row.stage.as_str() {
            "aux" => {
                let (nll, kl) = (row.nll.expect("aux nll"), row.kl.expect("aux kl"));
                assert!(nll.is_finite() && kl.is_finite() && kl > -1e-6, "KL ≥ 0 up to rounding: {row:?}");
                // The CSV keeps the loss to 6 decimals and the parts to 8 significant digits.
                let sum = nll + beta * kl;
                assert!((sum - row.loss).abs() <= 2e-6 + 1e-6 * row.loss.abs(), "nll + β·kl = {sum}: {row:?}");
                let (gaussian_nll, sigma) = (row.gaussian_nll.expect("aux gaussian_nll"), row.sigma.expect("aux σ"));
                assert!(gaussian_nll.is_finite() && sigma > 0.0 && sigma.is_finite(), "{row:?}");
            }
            _ => assert_eq!((row.nll, row.kl, row.gaussian_nll, row.sigma), (None, None, None, None), "{row:?}"),
        }
    }
    let logged: Vec<f64> = rows.iter().filter(|r| r.stage == "aux").map(|r| r.loss).collect();
    for (a, b) in logged.iter().zip(losses(&report, Stage::Aux)) {
        assert!((a - b).abs() <= 1e-6, "the CSV's total is the reported loss");
    }
}

#[test]
fn a_run_from_before_per_stage_targets_and_loss_parts_still_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    train(request(dir.path(), vec![Stage::Aux], 2, false)).expect("train");
    let run = RunDir::new(dir.path());

    // Make it look like an old run: settings with `steps` only, a six-column log.
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.state_path()).expect("state")).expect("json");
    let settings = state["settings"].as_object_mut().expect("settings");
    settings.remove("stage_steps");
    assert!(settings.contains_key("steps") && !settings.contains_key("stage_steps"));
    std::fs::write(run.state_path(), serde_json::to_string_pretty(&state).expect("json")).expect("write");
    let log = std::fs::read_to_string(run.log_path()).expect("log");
    let old: String = log.lines().map(|l| l.split(',').take(6).collect::<Vec<_>>().join(",") + "\n").collect();
    std::fs::write(run.log_path(), &old).expect("write");
    assert_eq!(lediflow_tools::train::log::read(&run.log_path()).len(), 2);

    let report = train(request(dir.path(), vec![Stage::Aux], 4, true)).expect("resume");
    assert_eq!(losses(&report, Stage::Aux).len(), 2);
    let state = report.state.expect("state");
    assert_eq!((state.progress(Stage::Aux).step, state.settings.steps_for(Stage::Aux)), (4, 4));
    let rows = lediflow_tools::train::log::read(&run.log_path());
    assert_eq!(rows.len(), 4, "the old rows are kept");
    assert!(rows[..2].iter().all(|r| r.nll.is_none()) && rows[2..].iter().all(|r| r.nll.is_some()));
}

#[test]
fn s128_takes_one_step_of_every_stage_at_128_pixels() {
    // s128's token grids, windows and levels at 32 wide (`testing::narrow`: the full widths take
    // a minute here; their shapes are model::tests' at full width): every stage's loss and
    // backward pass at 128 px, the checkpoint and the EMA file of a 128-px model.
    let config = lediflow_core::testing::narrow(&LeDiFlowConfig::s128());
    config.validate().expect("narrow s128");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut one = request(dir.path(), Stage::ORDER.to_vec(), 1, false);
    one.config = config.clone();
    one.settings.batch = 1;
    let report = train(one).expect("train s128");
    for stage in Stage::ORDER {
        let l = losses(&report, stage);
        assert_eq!(l.len(), 1, "{stage}: one step");
        assert!(l[0].is_finite() && l[0] > 0.0, "{stage}: loss {}", l[0]);
    }
    let state = report.state.expect("state");
    assert_eq!(state.config, config);
    assert_eq!(steps(&state), [1, 1, 1, 1]);
    let loaded = lediflow_core::model_io::load_file(&RunDir::new(dir.path()).ema_path(), &cpu()).expect("the EMA file");
    assert_eq!((loaded.config.image_size, loaded.networks.len()), (128, 5));
}

#[test]
fn a_grown_run_starts_from_the_small_models_weights_and_trains_at_twice_the_side() {
    use burn::tensor::{Distribution, Tensor};
    use clap::Parser;
    use lediflow_core::model::networks::upsample_nearest;
    use lediflow_tools::cli::{Cli, run};
    use std::path::Path;

    let small = tempfile::tempdir().expect("tempdir");
    // EMA = online weights, so that the zero-initialised output layers have moved in 2 steps.
    let mut small_run = request(small.path(), Stage::ORDER.to_vec(), 2, false);
    small_run.settings.ema_decay = 0.0;
    train(small_run).expect("train the small run");
    let grown = tempfile::tempdir().expect("tempdir");
    let out = grown.path().join("s64");
    let grow_into = |out: &Path, settings_from: &Path, extra: &[&str]| {
        let mut args = vec!["lediflow", "grow", "--from", small.path().to_str().expect("utf-8 path")];
        args.extend(["--settings-from", settings_from.to_str().expect("utf-8 path")]);
        args.extend(["--out", out.to_str().expect("utf-8 path")]);
        args.extend(extra);
        run(Cli::try_parse_from(args).expect("arguments"))
    };
    let grow = |extra: &[&str]| grow_into(&out, small.path(), extra);
    // Refused options leave no run behind.
    let refused = |out: &Path, settings_from: &Path, extra: &[&str], names: &str| {
        let err = grow_into(out, settings_from, extra).err().expect("refused");
        assert!(err.to_string().contains(names), "{err}");
        assert!(!out.exists(), "a refused grow left {}", out.display());
    };
    let other = grown.path().join("refused");
    refused(&other, small.path(), &["--quant", "int8"], "--quant int8");
    refused(&other, grown.path(), &[], "state.json");
    let long_name = "n".repeat(lediflow_core::model::validate::MAX_NAME_BYTES + 1);
    refused(&other, small.path(), &["--name", &long_name], "name");
    grow(&[]).expect("grow");
    assert!(grow(&[]).is_err(), "growing into an existing run must not overwrite it");
    let state = RunDir::new(&out).read_state().expect("the grown run's state");
    assert_eq!((state.config.image_size, state.config.name.as_str()), (64, "s64"));
    assert!(state.stages.is_empty(), "every stage starts at step 0");
    assert_eq!(state.settings.batch, common::settings(2).batch, "the settings come from --settings-from");
    for stage in ["aux", "latent", "flow", "baseline"] {
        assert!(out.join(format!("ema-{stage}.ldf")).is_file(), "ema-{stage}.ldf");
    }

    // Its flow model computes the small run's on the box-downsampled image, upsampled.
    let device = cpu();
    let source = lediflow_core::model_io::load_file(&RunDir::new(small.path()).ema_path(), &device).expect("source");
    let target = lediflow_core::model_io::load_file(&out.join("ema-flow.ldf"), &device).expect("grown flow");
    let image = Tensor::<4>::random([1, 3, 64, 64], Distribution::Uniform(-1.0, 1.0), &device);
    let down = image.clone().reshape([1, 3, 32, 2, 32, 2]).mean_dim(5).mean_dim(3).reshape([1, 3, 32, 32]);
    let t = Tensor::<1>::from_floats([0.4], &device);
    let expected = upsample_nearest(source.model.flow.forward(down, t.clone()), 2);
    let actual = target.model.flow.forward(image, t);
    let scale = expected.clone().abs().max().into_scalar::<f32>();
    let error = (actual - expected).abs().max().into_scalar::<f32>();
    assert!(scale > 1e-4 && error <= 1e-4 * scale.max(1.0), "grown flow differs by {error} (scale {scale})");

    // The flow stage needs the aux stage at the new size first; then both train at 64 px.
    let mut flow_first = request(&out, vec![Stage::Flow], 1, true);
    flow_first.config = state.config.clone();
    assert!(matches!(train(flow_first), Err(TrainError::MissingStage { .. })));
    let mut both = request(&out, vec![Stage::Aux, Stage::Flow], 1, true);
    both.config = state.config.clone();
    let report = train(both).expect("train the grown run");
    assert_eq!(steps(&report.state.expect("state"))[..], [1, 0, 1, 0]);
    let grown_ema = lediflow_core::model_io::load_file(&RunDir::new(&out).ema_path(), &device).expect("EMA");
    assert_eq!(grown_ema.config.image_size, 64);
}

#[test]
fn a_cooldown_lowers_the_learning_rate_step_by_step_and_needs_a_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut no_budget = request(dir.path(), vec![Stage::Aux], 3, false);
    no_budget.cooldown_minutes = Some(1.0);
    assert!(matches!(train(no_budget), Err(TrainError::Invalid(_))), "a cooldown without --minutes");
    let mut longer = request(dir.path(), vec![Stage::Aux], 3, false);
    (longer.minutes, longer.cooldown_minutes) = (Some(1.0), Some(2.0));
    assert!(matches!(train(longer), Err(TrainError::Invalid(_))), "a cooldown longer than the budget");
    // The whole budget (12 s) cools down: the rates fall from step to step, below the setting (no
    // warm-up in these settings). The log keeps 4 digits: 12 ms of the budget.
    let mut cooled = request(dir.path(), vec![Stage::Aux], 3, false);
    (cooled.minutes, cooled.cooldown_minutes) = (Some(0.2), Some(0.2));
    let lr = cooled.settings.lr;
    train(cooled).expect("train with a cooldown");
    let rates: Vec<f64> =
        lediflow_tools::train::log::read(&RunDir::new(dir.path()).log_path()).iter().map(|r| r.lr).collect();
    assert_eq!(rates.len(), 3, "{rates:?}");
    assert!(rates[0] <= lr && rates.windows(2).all(|w| w[1] <= w[0]) && rates[2] < rates[0], "{rates:?} against {lr}");
}
