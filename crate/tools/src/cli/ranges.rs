//! Value ranges of the command line's numbers, so that clap refuses an out-of-range value with
//! a message naming the option before any command allocates or divides by it.

use clap::builder::TypedValueParser;

/// Largest seed: 2^53 − 1, the largest integer JavaScript holds exactly, as in the browser API;
/// a run of `n` seeds from here cannot overflow a u64.
pub const MAX_SEED: u64 = (1 << 53) - 1;
/// Most images one `sample` call draws (one batch, held in memory).
pub const MAX_SAMPLES: u32 = 1024;
/// Most solver steps of one integration.
pub const MAX_STEPS: u32 = 1000;
/// Largest number of images of a dataset export, a reference set or an evaluation.
pub const MAX_IMAGES: u64 = 100_000_000;

/// A count (held in a `usize`) in `min..=max`.
pub fn count(min: u32, max: u32) -> impl TypedValueParser<Value = usize> {
    clap::value_parser!(u32).range(i64::from(min)..=i64::from(max)).map(|v| v as usize)
}

/// A seed in `0..=`[`MAX_SEED`].
pub fn seed() -> impl TypedValueParser<Value = u64> {
    clap::value_parser!(u64).range(0..=MAX_SEED)
}

/// A whole number (u64) in `min..=max`.
pub fn whole(min: u64, max: u64) -> impl TypedValueParser<Value = u64> {
    clap::value_parser!(u64).range(min..=max)
}

fn finite_in(text: &str, min: f64, max: f64, min_open: bool) -> Result<f64, String> {
    let value: f64 = text.trim().parse().map_err(|_| format!("'{text}' is not a number"))?;
    let above = if min_open { value > min } else { value >= min };
    if value.is_finite() && above && value <= max {
        Ok(value)
    } else {
        let open = if min_open { "(" } else { "[" };
        Err(format!("{value} is outside {open}{min}, {max}]"))
    }
}

/// A time grid's power ([`lediflow_core::pipeline::SampleOptions::TIME_POWERS`]).
pub fn time_power(text: &str) -> Result<f64, String> {
    let range = lediflow_core::pipeline::SampleOptions::TIME_POWERS;
    finite_in(text, *range.start(), *range.end(), false)
}

/// The latent sampler's temperature ([`lediflow_core::pipeline::SampleOptions::LATENT_TEMPERATURES`]).
pub fn latent_temperature(text: &str) -> Result<f64, String> {
    let range = lediflow_core::pipeline::SampleOptions::LATENT_TEMPERATURES;
    finite_in(text, *range.start(), *range.end(), false)
}

/// Seconds a step may stall: 0 (wait forever) up to a week.
pub fn step_timeout(text: &str) -> Result<f64, String> {
    finite_in(text, 0.0, 7.0 * 24.0 * 3600.0, false)
}

/// A time budget in minutes: above 0, up to a year.
pub fn minutes(text: &str) -> Result<f64, String> {
    finite_in(text, 0.0, 365.0 * 24.0 * 60.0, true)
}

/// A learning rate: above 0, at most 1.
pub fn learning_rate(text: &str) -> Result<f64, String> {
    finite_in(text, 0.0, 1.0, true)
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use clap::error::ErrorKind;

    use super::super::Cli;

    fn parse(args: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("lediflow").chain(args.split_whitespace()))
    }

    #[test]
    fn hostile_numbers_are_refused_by_clap_naming_the_option() {
        let hostile = [
            ("sample --seed 18446744073709551615", "--seed"),
            ("sample --n 10000000000", "--n"),
            ("sample --n 0", "--n"),
            ("sample --steps 0", "--steps"),
            ("sample --latent-steps 100000", "--latent-steps"),
            ("sample --latent-time-power 0.1", "--latent-time-power"),
            ("sample --time-power 0", "--time-power"),
            ("eval --model m --time-power inf", "--time-power"),
            ("eval --model m --latent-time-power NaN", "--latent-time-power"),
            ("bench --model m --latent-time-power 5", "--latent-time-power"),
            ("train --run r --batch 0", "--batch"),
            ("train --run r --step-timeout 1e30", "--step-timeout"),
            ("train --run r --step-timeout NaN", "--step-timeout"),
            ("train --run r --step-timeout=-1", "--step-timeout"),
            ("train --run r --minutes=-1", "--minutes"),
            ("train --run r --minutes inf", "--minutes"),
            ("train --run r --lr inf", "--lr"),
            ("train --run r --devices 0", "--devices"),
            ("train --run r --checkpoint-every 0", "--checkpoint-every"),
            ("train --run r --seed 18446744073709551615", "--seed"),
            ("dataset preview --n 4294967295", "--n"),
            ("dataset preview --size 100000", "--size"),
            ("dataset export --n 0 --out o", "--n"),
            ("bench --model m --steps 1,0", "--steps"),
            ("bench --model m --batch 0", "--batch"),
            ("bench-load --model m --repeats 0", "--repeats"),
            ("eval --model m --batch 0", "--batch"),
            ("eval --model m --n 1", "--n"),
            ("eval-net --lr 0", "--lr"),
            ("export --out o --check-samples 100000", "--check-samples"),
        ];
        for (args, option) in hostile {
            let error = match parse(args) {
                Ok(cli) => panic!("`{args}` was accepted: {cli:?}"),
                Err(e) => e,
            };
            assert_eq!(error.kind(), ErrorKind::ValueValidation, "`{args}`: {error}");
            assert!(error.to_string().contains(option), "`{args}`: {error}");
        }
    }

    #[test]
    fn the_defaults_and_the_bounds_themselves_are_accepted() {
        for args in [
            "sample",
            "sample --seed 9007199254740991 --n 1024",
            "sample --latent-solver midpoint --latent-steps 4 --latent-time-power 1.25",
            "sample --latent-time-power 0.25 --time-power 0.25",
            "sample --latent-time-power 4 --time-power 4",
            "train --run r",
            "train --run r --step-timeout 0 --batch 1",
            "dataset preview --n 1024",
            "dataset export --n 1 --out o",
            "eval --model m",
            "eval-net",
            "bench --model m",
        ] {
            parse(args).unwrap_or_else(|e| panic!("`{args}`: {e}"));
        }
    }
}
