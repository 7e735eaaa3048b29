//! What `lediflow eval` writes: a markdown report, a CSV, plots, and the speed-up at equal
//! quality as `shared/LEDIFLOW.md` defines it (the baseline's wall-clock time to reach a
//! quality level over LeDiFlow's time to reach the same level).

use std::path::Path;

use plotters::prelude::*;

use super::EvalError;
use super::run::{ConfigRow, EvalReport, ProbeRow, Scores};
use lediflow_core::pipeline::Method;

/// The scores where lower is better, used for speed-ups and plots.
pub const QUALITY_SCORES: [&str; 3] = ["fd", "mmd", "swd"];

/// The fastest time (ms per image) at which `method` reaches `score <= level`, over every
/// solver and step count evaluated; `None` if it never does.
pub fn time_to_reach(rows: &[ConfigRow], method: Method, score: &str, level: f64) -> Option<f64> {
    rows.iter()
        .filter(|r| r.method == method && r.scores.get(score) <= level)
        .map(|r| r.ms_per_image)
        .min_by(f64::total_cmp)
}

/// NFE counterpart of [`time_to_reach`]: the fewest network evaluations (all networks).
pub fn nfe_to_reach(rows: &[ConfigRow], method: Method, score: &str, level: f64) -> Option<usize> {
    rows.iter()
        .filter(|r| r.method == method && r.scores.get(score) <= level)
        .map(|r| r.nfe.latent + r.nfe.decoder + r.nfe.flow)
        .min()
}

/// One quality level and what each method needs to reach it.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeedUp {
    pub score: &'static str,
    pub level: f64,
    pub baseline_ms: f64,
    pub lediflow_ms: f64,
    pub speedup: f64,
    pub baseline_nfe: usize,
    pub lediflow_nfe: usize,
}

/// Speed-ups at the quality levels both methods reach. The levels are the baseline's own
/// scores (each a level it demonstrably reaches), so the best baseline quality is among them.
pub fn speedups(rows: &[ConfigRow], score: &'static str) -> Vec<SpeedUp> {
    let mut levels: Vec<f64> = rows
        .iter()
        .filter(|r| r.method == Method::Baseline)
        .map(|r| r.scores.get(score))
        .filter(|v| v.is_finite())
        .collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    levels
        .into_iter()
        .filter_map(|level| {
            let baseline_ms = time_to_reach(rows, Method::Baseline, score, level)?;
            let lediflow_ms = time_to_reach(rows, Method::LeDiFlow, score, level)?;
            Some(SpeedUp {
                score,
                level,
                baseline_ms,
                lediflow_ms,
                speedup: baseline_ms / lediflow_ms,
                baseline_nfe: nfe_to_reach(rows, Method::Baseline, score, level)?,
                lediflow_nfe: nfe_to_reach(rows, Method::LeDiFlow, score, level)?,
            })
        })
        .collect()
}

fn scores_cells(s: &Scores) -> String {
    format!("{:.4} | {:.3} | {:.3} | {:.3} | {:.2}", s.fd, s.mmd, s.precision, s.recall, s.swd)
}

const SCORE_HEADER: &str = "FD | MMD×1000 | precision | recall | SWD×1000";

/// A table's header row, `lead` columns then the scores, and its separator row.
fn score_table_header(lead: &str) -> String {
    let header = format!("| {lead} | {SCORE_HEADER} |");
    let columns = header.matches('|').count() - 1;
    format!("{header}\n|{}", "---|".repeat(columns))
}

fn probe_rows(rows: &[ProbeRow]) -> impl Iterator<Item = String> + '_ {
    rows.iter().map(|row| format!("| {} | {} |", row.name, scores_cells(&row.scores)))
}

pub fn markdown(report: &EvalReport) -> String {
    let mut md = String::new();
    let mut line = |s: String| {
        md.push_str(&s);
        md.push('\n');
    };
    line(format!(
        "Model `{}` on {}: {} samples per configuration (seeds {}..{}), reference = {} held-out images, \
         batch {}, MMD bandwidth σ = {:.4}; {:.0} s in all.\n",
        report.model,
        report.device,
        report.n,
        report.first_seed,
        report.first_seed + report.n as u64,
        report.reference,
        report.batch,
        report.mmd_bandwidth,
        report.seconds
    ));
    line(format!("Solves: {}.\n", report.solves));
    line("Noise floor and data checks (lower FD/MMD/SWD is better):\n".into());
    line(score_table_header("set"));
    probe_rows(&report.data).for_each(&mut line);
    line(String::new());
    line(score_table_header("method | solver | steps | NFE latent | NFE decoder | NFE flow | ms / image"));
    for r in &report.rows {
        line(format!(
            "| {} | {} | {} | {} | {} | {} | {:.3} | {} |",
            r.method,
            r.solver,
            r.steps,
            r.nfe.latent,
            r.nfe.decoder,
            r.nfe.flow,
            r.ms_per_image,
            scores_cells(&r.scores)
        ));
    }
    for score in QUALITY_SCORES {
        let ups = speedups(&report.rows, score);
        line(String::new());
        line(format!("Speed-up at equal quality, {score} (levels: every baseline result both methods reach):\n"));
        if ups.is_empty() {
            line("LeDiFlow reaches none of the baseline's quality levels.".into());
            continue;
        }
        line(format!("| {score} ≤ | baseline ms / image (NFE) | LeDiFlow ms / image (NFE) | speed-up |"));
        line("|---|---|---|---|".into());
        for u in &ups {
            line(format!(
                "| {:.4} | {:.3} ({}) | {:.3} ({}) | {:.2}× |",
                u.level, u.baseline_ms, u.baseline_nfe, u.lediflow_ms, u.lediflow_nfe, u.speedup
            ));
        }
    }
    if !report.stages.is_empty() {
        line(String::new());
        line("Per-stage probes of LeDiFlow (which network limits quality):\n".into());
        line(score_table_header("stage"));
        probe_rows(&report.stages).for_each(&mut line);
    }
    if !report.inpainting.is_empty() {
        line(String::new());
        line("Inpainting of held-out images (Heun):\n".into());
        line(score_table_header("method | mask | steps | masked PSNR dB"));
        for r in &report.inpainting {
            line(format!(
                "| {} | {} | {} | {:.2} | {} |",
                r.method,
                r.mask,
                r.steps,
                r.masked_psnr,
                scores_cells(&r.scores)
            ));
        }
    }
    if !report.interpolation.is_empty() {
        line(String::new());
        line("Interpolation smoothness, 16 frames per seed pair (embedding distances; Heun):\n".into());
        line("| method | steps | path length | path / direct distance | largest jump / mean jump |".into());
        line("|---|---|---|---|---|".into());
        for r in &report.interpolation {
            line(format!(
                "| {} | {} | {:.4} | {:.3} | {:.3} |",
                r.method, r.steps, r.path_length, r.path_ratio, r.max_jump_ratio
            ));
        }
    }
    md
}

pub fn csv(report: &EvalReport) -> String {
    let mut out =
        String::from("method,solver,steps,nfe_latent,nfe_decoder,nfe_flow,ms_per_image,fd,mmd,precision,recall,swd\n");
    for r in &report.rows {
        let s = &r.scores;
        out.push_str(&format!(
            "{},{},{},{},{},{},{:.5},{:.6},{:.5},{:.5},{:.5},{:.5}\n",
            r.method,
            r.solver,
            r.steps,
            r.nfe.latent,
            r.nfe.decoder,
            r.nfe.flow,
            r.ms_per_image,
            s.fd,
            s.mmd,
            s.precision,
            s.recall,
            s.swd
        ));
    }
    out
}

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn register_font() {
    // Idempotent: registering again replaces the same font.
    let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Plots `score` against NFE (all networks) or wall-clock, one curve per method and solver,
/// log-scaled on both axes, as a PNG.
pub fn plot(report: &EvalReport, score: &str, against_time: bool, path: &Path) -> Result<(), EvalError> {
    register_font();
    let (w, h) = (900u32, 600u32);
    let mut buffer = vec![0u8; (w * h * 3) as usize];
    let x_of =
        |r: &ConfigRow| if against_time { r.ms_per_image } else { (r.nfe.latent + r.nfe.decoder + r.nfe.flow) as f64 };
    let points: Vec<(f64, f64)> = report
        .rows
        .iter()
        .map(|r| (x_of(r), r.scores.get(score)))
        .filter(|(x, y)| *x > 0.0 && *y > 0.0 && y.is_finite())
        .collect();
    if points.is_empty() {
        return Err(EvalError::Invalid(format!("no positive {score} values to plot")));
    }
    let (xmin, xmax) = points.iter().fold((f64::MAX, f64::MIN), |(a, b), (x, _)| (a.min(*x), b.max(*x)));
    let (ymin, ymax) = points.iter().fold((f64::MAX, f64::MIN), |(a, b), (_, y)| (a.min(*y), b.max(*y)));
    let mut draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = BitMapBackend::with_buffer(&mut buffer, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        let x_label = if against_time { "wall-clock ms per image (whole chain)" } else { "NFE (all networks)" };
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{score} vs {x_label} ({} samples, {})", report.n, report.device), ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d((xmin * 0.8..xmax * 1.25).log_scale(), (ymin * 0.8..ymax * 1.25).log_scale())?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(format!("{score} (lower is better)"))
            .label_style(("sans-serif", 14))
            .draw()?;
        let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        for r in &report.rows {
            let name = format!("{} {}", r.method, r.solver);
            let point = (x_of(r), r.scores.get(score));
            match series.iter_mut().find(|(n, _)| *n == name) {
                Some((_, pts)) => pts.push(point),
                None => series.push((name, vec![point])),
            }
        }
        for (i, (name, mut pts)) in series.into_iter().enumerate() {
            pts.retain(|(x, y)| *x > 0.0 && *y > 0.0 && y.is_finite());
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let color = COLORS[i % COLORS.len()];
            let dashed = name.starts_with("baseline");
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(if dashed { 1 } else { 3 })))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3)));
            chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 4, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| EvalError::Invalid(format!("plotting {score}: {e}")))?;
    let image = image::RgbImage::from_raw(w, h, buffer).ok_or_else(|| EvalError::Invalid("plot buffer".into()))?;
    image.save(path).map_err(|e| EvalError::io(path, e))
}

/// Writes `report.md`, `results.csv`, `report.json` and the plots into `dir`.
pub fn write_all(report: &EvalReport, dir: &Path) -> Result<Vec<std::path::PathBuf>, EvalError> {
    std::fs::create_dir_all(dir).map_err(|e| EvalError::io(dir, e))?;
    let mut written = Vec::new();
    let mut write = |name: &str, text: String| -> Result<(), EvalError> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| EvalError::io(&path, e))?;
        written.push(path);
        Ok(())
    };
    write("report.md", markdown(report))?;
    write("results.csv", csv(report))?;
    write("report.json", serde_json::to_string_pretty(report).map_err(|e| EvalError::Invalid(e.to_string()))?)?;
    for score in QUALITY_SCORES {
        for (suffix, against_time) in [("nfe", false), ("time", true)] {
            let path = dir.join(format!("{score}-vs-{suffix}.png"));
            plot(report, score, against_time, &path)?;
            written.push(path);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lediflow_core::pipeline::Nfe;
    use lediflow_core::solvers::Solver;

    fn row(method: Method, steps: usize, ms: f64, fd: f64) -> ConfigRow {
        ConfigRow {
            method,
            solver: Solver::Heun,
            steps,
            nfe: Nfe { flow: 2 * steps, ..Nfe::default() },
            ms_per_image: ms,
            scores: Scores { fd, mmd: fd * 10.0, precision: 0.5, recall: 0.5, swd: fd * 100.0 },
        }
    }

    fn report(rows: Vec<ConfigRow>) -> EvalReport {
        EvalReport {
            model: "m".into(),
            device: "cpu".into(),
            n: 10,
            first_seed: 2000,
            reference: 20,
            batch: 5,
            mmd_bandwidth: 1.0,
            solves: "LeDiFlow's latent sampler midpoint × 4 on the time grid (i/n)^1.25".into(),
            data: vec![],
            rows,
            stages: vec![],
            inpainting: vec![],
            interpolation: vec![],
            seconds: 1.0,
        }
    }

    #[test]
    fn speed_up_is_the_ratio_of_times_to_reach_each_baseline_level() {
        let rows = vec![
            row(Method::Baseline, 2, 2.0, 0.9),
            row(Method::Baseline, 8, 8.0, 0.3),
            row(Method::Baseline, 32, 32.0, 0.1),
            row(Method::LeDiFlow, 1, 1.0, 0.35),
            row(Method::LeDiFlow, 2, 2.0, 0.2),
            row(Method::LeDiFlow, 8, 8.0, 0.15),
        ];
        let ups = speedups(&rows, "fd");
        // Level 0.1: LeDiFlow never gets there. Level 0.3: 8 ms vs 2 ms. Level 0.9: 2 ms vs 1 ms.
        assert_eq!(ups.len(), 2);
        assert_eq!((ups[0].level, ups[0].baseline_ms, ups[0].lediflow_ms), (0.3, 8.0, 2.0));
        assert!((ups[0].speedup - 4.0).abs() < 1e-12);
        assert_eq!((ups[1].level, ups[1].speedup), (0.9, 2.0));
        assert_eq!((ups[0].baseline_nfe, ups[0].lediflow_nfe), (16, 4));
        assert_eq!(time_to_reach(&rows, Method::LeDiFlow, "fd", 0.1), None);
    }

    #[test]
    fn the_report_writes_its_table_csv_and_plots() {
        let r = report(vec![
            row(Method::Baseline, 2, 2.0, 0.9),
            row(Method::Baseline, 8, 8.0, 0.3),
            row(Method::LeDiFlow, 2, 2.0, 0.2),
        ]);
        let md = markdown(&r);
        assert!(md.contains("| lediflow | heun | 2 |") && md.contains("4.00×"), "{md}");
        assert!(md.contains("(seeds 2000..2010)"), "the seeds sampled, not 0..n: {md}");
        assert!(md.contains("Solves: LeDiFlow's latent sampler midpoint × 4 on the time grid (i/n)^1.25."), "{md}");
        assert_eq!(csv(&r).lines().count(), 4);
        let dir = tempfile::tempdir().expect("tempdir");
        let written = write_all(&r, dir.path()).expect("write");
        assert_eq!(written.len(), 3 + 2 * QUALITY_SCORES.len());
        let plot = image::open(dir.path().join("fd-vs-time.png")).expect("a PNG").to_rgb8();
        let inked = plot.pixels().filter(|p| p.0 != [255, 255, 255]).count();
        assert!(inked > 5_000, "the plot has axes, text and curves ({inked} non-white pixels)");
    }
}
