//! Sets `cfg(wgsl_only)` for the browser's WebGPU module (wasm, `webgpu` without `cpu`): every
//! device there runs our WGSL, so burn's matmul is not linked (`kernels::matmul` says why).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(wgsl_only)");
    let wasm = std::env::var("CARGO_CFG_TARGET_FAMILY").is_ok_and(|f| f.split(',').any(|f| f == "wasm"));
    let feature = |name: &str| std::env::var_os(format!("CARGO_FEATURE_{name}")).is_some();
    if wasm && feature("WEBGPU") && !feature("CPU") {
        println!("cargo::rustc-cfg=wgsl_only");
    }
}
