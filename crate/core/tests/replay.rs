//! Network evaluations recorded and replayed (`lediflow_core::kernels::Captured`,
//! `lediflow_core::model::replayed`) on burn's wgpu runtime: skipped where no adapter is found,
//! unless `LEDIFLOW_REQUIRE_WGPU=1` (then they fail). Natively our network kernels run only with
//! `LEDIFLOW_WGSL_NETWORK=1`; without it the recordings hold burn's own kernels.
//!
//! `cargo test -p lediflow-core --features wgpu,kernels,cpu --test replay`
#![cfg(all(feature = "wgpu", feature = "kernels", feature = "cpu"))]

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

use lediflow_core::kernels::Captured;
use lediflow_core::model::replayed::Recordings;
use lediflow_core::model::{LeDiFlowConfig, LeDiFlowModel};

/// burn registers its wgpu runtime once per process: every test shares the one device.
fn wgpu() -> Option<Device> {
    static DEVICE: std::sync::OnceLock<Result<Device, String>> = std::sync::OnceLock::new();
    match DEVICE.get_or_init(|| Device::wgpu_options().init().map_err(|e| e.to_string())) {
        Ok(device) => Some(device.clone()),
        Err(e) if std::env::var("LEDIFLOW_REQUIRE_WGPU").is_ok_and(|v| v == "1") => panic!("no wgpu adapter: {e}"),
        Err(e) => {
            eprintln!("skipped: no wgpu adapter ({e})");
            None
        }
    }
}

fn prepared(device: &Device) -> (LeDiFlowConfig, LeDiFlowModel) {
    let config = LeDiFlowConfig::tiny();
    let mut model = lediflow_core::testing::perturbed(&config, 7).to_device(device);
    model.prepare_for_inference();
    (config, model)
}

fn values(t: Tensor<4>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 values")
}

fn largest_difference(a: Tensor<4>, b: Tensor<4>) -> f32 {
    values(a).iter().zip(values(b)).fold(0f32, |worst, (a, b)| worst.max((a - b).abs()))
}

#[test]
fn a_replay_gives_the_networks_velocity_of_the_input_written_or_fed_before_it() {
    let Some(device) = wgpu() else { return };
    let (config, model) = prepared(&device);
    let net = &model.flow;
    let (t, r) = (0.3, config.image_size);
    let input = || Tensor::<4>::random([1, config.flow.in_channels, r, r], Distribution::Normal(0.0, 1.0), &device);
    let (x1, x2, x3) = (input(), input(), input());
    let direct = |x: &Tensor<4>| net.forward_at(x.clone(), t);

    let (captured, warm) = Captured::record(&x1, |x| net.forward_at(x, t))
        .expect("a wgpu f32 tensor is recordable")
        .expect("the evaluation records");
    assert!(captured.recorded_dispatches() > 0 || !lediflow_core::kernels::network_kernels_run(&device));
    assert_eq!(largest_difference(warm, direct(&x1)), 0.0, "the warm-up is a usual evaluation");

    captured.write(&values(x2.clone())).expect("the input's length");
    let replayed = captured.replay().expect("replays");
    assert!(largest_difference(replayed, direct(&x2)) <= 1e-6, "written from the host");

    captured.feed(&x3).expect("the input's shape");
    let replayed = captured.replay().expect("replays");
    let kept = replayed.clone();
    assert!(largest_difference(replayed, direct(&x3)) <= 1e-6, "copied on the device");

    // Not fed: the replay evaluates the last input again, not a new one.
    let stale = captured.replay().expect("replays");
    assert!(largest_difference(stale.clone(), direct(&x1)) > 1e-3, "a stale replay differs");
    assert!(largest_difference(stale, kept.clone()) <= 1e-6, "x3's velocity again");
    // Copied out: a later replay leaves an earlier result as it was.
    captured.feed(&x1).expect("the input's shape");
    captured.replay().expect("replays");
    assert!(largest_difference(kept, direct(&x3)) <= 1e-6, "an earlier replay's output kept");
}

#[test]
fn an_upload_inside_the_window_refuses_the_recording() {
    let Some(device) = wgpu() else { return };
    let x = Tensor::<4>::random([1, 2, 4, 4], Distribution::Normal(0.0, 1.0), &device);
    let ones = || TensorData::new(vec![1f32; 32], [1, 2, 4, 4]);
    let uploads = |x: Tensor<4>| x + Tensor::<4>::from_data(ones(), &device);
    let refused = Captured::record(&x, uploads).expect("a wgpu f32 tensor is recordable");
    let error = refused.err().expect("an upload cannot be recorded").0;
    assert!(error.contains("write"), "{error}");
}

#[test]
fn a_network_recording_its_evaluations_solves_to_the_same_state() {
    let Some(device) = wgpu() else { return };
    let (config, mut model) = prepared(&device);
    let r = config.image_size;
    let x0 = Tensor::<4>::random([1, config.flow.in_channels, r, r], Distribution::Normal(0.0, 1.0), &device);
    let grid = lediflow_core::solvers::uniform_grid(3);
    let solver = lediflow_core::solvers::Solver::Heun;
    let mut pass = |_: usize, _: f64, x: Tensor<4>| x;
    let solve = |model: &LeDiFlowModel, pass: &mut dyn FnMut(usize, f64, Tensor<4>) -> Tensor<4>| {
        let mut velocity = |x: &Tensor<4>, t: f64| model.flow.forward_at(x.clone(), t);
        solver.solve(&mut velocity, x0.clone(), &grid, pass).x
    };
    let want = solve(&model, &mut pass);
    model.record_evaluations(true);
    for call in 0..2 {
        assert!(largest_difference(solve(&model, &mut pass), want.clone()) <= 1e-5, "call {call}");
    }
    let recordings: &Recordings = model.flow.backbone.recordings.as_ref().expect("on after preparing");
    assert_eq!(recordings.failure(), None);
    // Heun × 3 evaluates at 0, ⅓, ⅓, ⅔, ⅔, 1: the first call records 4 times and replays the
    // 2 repeated ones, the second replays all 6.
    assert_eq!(recordings.replays(), 8);
}

/// Host time of N flow evaluations at batch 1 (the s64 configuration, the shipped model's),
/// usual against replayed: "issued" is the loop alone (natively cubecl's device thread may still
/// be encoding), "total" adds the wait for the last output.
#[test]
#[ignore = "a measurement: LEDIFLOW_WGSL_NETWORK=1 cargo test -p lediflow-core --features wgpu,kernels,cpu --test replay -- --ignored --nocapture"]
fn evaluation_host_times() {
    let Some(device) = wgpu() else { return };
    let config = LeDiFlowConfig::s64();
    let mut model = LeDiFlowModel::new(&config, &device);
    model.prepare_for_inference();
    let n: usize = std::env::var("LEDIFLOW_MEASURE_N").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let r = config.image_size;
    let x = Tensor::<4>::random([1, config.flow.in_channels, r, r], Distribution::Normal(0.0, 1.0), &device);
    let t = 0.5;
    let wait = |v: Tensor<4>| drop(values(v));
    let ours = || lediflow_core::kernels::dispatches().iter().map(|(_, n)| n).sum::<u64>();
    let time = |model: &LeDiFlowModel, label: &str| {
        for _ in 0..3 {
            wait(model.flow.forward_at(x.clone(), t));
        }
        let before = ours();
        let start = std::time::Instant::now();
        let mut last = None;
        for _ in 0..n {
            last = Some(model.flow.forward_at(x.clone(), t));
        }
        let issued = start.elapsed();
        last.map(wait);
        let total = start.elapsed();
        let per = |d: std::time::Duration| d.as_secs_f64() * 1e3 / n as f64;
        eprintln!(
            "[measure] {label}: {n} flow evaluations, batch 1: issued {:.3} ms each, total {:.3} ms each, our dispatches {} each",
            per(issued),
            per(total),
            (ours() - before) as f64 / n as f64
        );
    };
    time(&model, "usual");
    model.record_evaluations(true);
    time(&model, "replayed");
    let recordings = model.flow.backbone.recordings.as_ref().expect("on after preparing");
    assert_eq!(recordings.failure(), None);
    assert_eq!(recordings.replays(), n as u64 + 2, "all but the first of the warm-ups replayed");
}
