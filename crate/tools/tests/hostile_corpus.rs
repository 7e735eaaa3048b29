//! Issue 24's goal for the CLI: over a corpus of hostile configurations, weight files, images and
//! arguments, the real `lediflow` binary exits with an error that names the problem: no panic, no
//! abort or other signal, no time-out, and at most 100 MB peak memory (the child's `ru_maxrss`).
//!
//! Every case runs in a process of its own, several at a time. The summary (cases, largest peak
//! memory, slowest case) is printed with `--nocapture` and recorded in BENCHMARKS.md.

#![cfg(unix)]

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lediflow_core::model::LeDiFlowConfig;
use serde_json::{Value, json};

/// A case that takes longer than this is killed and fails.
const TIMEOUT: Duration = Duration::from_secs(20);
/// The peak resident memory any rejected input may cost.
const MAX_PEAK_BYTES: u64 = 100 << 20;

struct Case {
    name: String,
    args: Vec<OsString>,
    /// A substring the error must contain (case-insensitively): what names the problem.
    expect: String,
}

fn case(name: impl Into<String>, args: &[&dyn AsRef<std::ffi::OsStr>], expect: &str) -> Case {
    Case {
        name: name.into(),
        args: args.iter().map(|a| a.as_ref().to_os_string()).collect(),
        expect: expect.to_string(),
    }
}

struct Outcome {
    code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    /// The binary's peak resident memory.
    peak_bytes: u64,
    /// What the launcher held when it started the binary, which the binary's peak includes.
    floor_bytes: u64,
    seconds: f64,
    stderr: String,
}

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_lediflow")
}

/// Set in the environment of this test binary when it runs as [`launcher`]: the arguments of
/// `lediflow`, separated by [`SEPARATOR`].
const LAUNCH_ENV: &str = "LEDIFLOW_HOSTILE_LAUNCH";
const SEPARATOR: char = '\u{1f}';
const RESULT: &str = "HOSTILE_RESULT";

/// The peak memory of a process includes that of the process that forked it (Linux carries the
/// forking memory map's high-water mark across `execve`): spawned from this test, which holds
/// the corpus, every case would read as the test's size. So each case is launched by a fresh
/// copy of this test binary running only [`launcher`], a few MB, which spawns `lediflow`, reaps it
/// with `wait4` for its `ru_maxrss`, kills it at [`TIMEOUT`], and prints the outcome.
fn run(dir: &Path, args: &[OsString]) -> Outcome {
    let joined: Vec<String> = args.iter().map(|a| a.to_str().expect("UTF-8 arguments").to_string()).collect();
    let start = Instant::now();
    let mut child = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["launcher", "--exact", "--nocapture", "--test-threads", "1"])
        .env(LAUNCH_ENV, joined.join(&SEPARATOR.to_string()))
        .env("RUST_BACKTRACE", "0")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the launcher");
    let bounded = |pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            // A bounded read: a runaway writer must not fill the test's memory either.
            let mut pipe = pipe;
            let mut bytes = Vec::new();
            let _ = (&mut pipe).take(1 << 20).read_to_end(&mut bytes);
            let _ = std::io::copy(&mut pipe, &mut std::io::sink());
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = bounded(Box::new(child.stdout.take().expect("stdout")));
    let stderr = bounded(Box::new(child.stderr.take().expect("stderr")));
    // The launcher enforces TIMEOUT itself; this only guards against the launcher hanging.
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the launcher") {
            break status;
        }
        if start.elapsed() > TIMEOUT + Duration::from_secs(30) {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let seconds = start.elapsed().as_secs_f64();
    let stdout = stdout.join().expect("stdout reader");
    let stderr = stderr.join().expect("stderr reader");
    let line = stdout
        .lines()
        .find_map(|l| l.split_once(RESULT).map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("the launcher of {args:?} reported nothing ({status}):\n{stdout}\n{stderr}"));
    let fields: Vec<i64> = line.split_whitespace().map(|f| f.parse().expect("a number")).collect();
    let [code, signal, timed_out, peak_kb, floor_kb] = fields[..] else { panic!("launcher said {line:?}") };
    // Linux reports kilobytes, macOS bytes.
    let unit = if cfg!(target_os = "macos") { 1 } else { 1024 };
    Outcome {
        code: (code >= 0).then_some(code as i32),
        signal: (signal >= 0).then_some(signal as i32),
        timed_out: timed_out != 0,
        peak_bytes: peak_kb as u64 * unit,
        floor_bytes: floor_kb as u64 * 1024,
        seconds,
        stderr,
    }
}

/// Not a test of its own: the process that [`run`] starts for each case (with [`LAUNCH_ENV`]
/// set; without it, this returns at once).
#[test]
fn launcher() {
    let Some(args) = std::env::var_os(LAUNCH_ENV) else { return };
    let args = args.into_string().expect("UTF-8 arguments");
    let args: Vec<&str> = if args.is_empty() { vec![] } else { args.split(SEPARATOR).collect() };
    // This process's own memory map's high-water mark, which the binary's peak includes (the
    // process's `ru_maxrss` would say more: it carries that of the test that spawned it).
    let floor_kb: u64 = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().trim_end_matches("kB").trim().parse().ok()))?
        })
        .unwrap_or(0);
    let start = Instant::now();
    let mut child = Command::new(binary())
        .args(&args)
        .env_remove(LAUNCH_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn lediflow");
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut timed_out = false;
    loop {
        // SAFETY: `pid` is our child, not yet reaped (std never waits for it: `child` is only
        // used to kill it before this loop reaps it); `status` and `usage` are valid pointers.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(reaped >= 0, "wait4: {}", std::io::Error::last_os_error());
        if reaped == pid {
            break;
        }
        if !timed_out && start.elapsed() > TIMEOUT {
            timed_out = true;
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let (code, signal) = if libc::WIFEXITED(status) {
        (libc::WEXITSTATUS(status), -1)
    } else if libc::WIFSIGNALED(status) {
        (-1, libc::WTERMSIG(status))
    } else {
        (-1, -1)
    };
    println!("{RESULT} {code} {signal} {} {} {}", i32::from(timed_out), usage.ru_maxrss, floor_kb);
    std::process::exit(0);
}

// ---- The corpus ----------------------------------------------------------------------------------

fn write(path: &Path, bytes: impl AsRef<[u8]>) -> PathBuf {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path.to_path_buf()
}

/// Sets the value at a `/`-separated path (object keys and array indices) of `value`.
fn set(value: &mut Value, path: &str, new: Value) {
    let target = value.pointer_mut(&format!("/{path}")).unwrap_or_else(|| panic!("no /{path} in the config"));
    *target = new;
}

/// A `.ldf` file split into its header (JSON) and data buffer (docs/FORMAT.md §1).
struct Ldf {
    header: serde_json::Map<String, Value>,
    data: Vec<u8>,
}

impl Ldf {
    fn parse(bytes: &[u8]) -> Ldf {
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header = serde_json::from_slice(&bytes[8..8 + n]).expect("the exported header");
        Ldf { header, data: bytes[8 + n..].to_vec() }
    }

    fn metadata(&mut self) -> &mut serde_json::Map<String, Value> {
        self.header.get_mut("__metadata__").and_then(Value::as_object_mut).expect("__metadata__")
    }

    fn metadata_string(&mut self, key: &str) -> String {
        self.metadata()[key].as_str().expect("a string").to_string()
    }

    /// Replaces the configuration and recomputes `meta_sha256`, so that only validation can
    /// refuse it (the data and its hash are untouched).
    fn with_config(mut self, config: &Value) -> Ldf {
        let config = serde_json::to_string(config).unwrap();
        self.metadata().insert("config".into(), Value::String(config));
        self.with_config_hash_of_text()
    }

    /// The file with `header_text` as its header (padded so that the data starts 8-aligned).
    fn bytes_with_header(&self, header_text: &str) -> Vec<u8> {
        let mut header = header_text.as_bytes().to_vec();
        while (8 + header.len()) % 8 != 0 {
            header.push(b' ');
        }
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.data);
        out
    }

    fn bytes(&self) -> Vec<u8> {
        self.bytes_with_header(&serde_json::to_string(&self.header).unwrap())
    }

    /// The name of the first physical tensor (in key order).
    fn first_tensor(&self) -> String {
        self.header.keys().find(|k| *k != "__metadata__").expect("a tensor").clone()
    }
}

/// Degenerate or oversized configurations (issue 24's table and more): (name, edit, expected).
fn degenerate_configs(tiny: &Value) -> Vec<(&'static str, Value, &'static str)> {
    let edit = |path: &str, new: Value| {
        let mut c = tiny.clone();
        set(&mut c, path, new);
        c
    };
    vec![
        ("latent_downsample-0", edit("latent_downsample", json!(0)), "latent_downsample"),
        ("decoder_z_upsample-0", edit("decoder_z_upsample", json!(0)), "decoder_z_upsample"),
        ("flow-patch_in-0", edit("flow/patch_in", json!(0)), "flow.patch_in"),
        ("encoder-patch_in-0", edit("encoder/patch_in", json!(0)), "encoder.patch_in"),
        ("window-size-0", edit("flow/levels/0/attention/size", json!(0)), "attention.size"),
        ("levels-empty", edit("flow/levels", json!([])), "flow.levels"),
        ("d_head-0", edit("latent_sampler/levels/0/d_head", json!(0)), "d_head"),
        ("d_head-not-dividing", edit("flow/levels/0/d_head", json!(7)), "flow.levels[0].width"),
        ("d_ff-0", edit("decoder/levels/0/d_ff", json!(0)), "d_ff"),
        ("latent_channels-0", edit("latent_channels", json!(0)), "latent_channels"),
        ("patch_out-2^62", edit("flow/patch_out", json!(1u64 << 62)), "flow.patch_out"),
        ("image_size-0", edit("image_size", json!(0)), "image_size"),
        ("image_size-2^32", edit("image_size", json!(1u64 << 32)), "image_size"),
        ("image_size-4096", edit("image_size", json!(4096)), "image_size"),
        ("image_size-2^20", edit("image_size", json!(1u64 << 20)), "image_size"),
        ("image_size-2048", edit("image_size", json!(2048)), "activations"),
        ("image_size-not-divisible", edit("image_size", json!(36)), "image side"),
        ("depth-1e5", edit("flow/levels/0/depth", json!(100_000)), "depth"),
        ("depth-1e6", edit("flow/levels/1/depth", json!(1_000_000)), "depth"),
        ("depth-1e9", edit("encoder/levels/0/depth", json!(1_000_000_000)), "depth"),
        ("width-1e9", edit("flow/levels/0/width", json!(1_000_000_000)), "width"),
        ("mapping-width-odd", edit("flow/mapping/width", json!(63)), "flow.mapping.width"),
        ("mapping-removed", edit("flow/mapping", Value::Null), "flow.mapping"),
        ("channels-mismatch", edit("decoder/out_channels", json!(5)), "decoder.out_channels"),
        (
            "parameters-over-bound",
            {
                let mut c = edit("flow/levels/1/width", json!(4096));
                set(&mut c, "flow/levels/1/d_ff", json!(16384));
                set(&mut c, "flow/levels/1/depth", json!(4));
                c
            },
            "parameters",
        ),
        ("log_var-inverted", edit("loss/log_var_min", json!(10.0)), "loss.log_var_min"),
        ("sigma_lo-negative", edit("loss/sigma_lo", json!(-1.0)), "loss.sigma_lo"),
        ("depth-negative", edit("flow/levels/0/depth", json!(-1)), "invalid value"),
        ("depth-float-1e30", edit("flow/levels/0/depth", json!(1e30)), "invalid type"),
        ("width-2^64", edit("flow/levels/0/width", json!(u64::MAX)), "width"),
        ("unknown-attention", edit("flow/levels/0/attention", json!({"kind": "sparse"})), "unknown variant"),
    ]
}

struct Corpus {
    cases: Vec<Case>,
    /// Kept alive until the corpus has run.
    _dir: tempfile::TempDir,
}

fn corpus() -> Corpus {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let p = |name: &str| dir.join(name);
    let mut cases = Vec::new();

    // A valid file to damage: the tiny model, f32.
    let valid = p("valid.ldf");
    let export = Command::new(binary())
        .args(["export", "--untrained", "tiny", "--quant", "f32", "--check-samples", "0", "--out"])
        .arg(&valid)
        .output()
        .expect("run export");
    assert!(export.status.success(), "export: {}", String::from_utf8_lossy(&export.stderr));
    let valid_bytes = std::fs::read(&valid).unwrap();
    let tiny = serde_json::to_value(LeDiFlowConfig::tiny()).unwrap();

    // Degenerate configurations: as `--config` of `info` and `sample`, and in a weight file whose
    // hashes are right.
    for (name, config, expect) in degenerate_configs(&tiny) {
        let json_file = write(&p(&format!("{name}.json")), serde_json::to_string(&config).unwrap());
        cases.push(case(format!("info --config {name}"), &[&"info", &"--config", &json_file], expect));
        cases.push(case(
            format!("sample --config {name}"),
            &[&"sample", &"--config", &json_file, &"--n", &"1", &"--steps", &"1"],
            expect,
        ));
        let ldf = write(&p(&format!("{name}.ldf")), Ldf::parse(&valid_bytes).with_config(&config).bytes());
        cases.push(case(format!("sample --model {name}.ldf"), &[&"sample", &"--model", &ldf, &"--n", &"1"], expect));
    }
    // A valid configuration that is not the one the tensors were written for.
    let mut wider = tiny.clone();
    set(&mut wider, "flow/levels/0/width", json!(64));
    let ldf = write(&p("other-shapes.ldf"), Ldf::parse(&valid_bytes).with_config(&wider).bytes());
    cases.push(case("sample --model other-shapes.ldf", &[&"sample", &"--model", &ldf], "has shape"));
    // A valid configuration of about 60 M parameters (240 MB of f32) in a 2.6 MB file of the
    // tiny model's tensors.
    let mut large = tiny.clone();
    set(&mut large, "flow/levels/1/width", json!(1536));
    set(&mut large, "flow/levels/1/d_ff", json!(4096));
    set(&mut large, "flow/levels/1/d_head", json!(64));
    let ldf = write(&p("large-config.ldf"), Ldf::parse(&valid_bytes).with_config(&large).bytes());
    cases.push(case("sample --model large-config.ldf", &[&"sample", &"--model", &ldf], "has shape"));
    // The same configuration in a file holding only the encoder, which fits it.
    let encoder_only = p("encoder-only.ldf");
    let export = Command::new(binary())
        .args(["export", "--untrained", "tiny", "--quant", "f32", "--check-samples", "0", "--networks", "encoder"])
        .arg("--out")
        .arg(&encoder_only)
        .output()
        .expect("run export");
    assert!(export.status.success(), "export: {}", String::from_utf8_lossy(&export.stderr));
    let bytes = Ldf::parse(&std::fs::read(&encoder_only).unwrap()).with_config(&large).bytes();
    let ldf = write(&p("encoder-only-large-config.ldf"), bytes);
    cases.push(case("sample --model encoder-only-large-config.ldf", &[&"sample", &"--model", &ldf], "latent"));

    // Configuration files that are not configurations.
    let missing = p("missing.json");
    cases.push(case("info --config missing file", &[&"info", &"--config", &missing], "neither a shipped"));
    let empty = write(&p("empty.json"), "");
    cases.push(case("info --config empty file", &[&"info", &"--config", &empty], "invalid configuration"));
    let not_json = write(&p("not.json"), "{\"image_size\": 32,");
    cases.push(case("info --config truncated JSON", &[&"info", &"--config", &not_json], "invalid configuration"));
    let huge = write(&p("huge.json"), vec![b' '; (1 << 20) + 10]);
    cases.push(case("info --config 1 MiB file", &[&"info", &"--config", &huge], "larger than"));
    let binary_file = write(&p("binary.json"), [0xffu8, 0xfe, 0, 1, 2]);
    cases.push(case("info --config binary file", &[&"info", &"--config", &binary_file], "binary.json"));
    cases.push(case("info --config a directory", &[&"info", &"--config", &dir], "neither a shipped"));

    // Malformed weight files.
    let ldf_cases: Vec<(&str, Vec<u8>, &str)> = {
        let n = u64::from_le_bytes(valid_bytes[..8].try_into().unwrap()) as usize;
        let with_len = |len: u64| {
            let mut b = valid_bytes.clone();
            b[..8].copy_from_slice(&len.to_le_bytes());
            b
        };
        // The header read one byte long takes in the first data byte: a random weight's low byte,
        // which is JSON whitespace about once in 64 exports and then parses. Made a letter, so
        // that the case is the length alone (seen in CI: a space there, and the error was a
        // misaligned tensor's, not the header's).
        let one_too_long = {
            let mut b = with_len(n as u64 + 1);
            b[8 + n] = b'x';
            b
        };
        let flip = |at: usize| {
            let mut b = valid_bytes.clone();
            b[at] ^= 0x01;
            b
        };
        let mut wrong_dtype = Ldf::parse(&valid_bytes);
        let first = wrong_dtype.first_tensor();
        wrong_dtype.header[&first]["dtype"] = json!("F64");
        let mut narrower_dtype = Ldf::parse(&valid_bytes);
        narrower_dtype.header[&first]["dtype"] = json!("F16");
        let mut huge_shape = Ldf::parse(&valid_bytes);
        huge_shape.header[&first]["shape"] = json!([u64::MAX, u64::MAX]);
        let duplicate = {
            let ldf = Ldf::parse(&valid_bytes);
            let text = serde_json::to_string(&ldf.header).unwrap();
            let entry = serde_json::to_string(&ldf.header[&first]).unwrap();
            ldf.bytes_with_header(&text.replacen('{', &format!("{{\"{first}\":{entry},"), 1))
        };
        let mut foreign = Ldf::parse(&valid_bytes);
        foreign.metadata().insert("format".into(), json!("safetensors"));
        let mut version = Ldf::parse(&valid_bytes);
        version.metadata().insert("format_version".into(), json!("2"));
        let mut unhashed = Ldf::parse(&valid_bytes);
        let mut config: Value = serde_json::from_str(&unhashed.metadata_string("config")).unwrap();
        set(&mut config, "latent_downsample", json!(0));
        unhashed.metadata().insert("config".into(), Value::String(config.to_string()));
        let mut config_not_json = Ldf::parse(&valid_bytes);
        config_not_json.metadata().insert("config".into(), json!("{not json"));
        vec![
            ("empty", vec![], "truncated"),
            ("4 bytes", valid_bytes[..4].to_vec(), "truncated"),
            ("truncated in the header", valid_bytes[..8 + n / 2].to_vec(), "truncated"),
            ("truncated in the data", valid_bytes[..valid_bytes.len() / 2].to_vec(), "truncated"),
            ("one byte short", valid_bytes[..valid_bytes.len() - 1].to_vec(), "truncated"),
            ("trailing byte", [valid_bytes.as_slice(), &[0]].concat(), "trailing"),
            ("header length u64::MAX", with_len(u64::MAX), "header"),
            ("header length 2^40", with_len(1 << 40), "header"),
            ("header length 16 MiB + 8", with_len((16 << 20) + 8), "header"),
            ("header length 0", with_len(0), "header"),
            ("header length 1 too long", one_too_long, "json"),
            ("bad JSON header", Ldf::parse(&valid_bytes).bytes_with_header("{\"__metadata__\": {"), "json"),
            ("header not an object", Ldf::parse(&valid_bytes).bytes_with_header("[1, 2, 3]"), "json"),
            ("unknown dtype", wrong_dtype.bytes(), "dtype"),
            ("wrong dtype", narrower_dtype.bytes(), "offsets"),
            ("shape 2^64 × 2^64", huge_shape.bytes(), "shape"),
            ("duplicate tensor", duplicate, "duplicate"),
            ("not lediflow", foreign.bytes(), "lediflow"),
            ("format version 2", version.bytes(), "version"),
            ("config changed without its hash", unhashed.bytes(), "hash"),
            ("config not JSON", config_not_json.with_config_hash_of_text().bytes(), "config"),
            ("bit flip in the header", flip(8 + n / 3), "header"),
            ("bit flip in the data", flip(8 + n + (valid_bytes.len() - 8 - n) / 2), "hash"),
            ("bit flip in the last byte", flip(valid_bytes.len() - 1), "hash"),
            ("a PNG, not a weight file", png_header(64, 64), "header"),
        ]
    };
    for (name, bytes, expect) in ldf_cases {
        let file = write(&p(&format!("{}.ldf", name.replace(' ', "-"))), bytes);
        cases.push(case(format!("sample --model {name}"), &[&"sample", &"--model", &file, &"--n", &"1"], expect));
    }
    cases.push(case("sample --model missing file", &[&"sample", &"--model", &p("none.ldf")], "none.ldf"));
    let empty_dir = p("empty-dir");
    std::fs::create_dir(&empty_dir).unwrap();
    cases.push(case("sample --model empty directory", &[&"sample", &"--model", &empty_dir], "model.ldf"));
    let truncated = p("truncated-in-the-data.ldf");
    cases.push(case("bench-load --model truncated", &[&"bench-load", &"--model", &truncated], "truncated"));
    cases.push(case("export --run truncated", &[&"export", &"--run", &truncated, &"--out", &p("x.ldf")], "truncated"));
    let depth = p("depth-1e9.ldf");
    cases.push(case("bench --model depth-1e9", &[&"bench", &"--model", &depth], "depth"));
    cases.push(case("eval --model depth-1e9", &[&"eval", &"--model", &depth], "depth"));

    // Numbers on the command line (clap's ranges name the option).
    let numbers: &[(&[&str], &str)] = &[
        (&["sample", "--seed", "18446744073709551615"], "--seed"),
        (&["sample", "--seed", "9007199254740992"], "--seed"),
        (&["sample", "--seed", "-1"], "'-1'"),
        (&["sample", "--n", "10000000000"], "--n"),
        (&["sample", "--n", "0"], "--n"),
        (&["sample", "--n", "NaN"], "--n"),
        (&["sample", "--steps", "0"], "--steps"),
        (&["sample", "--steps", "4294967296"], "--steps"),
        (&["sample", "--latent-steps", "100000"], "--latent-steps"),
        (&["sample", "--solver", "rk99"], "solver"),
        (&["train", "--run", "r", "--batch", "0"], "--batch"),
        (&["train", "--run", "r", "--step-timeout", "1e30"], "--step-timeout"),
        (&["train", "--run", "r", "--step-timeout", "NaN"], "--step-timeout"),
        (&["train", "--run", "r", "--step-timeout=-1"], "--step-timeout"),
        (&["train", "--run", "r", "--minutes", "inf"], "--minutes"),
        (&["train", "--run", "r", "--lr", "NaN"], "--lr"),
        (&["train", "--run", "r", "--steps=-1"], "--steps"),
        (&["train", "--run", "r", "--steps", "18446744073709551616"], "--steps"),
        (&["train", "--run", "r", "--devices", "0"], "--devices"),
        (&["train", "--run", "r", "--stage-steps", "flow=-3"], "--stage-steps"),
        (&["dataset", "preview", "--n", "4294967295"], "--n"),
        (&["dataset", "preview", "--size", "100000"], "--size"),
        (&["dataset", "export", "--n", "0", "--out", "o"], "--n"),
        (&["bench", "--model", "m", "--steps", "1,0"], "--steps"),
        (&["eval", "--model", "m", "--n", "1"], "--n"),
        (&["eval-net", "--lr", "0"], "--lr"),
        (&["export", "--out", "o", "--check-samples", "100000"], "--check-samples"),
    ];
    for &(args, expect) in numbers {
        let args: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>).collect();
        let name = args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ");
        cases.push(case(name, &args, expect));
    }

    // Training folders of hostile images.
    let folder = |name: &str, files: &[(&str, Vec<u8>)]| {
        let d = p(name);
        std::fs::create_dir(&d).unwrap();
        for (file, bytes) in files {
            write(&d.join(file), bytes);
        }
        d
    };
    let folders = [
        ("a PNG claiming 20000×20000", folder("huge-png", &[("huge.png", png_header(20000, 20000))]), "too large"),
        ("a PNG claiming 8192×8192, no data", folder("big-png", &[("big.png", png_header(8192, 8192))]), "corrupt"),
        ("a corrupt PNG", folder("corrupt-png", &[("bad.png", corrupt_png())]), "bad.png"),
        ("text named .png", folder("text-png", &[("text.png", b"hello".to_vec())]), "text.png"),
        ("an empty folder", folder("empty-folder", &[]), "no usable"),
    ];
    for (name, data, expect) in folders {
        cases.push(case(
            format!("train --data {name}"),
            &[
                &"train",
                &"--run",
                &p(&format!("run-{}", cases.len())),
                &"--config",
                &"tiny",
                &"--data",
                &data,
                &"--steps",
                &"1",
            ],
            expect,
        ));
    }
    cases.push(case(
        "train --data a missing folder",
        &[
            &"train",
            &"--run",
            &p("run-missing"),
            &"--config",
            &"tiny",
            &"--data",
            &p("no-such-folder"),
            &"--steps",
            &"1",
        ],
        "no-such-folder",
    ));
    let d = p("depth-1e9.json");
    cases.push(case("train --config depth-1e9", &[&"train", &"--run", &p("run-depth"), &"--config", &d], "depth"));
    cases.push(case("export --untrained depth-1e9", &[&"export", &"--untrained", &d, &"--out", &p("y.ldf")], "depth"));

    Corpus { cases, _dir: tmp }
}

impl Ldf {
    /// Recomputes `meta_sha256` over the configuration text as it is (even if not JSON).
    fn with_config_hash_of_text(mut self) -> Ldf {
        let config = self.metadata_string("config");
        let tensors = self.metadata_string("tensors");
        let meta_sha256 = lediflow_format::meta_sha256_hex(&config, &tensors);
        self.metadata().insert("meta_sha256".into(), Value::String(meta_sha256));
        self
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A PNG signature and a valid IHDR claiming `width`×`height` RGB8, an empty IDAT and IEND:
/// a few dozen bytes that claim any size.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"IDAT", &[]);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A 16×16 PNG whose image data is garbage.
fn corrupt_png() -> Vec<u8> {
    let mut out = png_header(16, 16);
    out.truncate(8 + 25);
    png_chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x11]);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

// ---- The test ------------------------------------------------------------------------------------

#[test]
fn every_hostile_input_is_refused_by_a_typed_error_in_bounded_time_and_memory() {
    let corpus = corpus();
    let dir = corpus._dir.path().to_path_buf();
    let cases = &corpus.cases;
    assert!(cases.len() >= 60, "the corpus has only {} cases", cases.len());

    let next = Mutex::new(0usize);
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut next = next.lock().unwrap();
                        let i = *next;
                        *next += 1;
                        i
                    };
                    let Some(case) = cases.get(i) else { break };
                    let outcome = run(&dir, &case.args);
                    results.lock().unwrap().push((i, outcome));
                }
            });
        }
    });
    let wall = start.elapsed().as_secs_f64();
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);

    let mut failures = Vec::new();
    for (i, o) in &results {
        let case = &cases[*i];
        let mut problems = Vec::new();
        if o.timed_out {
            problems.push(format!("timed out after {:?} (killed)", TIMEOUT));
        } else if let Some(signal) = o.signal {
            problems.push(format!("killed by signal {signal} (abort / crash)"));
        } else if o.code == Some(0) {
            problems.push("was accepted (exit code 0)".into());
        }
        if o.stderr.contains("panicked") {
            problems.push("panicked".into());
        }
        if !o.stderr.to_lowercase().contains(&case.expect.to_lowercase()) {
            problems.push(format!("the error does not name the problem ({:?})", case.expect));
        }
        if o.peak_bytes > MAX_PEAK_BYTES {
            problems.push(format!("peak memory {:.1} MB > {} MB", o.peak_bytes as f64 / 1e6, MAX_PEAK_BYTES >> 20));
        }
        if !problems.is_empty() {
            let stderr: String = o.stderr.trim().chars().take(1500).collect();
            failures.push(format!(
                "- {}: {}\n    args: {:?}\n    exit {:?}, signal {:?}, {:.2} s, peak {:.1} MB (launcher {:.1} MB)\n    stderr: {}",
                case.name,
                problems.join("; "),
                case.args,
                o.code,
                o.signal,
                o.seconds,
                o.peak_bytes as f64 / 1e6,
                o.floor_bytes as f64 / 1e6,
                stderr.replace('\n', "\n            ")
            ));
        }
    }

    let (peak_i, peak) = results.iter().max_by_key(|(_, o)| o.peak_bytes).map(|(i, o)| (*i, o.peak_bytes)).unwrap();
    let (slow_i, slow) =
        results.iter().max_by(|a, b| a.1.seconds.total_cmp(&b.1.seconds)).map(|(i, o)| (*i, o.seconds)).unwrap();
    println!(
        "hostile corpus: {} cases, {} failed; {} threads, {:.1} s wall; max peak RSS {:.1} MB ({}); slowest {:.2} s ({})",
        cases.len(),
        failures.len(),
        threads,
        wall,
        peak as f64 / 1e6,
        cases[peak_i].name,
        slow,
        cases[slow_i].name
    );
    if std::env::var_os("HOSTILE_VERBOSE").is_some() {
        for (i, o) in &results {
            let first = o.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
            println!("{:>6.1} MB {:>5.2} s  {:<45} {}", o.peak_bytes as f64 / 1e6, o.seconds, cases[*i].name, first);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} hostile inputs failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
