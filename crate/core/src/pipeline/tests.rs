use burn::tensor::{Tensor, TensorData};

use super::*;
use crate::testing::{cpu, perturbed_tiny};

fn run<F: Future>(f: F) -> F::Output {
    pollster::block_on(f)
}

fn rgb(images: Tensor<4>) -> Vec<Vec<u8>> {
    run(to_rgb8(images)).expect("readback")
}

#[test]
fn same_seed_gives_the_same_image_and_seeds_are_independent_of_the_batch() {
    let (config, model) = perturbed_tiny(1);
    let pipeline = Pipeline::new(&model, &config, cpu());
    let options = SampleOptions::default();
    let clock = SystemClock::default();
    let a = run(pipeline.sample(&[5, 6], &options, &clock, &mut NoPreview)).expect("sample");
    let b = run(pipeline.sample(&[5, 6], &options, &clock, &mut NoPreview)).expect("sample");
    let single = run(pipeline.sample(&[6], &options, &clock, &mut NoPreview)).expect("sample");
    let (a, b, single) = (rgb(a.images), rgb(b.images), rgb(single.images));
    assert_eq!(a, b);
    assert_ne!(a[0], a[1]);
    let diff = a[1].iter().zip(&single[0]).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
    assert!(diff <= 1, "seed 6 alone vs in a batch differ by {diff}");
}

#[test]
fn reports_exact_nfe_per_network() {
    let (config, model) = perturbed_tiny(2);
    let pipeline = Pipeline::new(&model, &config, cpu());
    let clock = SystemClock::default();
    let options =
        SampleOptions { solver: crate::solvers::Solver::Rk4, steps: 3, latent_steps: 5, ..Default::default() };
    let out = run(pipeline.sample(&[1], &options, &clock, &mut NoPreview)).expect("sample");
    assert_eq!(out.nfe, Nfe { latent: 10, decoder: 1, encoder: 0, flow: 12 });
    let baseline = SampleOptions { method: Method::Baseline, ..options };
    let out = run(pipeline.sample(&[1], &baseline, &clock, &mut NoPreview)).expect("sample");
    assert_eq!(out.nfe, Nfe { latent: 0, decoder: 0, encoder: 0, flow: 12 });
}

#[test]
fn untimed_stages_give_the_same_images_and_no_stage_times() {
    let (config, model) = perturbed_tiny(2);
    let pipeline = Pipeline::new(&model, &config, cpu());
    let clock = SystemClock::default();
    let timed = run(pipeline.sample(&[4, 5], &SampleOptions::default(), &clock, &mut NoPreview)).expect("sample");
    let options = SampleOptions { stage_times: false, ..Default::default() };
    let untimed = run(pipeline.sample(&[4, 5], &options, &clock, &mut NoPreview)).expect("sample");
    assert!(timed.times.is_some_and(|t| t.latent_ms > 0.0 && t.flow_ms > 0.0), "{:?}", timed.times);
    assert_eq!(untimed.times, None, "no stage was timed");
    assert_eq!((untimed.nfe, rgb(untimed.images)), (timed.nfe, rgb(timed.images)));
}

struct CountingObserver(Vec<usize>);

impl StepObserver for CountingObserver {
    async fn on_step(&mut self, step: usize, _: usize, x: &StepState<'_>) -> Result<(), PipelineError> {
        x.images().into_data_async().await.map_err(PipelineError::backend)?;
        self.0.push(step);
        Ok(())
    }
}

#[test]
fn the_observer_sees_every_flow_step() {
    let (config, model) = perturbed_tiny(3);
    let pipeline = Pipeline::new(&model, &config, cpu());
    let mut observer = CountingObserver(vec![]);
    let options = SampleOptions { steps: 3, ..Default::default() };
    run(pipeline.sample(&[1], &options, &SystemClock::default(), &mut observer)).expect("sample");
    assert_eq!(observer.0, vec![0, 1, 2]);
}

#[test]
fn inpainting_keeps_known_pixels_bit_exact() {
    let (config, model) = perturbed_tiny(4);
    let device = cpu();
    let pipeline = Pipeline::new(&model, &config, device.clone());
    let side = config.image_size;
    let pixels: Vec<u8> = (0..side * side * 3).map(|i| (i * 37 % 256) as u8).collect();
    let image = from_rgb8(&[&pixels], side, 3, &device).expect("image");
    let mask: Vec<f32> =
        (0..side * side).map(|p| if (p / side) < side / 2 || p % 3 == 0 { 1.0 } else { 0.0 }).collect();
    let mask_t = Tensor::<4>::from_data(TensorData::new(mask.clone(), [1, 1, side, side]), &device);
    for method in [Method::LeDiFlow, Method::Baseline] {
        let options = SampleOptions { method, ..Default::default() };
        let out = run(pipeline.inpaint(
            image.clone(),
            mask_t.clone(),
            &[9],
            &options,
            &SystemClock::default(),
            &mut NoPreview,
        ))
        .expect("inpaint");
        let result = &rgb(out.images)[0];
        let mut changed = 0;
        for p in 0..side * side {
            for c in 0..3 {
                if mask[p] == 1.0 {
                    assert_eq!(result[p * 3 + c], pixels[p * 3 + c], "{method}: known pixel {p} changed");
                } else if result[p * 3 + c] != pixels[p * 3 + c] {
                    changed += 1;
                }
            }
        }
        assert!(changed > 0, "{method}: the unknown region was not regenerated");
    }
}

#[test]
fn inpainting_rejects_mismatched_sizes() {
    let (config, model) = perturbed_tiny(5);
    let device = cpu();
    let pipeline = Pipeline::new(&model, &config, device.clone());
    let image = Tensor::<4>::zeros([1, 3, 32, 32], &device);
    let bad_mask = Tensor::<4>::ones([1, 1, 16, 16], &device);
    let err = run(pipeline.inpaint(
        image.clone(),
        bad_mask,
        &[1],
        &SampleOptions::default(),
        &SystemClock::default(),
        &mut NoPreview,
    ));
    assert!(matches!(err, Err(PipelineError::Shape(_))));
    let bad_image = Tensor::<4>::zeros([1, 3, 64, 64], &device);
    let mask = Tensor::<4>::ones([1, 1, 64, 64], &device);
    let err = run(pipeline.inpaint(
        bad_image,
        mask,
        &[1],
        &SampleOptions::default(),
        &SystemClock::default(),
        &mut NoPreview,
    ));
    assert!(matches!(err, Err(PipelineError::Shape(_))));
}

#[test]
fn interpolation_endpoints_are_the_two_samples() {
    let (config, model) = perturbed_tiny(6);
    let pipeline = Pipeline::new(&model, &config, cpu());
    let clock = SystemClock::default();
    for method in [Method::LeDiFlow, Method::Baseline] {
        let options = SampleOptions { method, ..Default::default() };
        let path = run(pipeline.interpolate(11, 12, &[0.0, 0.5, 1.0], &options, &clock)).expect("interpolate");
        let path = rgb(path.images);
        let a = rgb(run(pipeline.sample(&[11], &options, &clock, &mut NoPreview)).expect("sample").images);
        let max_diff = |x: &[u8], y: &[u8]| x.iter().zip(y).map(|(p, q)| p.abs_diff(*q)).max().unwrap_or(0);
        assert!(max_diff(&path[0], &a[0]) <= 1, "{method}: α=0 is not seed A");
        assert_ne!(path[0], path[2], "{method}: endpoints should differ");
        assert_ne!(path[1], path[0]);
        let b = rgb(run(pipeline.sample(&[12], &options, &clock, &mut NoPreview)).expect("sample").images);
        assert!(max_diff(&path[2], &b[0]) <= 1, "{method}: α=1 is not seed B");
    }
}

#[test]
fn out_of_range_options_are_typed_errors() {
    let (config, model) = perturbed_tiny(7);
    let pipeline = Pipeline::new(&model, &config, cpu());
    let clock = SystemClock::default();
    for options in [
        SampleOptions { steps: 0, ..Default::default() },
        SampleOptions { steps: 10_000, ..Default::default() },
        SampleOptions { latent_steps: 0, ..Default::default() },
        SampleOptions { prior_std_scale: Some(-1.0), ..Default::default() },
    ] {
        let r = run(pipeline.sample(&[1], &options, &clock, &mut NoPreview));
        assert!(matches!(r, Err(PipelineError::Options(_))), "{options:?}");
    }
    let seeds: Vec<u64> = (0..1000).collect();
    assert!(matches!(
        run(pipeline.sample(&seeds, &SampleOptions::default(), &clock, &mut NoPreview)),
        Err(PipelineError::Options(_))
    ));
    assert!(matches!(
        run(pipeline.interpolate(1, 2, &[1.5], &SampleOptions::default(), &clock)),
        Err(PipelineError::Options(_))
    ));
}

#[test]
fn unknown_pixels_are_filled_with_their_rows_known_mean() {
    let device = cpu();
    // One channel shown (all three equal): row 0 knows 1 and 3, row 1 knows nothing, row 2 knows 5.
    let values = [1.0, 9.0, 3.0, 9.0, 9.0, 9.0, 9.0, 5.0, 9.0];
    let keep = [1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0];
    let image: Vec<f32> = (0..3).flat_map(|_| values).collect();
    let image = Tensor::<4>::from_data(TensorData::new(image, [1, 3, 3, 3]), &device);
    let keep = Tensor::<4>::from_data(TensorData::new(keep.to_vec(), [1, 1, 3, 3]), &device);
    let filled = row_fill(&image, &keep).into_data().try_to_vec::<f32>().unwrap();
    // Row means 2 and 5; the empty row takes the mean of all known pixels, 3.
    assert_eq!(&filled[..9], &[2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 5.0, 5.0, 5.0]);
}

/// Keeps the state of every step it sees.
struct RecordingObserver(Vec<Vec<f32>>);

impl StepObserver for RecordingObserver {
    async fn on_step(&mut self, _: usize, _: usize, x: &StepState<'_>) -> Result<(), PipelineError> {
        let data = x.images().into_data_async().await.map_err(PipelineError::backend)?;
        self.0.push(data.try_to_vec::<f32>().map_err(|e| PipelineError::Backend(format!("{e:?}")))?);
        Ok(())
    }
}

#[test]
fn the_inpainting_preview_sees_the_known_pixels_already_put_back() {
    let (config, model) = perturbed_tiny(8);
    let device = cpu();
    let pipeline = Pipeline::new(&model, &config, device.clone());
    let side = config.image_size;
    let pixels: Vec<u8> = (0..side * side * 3).map(|i| (i * 53 % 256) as u8).collect();
    let image = from_rgb8(&[&pixels], side, 3, &device).expect("image");
    let mask: Vec<f32> = (0..side * side).map(|p| if p % side < side / 2 { 1.0 } else { 0.0 }).collect();
    let mask_t = Tensor::<4>::from_data(TensorData::new(mask.clone(), [1, 1, side, side]), &device);
    let mut observer = RecordingObserver(vec![]);
    let options = SampleOptions { steps: 3, ..Default::default() };
    run(pipeline.inpaint(image.clone(), mask_t, &[2], &options, &SystemClock::default(), &mut observer))
        .expect("inpaint");
    // At t = 1 the known pixels' path ends on the image itself, so the last preview shows them
    // exactly: the replacement comes before the observer.
    let expected: Vec<f32> = image.into_data().try_to_vec().expect("f32 data");
    let last = observer.0.last().expect("three previews");
    assert_eq!(observer.0.len(), 3);
    for (i, (seen, want)) in last.iter().zip(&expected).enumerate() {
        if mask[i % (side * side)] == 1.0 {
            assert_eq!(seen.to_bits(), want.to_bits(), "known value {i} in the last preview");
        }
    }
}

#[test]
fn a_solve_kept_as_patch_tokens_ends_on_the_images_of_a_solve_in_pixels() {
    let (config, model) = perturbed_tiny(9);
    let device = cpu();
    let r = config.latent_side(config.image_size);
    let cases = [
        (&model.latent, [2, config.latent_channels, r, r]),
        (&model.flow, [2, 3, config.image_size, config.image_size]),
    ];
    for (net, shape) in cases {
        let layout = net.token_layout();
        let n = shape.iter().product::<usize>();
        let x0: Vec<f32> = (0..n).map(|i| ((i * 7919 % 113) as f32 - 56.0) / 37.0).collect();
        let x0 = Tensor::<4>::from_data(TensorData::new(x0, shape), &device);
        let grid = crate::solvers::uniform_grid(3);
        // Heun evaluates, then updates; midpoint asks the network for each update (`Field::advance`);
        // Adams–Bashforth keeps the last velocity across steps.
        for solver in [crate::solvers::Solver::Heun, crate::solvers::Solver::Midpoint, crate::solvers::Solver::Ab2] {
            let tokens = layout.tokens(x0.clone());
            let solution =
                run(super::flow::integrate(net, solver, &grid, tokens, None, &mut NoPreview)).expect("solve");
            let mut velocity = |x: &Tensor<4>, t: f64| net.forward_at(x.clone(), t);
            let in_pixels = solver.solve(&mut velocity, x0.clone(), &grid, &mut |_, _, x| x);
            let bits = |x: Tensor<4>| x.into_data().iter::<f32>().map(f32::to_bits).collect::<Vec<_>>();
            let images = layout.images(solution.x);
            assert_eq!(images.dims(), shape, "{solver}, patch {}", layout.patch);
            assert_eq!(bits(images), bits(in_pixels.x), "{solver}, patch {}", layout.patch);
            assert_eq!(solution.nfe, in_pixels.nfe);
        }
    }
}

#[test]
fn the_latent_sampler_runs_on_the_time_grid_the_options_ask_for() {
    let (config, model) = perturbed_tiny(10);
    let device = cpu();
    let pipeline = Pipeline::new(&model, &config, device.clone());
    let clock = SystemClock::default();
    let solver = crate::solvers::Solver::Midpoint;
    let options =
        SampleOptions { latent_solver: solver, latent_steps: 3, latent_time_power: 2.0, ..Default::default() };
    let mu = run(pipeline.prior_mean(&[3, 4], &options, &clock)).expect("prior mean");
    // The same by hand: the seeds' latent noise through a midpoint solve at 0, 1/9, 4/9, 1.
    let shape = pipeline.latent_shape(2);
    let noise = gaussian_batch(&[3, 4], Stream::Latent, Pipeline::per_image(shape));
    let mut velocity = |x: &Tensor<4>, t: f64| model.latent.forward_at(x.clone(), t);
    let grid = [0.0, 1.0 / 9.0, 4.0 / 9.0, 1.0];
    let z = crate::solvers::midpoint(&mut velocity, pipeline.tensor(noise, shape), &grid, &mut |_, _, x| x).x;
    let by_hand = pipeline.decode(z).0;
    let bits = |x: Tensor<4>| x.into_data().iter::<f32>().map(f32::to_bits).collect::<Vec<_>>();
    assert_eq!(bits(mu.clone()), bits(by_hand));
    let uniform = SampleOptions { latent_time_power: 1.0, ..options };
    let mu_uniform = run(pipeline.prior_mean(&[3, 4], &uniform, &clock)).expect("prior mean");
    assert_ne!(bits(mu), bits(mu_uniform), "the grid changes the latents");
}

#[test]
fn the_latent_temperature_scales_where_the_latent_sampler_starts() {
    let (config, model) = perturbed_tiny(12);
    let pipeline = Pipeline::new(&model, &config, cpu());
    let clock = SystemClock::default();
    let options = SampleOptions { latent_solver: crate::solvers::Solver::Euler, latent_steps: 2, ..Default::default() };
    let seeds = [3, 4];
    // The same by hand: the seeds' latent noise times 0.5 through two Euler steps.
    let shape = pipeline.latent_shape(2);
    let noise = gaussian_batch(&seeds, Stream::Latent, Pipeline::per_image(shape));
    let mut velocity = |x: &Tensor<4>, t: f64| model.latent.forward_at(x.clone(), t);
    let start = pipeline.tensor(noise, shape).mul_scalar(0.5);
    let z = crate::solvers::euler(&mut velocity, start, &[0.0, 0.5, 1.0], &mut |_, _, x| x).x;
    let by_hand = pipeline.decode(z).0;
    let bits = |x: Tensor<4>| x.into_data().iter::<f32>().map(f32::to_bits).collect::<Vec<_>>();
    let cooled = SampleOptions { latent_temperature: 0.5, ..options.clone() };
    let mu = run(pipeline.prior_mean(&seeds, &cooled, &clock)).expect("prior mean");
    assert_eq!(bits(mu.clone()), bits(by_hand));
    let mu_default = run(pipeline.prior_mean(&seeds, &options, &clock)).expect("prior mean");
    assert_ne!(bits(mu), bits(mu_default), "the temperature changes the latents");
    // At 0 every seed starts from the same latent, so every seed gets the same prior mean.
    let frozen = SampleOptions { latent_temperature: 0.0, ..options };
    let mu = run(pipeline.prior_mean(&seeds, &frozen, &clock)).expect("prior mean");
    let [a, b] = [0, 1].map(|i| bits(mu.clone().slice([i..i + 1])));
    assert_eq!(a, b, "one latent for every seed at temperature 0");
}

#[test]
fn the_flow_runs_on_the_time_grid_the_options_ask_for() {
    let (config, model) = perturbed_tiny(11);
    let pipeline = Pipeline::new(&model, &config, cpu());
    let clock = SystemClock::default();
    let solver = crate::solvers::Solver::Euler;
    let options = SampleOptions { solver, steps: 2, time_power: 0.5, ..Default::default() };
    let sampled = run(pipeline.sample(&[7], &options, &clock, &mut NoPreview)).expect("sample").images;
    // The same by hand: the prior draw through Euler steps at 0, √½, 1.
    let x0 = run(pipeline.prior_sample(&[7], &options, &clock)).expect("prior draw");
    let mut velocity = |x: &Tensor<4>, t: f64| model.flow.forward_at(x.clone(), t);
    let grid = [0.0, 0.5f64.sqrt(), 1.0];
    let by_hand = crate::solvers::euler(&mut velocity, x0, &grid, &mut |_, _, x| x).x;
    let bits = |x: Tensor<4>| x.into_data().iter::<f32>().map(f32::to_bits).collect::<Vec<_>>();
    assert_eq!(bits(sampled.clone()), bits(by_hand));
    let uniform = SampleOptions { time_power: 1.0, ..options };
    let sampled_uniform = run(pipeline.sample(&[7], &uniform, &clock, &mut NoPreview)).expect("sample").images;
    assert_ne!(bits(sampled), bits(sampled_uniform), "the grid changes the images");
}
