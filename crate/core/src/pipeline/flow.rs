//! The flow stage every pipeline ends with: one solve of a velocity network over a time grid,
//! observed after every step, timed up to a completed readback.

use burn::tensor::Tensor;

use super::known::KnownPixels;
use super::{Clock, Generated, Nfe, PipelineError, SampleOptions, StageTimes};
use crate::model::hourglass::TokenLayout;
use crate::model::networks::VelocityNet;
use crate::solvers::{Field, Observer, Solution, Solver, power_grid, solve};

/// The flow's state after a solver step, in the layout the solve keeps it in.
pub struct StepState<'a> {
    tokens: &'a Tensor<4>,
    layout: TokenLayout,
}

impl StepState<'_> {
    /// The state as images, `[B, C, R, R]`: a copy, which only an observer that looks at the
    /// images pays for.
    pub fn images(&self) -> Tensor<4> {
        self.layout.images(self.tokens.clone())
    }
}

/// Receives the flow state after every solver step, e.g. to render a progressive preview.
pub trait StepObserver {
    fn on_step(&mut self, step: usize, steps: usize, x: &StepState) -> impl Future<Output = Result<(), PipelineError>>;
}

/// Observes nothing.
pub struct NoPreview;

impl StepObserver for NoPreview {
    async fn on_step(&mut self, _: usize, _: usize, _: &StepState<'_>) -> Result<(), PipelineError> {
        Ok(())
    }
}

/// Waits until `x` is computed (a one-element asynchronous readback). A product our kernels
/// refused on the way (`kernels::take_refusal`) is an error here, before any image is made of it.
pub(super) async fn settle(x: &Tensor<4>) -> Result<(), PipelineError> {
    settle_if(true, x).await
}

/// [`settle`] when `wait`; otherwise only the refusals are checked (they are known on the host
/// when a kernel is launched) and nothing waits for the device.
pub(super) async fn settle_if(wait: bool, x: &Tensor<4>) -> Result<(), PipelineError> {
    crate::kernels::take_refusal().map_err(|e| PipelineError::Shape(e.0))?;
    if wait {
        x.clone().slice([0..1, 0..1, 0..1, 0..1]).into_data_async().await.map_err(PipelineError::backend)?;
    }
    Ok(())
}

/// The solver's observer in a pipeline: puts the known pixels back (inpainting), then shows the
/// state to the caller's [`StepObserver`].
struct PipelineSteps<'a, O> {
    known: Option<&'a KnownPixels>,
    observer: &'a mut O,
    steps: usize,
    layout: TokenLayout,
}

impl<O: StepObserver> Observer<Tensor<4>> for PipelineSteps<'_, O> {
    type Error = PipelineError;
    async fn after_step(&mut self, step: usize, t: f64, x: Tensor<4>) -> Result<Tensor<4>, PipelineError> {
        let x = match self.known {
            Some(known) => known.at(x, t),
            None => x,
        };
        self.observer.on_step(step, self.steps, &StepState { tokens: &x, layout: self.layout }).await?;
        Ok(x)
    }
}

/// Integrates `net` over `grid` from `x0`, given as the network's patch tokens
/// (`VelocityNet::token_layout`), to its solution as tokens. The solve keeps its state (and the
/// known pixels) so and its callers lay out images only where they need them: every solver
/// operation is element-wise, so the result is the same, without two copies per evaluation.
pub(super) async fn integrate(
    net: &VelocityNet,
    solver: Solver,
    grid: &[f64],
    x0: Tensor<4>,
    known: Option<&KnownPixels>,
    observer: &mut impl StepObserver,
) -> Result<Solution<Tensor<4>>, PipelineError> {
    let layout = net.token_layout();
    let known = known.map(|known| known.as_tokens(&layout));
    let mut velocity = NetworkField(net);
    let steps = grid.len().saturating_sub(1);
    let mut steps_seen = PipelineSteps { known: known.as_ref(), observer, steps, layout };
    solve(solver, &mut velocity, x0, grid, &mut steps_seen).await
}

/// A velocity network as the solvers' field, on its patch tokens. Every image is at the grid's
/// times, so a prepared network reuses each time's condition; a step's update that adds one
/// evaluation to a state is the network's last layer's epilogue where our WGSL runs.
struct NetworkField<'n>(&'n VelocityNet);

impl Field<Tensor<4>> for NetworkField<'_> {
    fn velocity(&mut self, x: &Tensor<4>, t: f64) -> Tensor<4> {
        self.0.tokens_at(x.clone(), t)
    }

    fn advance(&mut self, x: &Tensor<4>, t: f64, base: &Tensor<4>, scale: f64) -> Tensor<4> {
        self.0.advanced_tokens_at(x.clone(), t, base, scale)
    }
}

/// Where a flow starts: images, or already its network's patch tokens (no layout copy).
enum Start {
    Images(Tensor<4>),
    Tokens(Tensor<4>),
}

/// The flow ODE of one pipeline call: its network, where it starts, and the pixels it keeps.
pub(super) struct Flow<'n> {
    net: &'n VelocityNet,
    x0: Start,
    known: Option<KnownPixels>,
}

impl<'n> Flow<'n> {
    /// From images `x0` (`[B, C, R, R]`).
    pub fn new(net: &'n VelocityNet, x0: Tensor<4>) -> Self {
        Self { net, x0: Start::Images(x0), known: None }
    }

    /// From `x0` given as `net`'s patch tokens (`VelocityNet::token_layout`).
    pub fn from_tokens(net: &'n VelocityNet, x0: Tensor<4>) -> Self {
        Self { net, x0: Start::Tokens(x0), known: None }
    }

    fn start_images(&self) -> Tensor<4> {
        match &self.x0 {
            Start::Images(images) => images.clone(),
            Start::Tokens(tokens) => self.net.token_layout().images(tokens.clone()),
        }
    }

    /// Keeps the pixels of `image` where `mask` is 1 (see [`KnownPixels`]).
    pub fn keeping(self, image: Tensor<4>, mask: Tensor<4>) -> Self {
        let x0 = self.start_images();
        let known = KnownPixels { x0: x0.clone(), image, mask };
        Self { x0: Start::Images(x0), known: Some(known), ..self }
    }

    /// Runs the flow with `options`' solver and steps after stages that cost `nfe` and `times`.
    pub async fn run(
        self,
        options: &SampleOptions,
        clock: &dyn Clock,
        observer: &mut impl StepObserver,
        mut nfe: Nfe,
        mut times: StageTimes,
    ) -> Result<Generated, PipelineError> {
        let start = clock.now_ms();
        let layout = self.net.token_layout();
        let x_start = match (self.x0, &self.known) {
            (Start::Tokens(tokens), None) => tokens,
            (Start::Images(images), None) => layout.tokens(images),
            (Start::Images(images), Some(known)) => layout.tokens(known.at(images, 0.0)),
            (Start::Tokens(tokens), Some(known)) => layout.tokens(known.at(layout.images(tokens), 0.0)),
        };
        let grid = power_grid(options.steps, options.time_power);
        let solution = integrate(self.net, options.solver, &grid, x_start, self.known.as_ref(), observer).await?;
        let images = layout.images(solution.x);
        let images = match self.known {
            Some(known) => known.finish(images),
            None => images,
        };
        settle_if(options.stage_times, &images).await?;
        nfe.flow = solution.nfe;
        times.flow_ms = clock.now_ms() - start;
        // Untimed stages were not waited for: what the clock read is the host's, not the stages'.
        Ok(Generated { images, nfe, times: options.stage_times.then_some(times) })
    }
}
