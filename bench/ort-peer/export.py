#!/usr/bin/env python3
"""Exports the PyTorch twin's networks (bench/pytorch_twin.py) to ONNX for the onnxruntime-web peer
comparison (issue 22, bench/ort-peer/README.md).

For each network it loads the shipped weights (a lediflow `.ldf`, dequantized to f32 by the twin's
`read_ldf`) into the twin's `Backbone` and exports the velocity function v(x, t) with a fixed batch:

    flow    θFM: x [B, 3, 64, 64], t [B] -> v [B, 3, 64, 64]   (config "flow", the s64 flow network)
    latent  θL:  x [B, 4, 8, 8],   t [B] -> v [B, 4, 8, 8]     (config "latent_sampler")

to OUT/NET-bB.onnx (and OUT/NET-bB.ref.f32: x, t and the twin's v, raw f32, for bench.mjs), then runs every file with onnxruntime's CPU execution provider on the same
inputs as the twin (eager PyTorch, f32, no TF32) and prints the max abs difference. OUT/manifest.json
lists the files, their shapes, the differences and the exporter used.

    python3 bench/ort-peer/export.py --model models/landscapes-64.ldf --out DIR [--batch 1,16] [--nets flow,latent]

Needs torch, onnx, onnxruntime and numpy (no onnxscript: the TorchScript exporter is tried first).

Two changes against the twin, both exact up to rounding, are made for the exported graph only:
RMSNorm is written out as x·rsqrt(mean(x²)+ε) (aten::rms_norm has no ONNX form below opset 23),
and attention is the twin's explicit matmul + softmax (`use_sdpa=False`, what burn computes)
rather than F.scaled_dot_product_attention. The check compares against the unchanged twin
(F.rms_norm, SDPA), the one `pytorch_twin.py --verify` checks against burn.
"""

import argparse
import collections
import importlib.util
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def load_twin():
    spec = importlib.util.spec_from_file_location("pytorch_twin", os.path.join(HERE, "..", "pytorch_twin.py"))
    twin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(twin)
    return twin


twin = load_twin()
_twin_rms_norm = twin.rms_norm


def explicit_rms_norm(x):
    """twin.rms_norm without aten::rms_norm: x / sqrt(mean(x², last axis) + ε)."""
    return x * torch.rsqrt(x.square().mean(dim=-1, keepdim=True) + twin.RMS_EPS)


class Velocity(torch.nn.Module):
    """v(x, t) of one network: the twin's Backbone with the file's weights."""

    def __init__(self, cfg, side, weights, use_sdpa):
        super().__init__()
        self.backbone = twin.Backbone(cfg, side, use_sdpa=use_sdpa)
        own = self.backbone.state_dict()
        if set(own) != set(weights):
            raise SystemExit(f"structure mismatch: missing {sorted(set(weights) - set(own))[:8]} extra {sorted(set(own) - set(weights))[:8]}")
        self.backbone.load_state_dict(weights, strict=True)
        self.eval()

    def forward(self, x, t):
        return self.backbone(x, t)


def networks(config):
    """name -> (ldf prefix, backbone config, side, channels)."""
    side = config["image_size"]
    return {
        "flow": ("flow", config["flow"], side, config["flow"]["in_channels"]),
        "latent": ("latent", config["latent_sampler"], side // config["latent_downsample"], config["latent_sampler"]["in_channels"]),
    }


def export(model, x, t, path, opset):
    """TorchScript exporter first (needs nothing beyond torch and onnx), then the dynamo one (onnxscript)."""
    errors = []
    for dynamo in (False, True):
        try:
            kwargs = dict(input_names=["x", "t"], output_names=["v"], opset_version=opset, do_constant_folding=True)
            if dynamo:
                kwargs["dynamo"] = True
                kwargs["external_data"] = False
            else:
                kwargs["dynamo"] = False
            torch.onnx.export(model, (x, t), path, **kwargs)
            return "dynamo" if dynamo else "torchscript", errors
        except Exception as e:  # noqa: BLE001 - report and try the other exporter
            errors.append(f"{'dynamo' if dynamo else 'torchscript'}: {type(e).__name__}: {str(e)[:400]}")
            print(f"  export with dynamo={dynamo} failed: {errors[-1]}", flush=True)
    raise SystemExit("no exporter worked:\n" + "\n".join(errors))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="models/landscapes-64.ldf")
    p.add_argument("--out", required=True)
    p.add_argument("--batch", default="1,16", help="comma-separated fixed batch sizes, one file each")
    p.add_argument("--nets", default="flow,latent")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    import onnx
    import onnxruntime as ort

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_grad_enabled(False)
    os.makedirs(args.out, exist_ok=True)
    tensors, config = twin.read_ldf(args.model)
    nets = networks(config)
    batches = [int(b) for b in args.batch.split(",")]
    manifest = {
        "model": os.path.abspath(args.model),
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": ort.__version__,
        "opset": args.opset,
        "networks": [],
    }
    worst = 0.0
    for name in args.nets.split(","):
        prefix, cfg, side, channels = nets[name]
        head = prefix + ".backbone."
        weights = {k[len(head):]: v for k, v in tensors.items() if k.startswith(head)}
        if not weights:
            print(f"{name}: no '{prefix}' network in {args.model}, skipped")
            continue
        reference = Velocity(cfg, side, weights, use_sdpa=True)  # the twin as checked against burn
        exported = Velocity(cfg, side, weights, use_sdpa=False)
        params = sum(v.numel() for v in weights.values())
        for batch in batches:
            gen = torch.Generator().manual_seed(args.seed + batch)
            x = torch.randn(batch, channels, side, side, generator=gen)
            t = torch.linspace(0.0, 1.0, batch) if batch > 1 else torch.tensor([0.5])
            path = os.path.join(args.out, f"{name}-b{batch}.onnx")
            start = time.perf_counter()
            twin.rms_norm = explicit_rms_norm
            try:
                exporter, errors = export(exported, x, t, path, args.opset)
                mine = exported(x, t)
            finally:
                twin.rms_norm = _twin_rms_norm
            export_s = time.perf_counter() - start
            want = reference(x, t)
            model = onnx.load(path)
            onnx.checker.check_model(model)
            ops = collections.Counter(n.op_type for n in model.graph.node)
            session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            got = session.run(["v"], {"x": x.numpy(), "t": t.numpy()})[0]
            diff = float(np.abs(got - want.numpy()).max())
            diff_rewrite = float((mine - want).abs().max())
            scale = float(want.abs().max())
            worst = max(worst, diff / max(scale, 1e-6))
            entry = {
                "network": name,
                "batch": batch,
                "file": os.path.basename(path),
                "bytes": os.path.getsize(path),
                "params": params,
                "inputs": {"x": list(x.shape), "t": list(t.shape)},
                "output": list(want.shape),
                "exporter": exporter,
                "exporter_errors": errors,
                "export_s": export_s,
                "nodes": len(model.graph.node),
                "ops": dict(ops.most_common()),
                "max_abs_v": scale,
                "max_abs_diff_ort_cpu_vs_twin": diff,
                "max_abs_diff_rewrite_vs_twin": diff_rewrite,
            }
            # x, t, then the twin's v, raw little-endian f32: bench.mjs feeds x and t and checks v.
            ref = os.path.join(args.out, f"{name}-b{batch}.ref.f32")
            with open(ref, "wb") as f:
                for a in (x, t, want):
                    f.write(a.contiguous().numpy().astype("<f4").tobytes())
            entry["reference"] = os.path.basename(ref)
            manifest["networks"].append(entry)
            print(f"{name} batch {batch}: {path} ({entry['bytes'] / 1e6:.1f} MB, {entry['nodes']} nodes, {exporter}); "
                  f"max |v| {scale:.4f}; max |ORT CPU - twin| {diff:.3e}; max |export form - twin| {diff_rewrite:.3e}", flush=True)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    # f32 throughout: anything beyond 1e-3 of the output's range means the graph differs.
    if worst > 1e-3:
        print(f"export: relative difference {worst:.2e} is too large")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
