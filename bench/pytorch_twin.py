#!/usr/bin/env python3
"""PyTorch twin of lediflow's `s64` VelocityNet, trained with the baseline objective.

It mirrors, layer for layer, `crate/core/src/model/{hourglass,attention,rope,feedforward,norm,mapping}.rs`
with the `s64()` flow configuration of `crate/core/src/model/config.rs` (the network that the `flow` and
`baseline` stages train), and the baseline stage of the trainer (`crate/core/src/losses.rs`
`baseline_objective`, `crate/tools/src/train/{mod,settings,ema}.rs`): x_t = (1 - t)·ε + t·y, target y - ε,
MSE; t ~ U(0, 1); AdamW (β 0.9/0.99, ε 1e-8, weight decay 0.01, lr 2e-4 with 500 warm-up steps);
each parameter's gradient clipped to norm ≤ 1 on its own (burn's GradientClippingConfig::Norm);
an EMA of the weights updated every step (decay min(0.999, (1+s)/(10+s))).

Usage (see bench/README.md):
    python3 bench/pytorch_twin.py --all --batch 64 --steps 120 --warmup 20 --json OUT.json
    python3 bench/pytorch_twin.py --precision tf32 --sdpa off --json OUT.json
    python3 bench/pytorch_twin.py --verify models/baseline-64.ldf --verify-ref REF.raw

torch is the only non-stdlib import.
"""

import argparse
import contextlib
import gc
import json
import math
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
# The configuration, in the serde JSON form of `BackboneConfig` (LeDiFlowConfig::s64().flow).
# ---------------------------------------------------------------------------------------------

# `lediflow info --config s64` prints "flow 4.80 M"; the exact count, from the modules and from
# the tensors of the shipped models/baseline-64.ldf, is 4,797,353.
EXPECTED_PARAMS = 4_797_353

IMAGE_SIZE = 64
IMAGE_CHANNELS = 3
S64_FLOW = {
    "in_channels": 3,
    "out_channels": 3,
    "patch_in": 4,
    "patch_out": 4,
    "levels": [
        # level(width, depth, d_head, attention) with d_ff = 3·width
        {"width": 128, "depth": 2, "d_ff": 384, "d_head": 32, "attention": {"kind": "window", "size": 8}},
        {"width": 256, "depth": 3, "d_ff": 768, "d_head": 32, "attention": {"kind": "global"}},
    ],
    "mapping": {"width": 256, "depth": 1, "d_ff": 512},
}
# LossConfig::default().time_sampling (s64 does not override it).
TIME_SAMPLING = {"kind": "uniform"}
# TrainSettings::default() and train::optimizer().
TRAIN = {
    "lr": 2e-4,
    "warmup_steps": 500,
    "weight_decay": 0.01,
    "beta1": 0.9,
    "beta2": 0.99,
    "eps": 1e-8,
    "grad_clip": 1.0,  # per parameter tensor
    "ema_decay": 0.999,
    "log_every": 25,  # the trainer reads the loss back every 25 steps
}

RMS_EPS = 1e-6  # norm.rs EPS
COSINE_EPS = 1e-6  # attention.rs COSINE_EPS
MASKED = -1.0e4  # attention.rs MASKED (added to logits of pairs a shifted window keeps apart)


def count_params(cfg):
    """Parameters of a Backbone built from `cfg`, module by module (pure Python)."""
    levels = cfg["levels"]
    cond = cfg["mapping"]["width"] if cfg.get("mapping") else None

    def level_params(lv):
        w, d_ff = lv["width"], lv["d_ff"]
        n_heads = max(w // lv["d_head"], 1)
        ada = cond * w if cond else 0  # AdaRmsNorm's zero Linear(cond → w), absent without cond
        attn = ada + w * 3 * w + n_heads + w * w  # norm, qkv, scale, out
        ff = ada + w * 2 * d_ff + d_ff * w  # norm, up.proj, down
        return lv["depth"] * (attn + ff)

    total = cfg["in_channels"] * cfg["patch_in"] ** 2 * levels[0]["width"]  # patch_in
    if cfg.get("mapping"):
        m = cfg["mapping"]
        w = m["width"]
        total += w * w + w  # time_in, in_norm
        total += m["depth"] * (w + w * 2 * m["d_ff"] + m["d_ff"] * w)  # blocks: norm, up.proj, down
        total += w  # out_norm
    total += sum(2 * level_params(lv) for lv in levels[:-1]) + level_params(levels[-1])  # down, up, mid
    for i in range(len(levels) - 1):
        a, b = levels[i]["width"], levels[i + 1]["width"]
        total += 4 * a * b + b * 4 * a + 1  # merges[i], splits[i].proj, splits[i].fac
    total += levels[0]["width"]  # out_norm
    total += levels[0]["width"] * cfg["out_channels"] * cfg["patch_out"] ** 2  # patch_out
    return total


# ---------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------


def linear(d_in, d_out):
    """norm.rs `linear`: bias-free, U(±1/sqrt(d_in)) (burn's default Kaiming-uniform = torch's)."""
    return nn.Linear(d_in, d_out, bias=False)


def zero_linear(d_in, d_out):
    """norm.rs `zero_linear`: bias-free, zero-initialised."""
    layer = nn.Linear(d_in, d_out, bias=False)
    nn.init.zeros_(layer.weight)
    return layer


def rms_norm(x):
    """x / sqrt(mean(x², last axis) + 1e-6)."""
    return F.rms_norm(x, (x.shape[-1],), None, RMS_EPS)


class RmsNorm(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(features))

    def forward(self, x):
        return rms_norm(x) * self.scale


class AdaRmsNorm(nn.Module):
    """rms_norm(x) · (1 + Linear(cond)); bare rms_norm without a condition."""

    def __init__(self, features, cond_features):
        super().__init__()
        self.linear = zero_linear(cond_features, features) if cond_features else None

    def forward(self, x, cond):
        x = rms_norm(x)
        if self.linear is not None and cond is not None:
            x = x * (self.linear(cond) + 1.0)[:, None, None, :]
        return x


class Geglu(nn.Module):
    def __init__(self, d_in, d_ff):
        super().__init__()
        self.proj = linear(d_in, 2 * d_ff)
        self.d_ff = d_ff

    def forward(self, x):
        a, gate = self.proj(x).split(self.d_ff, dim=-1)  # narrow(0..d_ff), narrow(d_ff..2·d_ff)
        return a * F.gelu(gate)  # exact (erf) GELU, as burn's `gelu`


class FeedForwardBlock(nn.Module):
    def __init__(self, width, d_ff, cond):
        super().__init__()
        self.norm = AdaRmsNorm(width, cond)
        self.up = Geglu(width, d_ff)
        self.down = zero_linear(d_ff, width)

    def forward(self, x, cond):
        return x + self.down(self.up(self.norm(x, cond)))


def axial_positions(h, w):
    centre = lambda i, n: -1.0 + (2.0 * i + 1.0) / n  # noqa: E731
    return [(centre(y, h), centre(x, w)) for y in range(h) for x in range(w)]


def rope_frequencies(n_heads, d_head):
    """rope.rs `frequencies`: n_heads·d_head/8 values log-spaced from π to 10π, as [head][k]."""
    per_head = d_head // 8
    n = n_heads * per_head
    lo, hi = math.log(math.pi), math.log(10.0 * math.pi)
    allf = [math.exp(lo + (hi - lo) * i / n) for i in range(n)]
    return [[allf[k * n_heads + h] for k in range(per_head)] for h in range(n_heads)]


def rope_tables(h, w, n_heads, d_head):
    """rope.rs `Rotation::new`: cos, sin as [1, h·w, n_heads, d_head/4] f32, and the pair count."""
    freqs = rope_frequencies(n_heads, d_head)
    pairs = 2 * (d_head // 8)
    cos, sin = [], []
    for p in axial_positions(h, w):
        for head in freqs:
            for axis in range(2):
                for f in head:
                    theta = p[axis] * f
                    cos.append(math.cos(theta))
                    sin.append(math.sin(theta))
    shape = (1, h * w, n_heads, pairs)
    return torch.tensor(cos, dtype=torch.float32).view(shape), torch.tensor(sin, dtype=torch.float32).view(shape), pairs


def shift_labels(h, w, ws, s):
    """attention.rs `Windows::shift_bias`: [nW, n, n] booleans, True where two tokens may attend."""
    label = lambda y, x: 2 * int(y >= h - s) + int(x >= w - s)  # noqa: E731
    n = ws * ws
    keep = []
    for wy in range(h // ws):
        for wx in range(w // ws):
            labels = [label(wy * ws + i // ws, wx * ws + i % ws) for i in range(n)]
            keep.append([[a == b for b in labels] for a in labels])
    return torch.tensor(keep, dtype=torch.bool)


class AttentionBlock(nn.Module):
    """Cosine-similarity attention with axial RoPE, global or in (shifted) windows."""

    def __init__(self, width, d_head, attention, shifted, cond, grid, use_sdpa):
        super().__init__()
        n_heads = max(width // d_head, 1)
        self.norm = AdaRmsNorm(width, cond)
        self.qkv = linear(width, 3 * width)
        self.scale = nn.Parameter(torch.full((n_heads,), 10.0))
        self.out = zero_linear(width, width)
        self.n_heads, self.d_head = n_heads, width // n_heads
        self.use_sdpa = use_sdpa
        self.grid = grid  # the token grid is grid × grid (fixed by the image size)
        window = attention["size"] if attention["kind"] == "window" else 0
        ws = 0 if window == 0 else min(window, grid, grid)
        self.windowed = not (ws == 0 or ws == grid)  # a window covering the grid is global attention
        self.ws = ws
        self.shift = ws // 2 if (self.windowed and shifted) else 0
        cos, sin, self.pairs = rope_tables(grid, grid, self.n_heads, self.d_head)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        if self.shift > 0:
            keep = shift_labels(grid, grid, ws, self.shift)  # [nW, n, n]
            self.register_buffer("keep", keep, persistent=False)
            bias = torch.zeros(keep.shape, dtype=torch.float32).masked_fill(~keep, MASKED)
            self.register_buffer("bias", bias, persistent=False)

    def rotate(self, x):
        """rope.rs `Rotation::apply` on [B, L, nh, dh]."""
        d = self.pairs
        if d == 0:
            return x
        cos, sin = self.rope_cos.to(x.dtype), self.rope_sin.to(x.dtype)
        rest = x.shape[-1] - 2 * d
        x1, x2, x3 = x.split([d, d, rest], dim=-1)
        y1 = x1 * cos - x2 * sin
        y2 = x2 * cos + x1 * sin
        return torch.cat([y1, y2] if rest == 0 else [y1, y2, x3], dim=-1)

    def attend(self, q, k, v, keep, bias):
        """softmax(q·kᵀ · 1.0 + bias)·v on [N, nh, L, dh] (the cosine logits carry their scale)."""
        if self.use_sdpa:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=keep, scale=1.0)
        logits = q @ k.transpose(-2, -1)
        if bias is not None:
            logits = logits + bias
        return torch.softmax(logits, dim=-1) @ v

    def split(self, t, b):
        """Windows::split: [B, L, nh, dh] → [B·nW, nh, ws², dh] (rolled by −shift first)."""
        h = w = self.grid
        ws, f = self.ws, self.n_heads * self.d_head
        t = t.reshape(b, h, w, f)
        if self.shift > 0:
            t = torch.roll(t, shifts=(-self.shift, -self.shift), dims=(1, 2))
        t = t.reshape(b, h // ws, ws, w // ws, ws, f).permute(0, 1, 3, 2, 4, 5)
        return t.reshape(b * (h // ws) * (w // ws), ws * ws, self.n_heads, self.d_head).transpose(1, 2)

    def merge(self, t, b):
        """Windows::merge: [B·nW, nh, ws², dh] → [B, H, W, nh·dh] (rolled back by +shift)."""
        h = w = self.grid
        ws, f = self.ws, self.n_heads * self.d_head
        t = t.transpose(1, 2).reshape(b, h // ws, w // ws, ws, ws, f).permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, f)
        if self.shift > 0:
            t = torch.roll(t, shifts=(self.shift, self.shift), dims=(1, 2))
        return t

    def forward(self, x, cond):
        b, h, w, c = x.shape
        assert h == self.grid and w == self.grid, (h, w, self.grid)
        nh, dh = self.n_heads, self.d_head
        qkv = self.qkv(self.norm(x, cond)).reshape(b, h * w, 3 * nh, dh)
        sqrt_scale = self.scale.sqrt().reshape(1, 1, nh, 1)

        def cosine(t):
            norm = torch.sqrt(t.square().sum(dim=3, keepdim=True) + COSINE_EPS)
            return self.rotate(t / norm * sqrt_scale)

        q, k, v = qkv.split(nh, dim=2)  # narrow(2, 0, nh), narrow(2, nh, nh), narrow(2, 2·nh, nh)
        q, k = cosine(q), cosine(k)
        if not self.windowed:
            y = self.attend(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), None, None)
            y = y.transpose(1, 2).reshape(b, h, w, c)
        else:
            keep = bias = None
            if self.shift > 0:
                n_w = self.keep.shape[0]
                n = self.keep.shape[-1]
                # [nW, n, n] → [B·nW, 1, n, n], window index fastest as in Windows::split; heads broadcast.
                if self.use_sdpa:
                    keep = self.keep[None].expand(b, n_w, n, n).reshape(b * n_w, 1, n, n)
                else:
                    bias = self.bias[None].expand(b, n_w, n, n).reshape(b * n_w, 1, n, n)
            y = self.merge(self.attend(self.split(q, b), self.split(k, b), self.split(v, b), keep, bias), b)
        return x + self.out(y)


class Block(nn.Module):
    def __init__(self, lv, index, cond, grid, use_sdpa):
        super().__init__()
        shifted = index % 2 == 1  # windowed levels shift every other block
        self.attn = AttentionBlock(lv["width"], lv["d_head"], lv["attention"], shifted, cond, grid, use_sdpa)
        self.ff = FeedForwardBlock(lv["width"], lv["d_ff"], cond)

    def forward(self, x, cond):
        return self.ff(self.attn(x, cond), cond)


class Level(nn.Module):
    def __init__(self, lv, cond, grid, use_sdpa):
        super().__init__()
        self.blocks = nn.ModuleList([Block(lv, i, cond, grid, use_sdpa) for i in range(lv["depth"])])

    def forward(self, x, cond):
        for block in self.blocks:
            x = block(x, cond)
        return x


class TokenSplit(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.proj = linear(d_in, 4 * d_out)
        self.fac = nn.Parameter(torch.full((1,), 0.5))  # lerp skip (0) → upsampled (1)


class MappingBlock(nn.Module):
    def __init__(self, w, d_ff):
        super().__init__()
        self.norm = RmsNorm(w)
        self.up = Geglu(w, d_ff)
        self.down = zero_linear(d_ff, w)


class MappingNetwork(nn.Module):
    """t → fixed Fourier features → Linear → RMSNorm → residual GEGLU blocks → RMSNorm."""

    def __init__(self, m):
        super().__init__()
        w = m["width"]
        self.time_in = linear(w, w)
        self.in_norm = RmsNorm(w)
        self.blocks = nn.ModuleList([MappingBlock(w, m["d_ff"]) for _ in range(m["depth"])])
        self.out_norm = RmsNorm(w)
        half = w // 2
        lo, hi = 0.0, math.log(1000.0)
        freqs = [math.exp(lo + (i / (half - 1) if half > 1 else 0.0) * (hi - lo)) for i in range(half)]
        self.register_buffer("freqs", torch.tensor(freqs, dtype=torch.float32), persistent=False)

    def forward(self, t):
        angles = t[:, None] * self.freqs[None, :]
        x = self.in_norm(self.time_in(torch.cat([angles.cos(), angles.sin()], dim=1)))
        for block in self.blocks:
            x = x + block.down(block.up(block.norm(x)))
        return self.out_norm(x)


def patchify(x, p):
    b, c, h, w = x.shape
    return x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1).reshape(b, h // p, w // p, p * p * c)


def unpatchify(x, p, channels):
    b, h, w, _ = x.shape
    return x.reshape(b, h, w, p, p, channels).permute(0, 5, 1, 3, 2, 4).reshape(b, channels, h * p, w * p)


def merge_2x2(x):
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h // 2, w // 2, 4 * c)


def split_2x2(x, c):
    b, h, w, _ = x.shape
    return x.reshape(b, h, w, 2, 2, c).permute(0, 1, 3, 2, 4, 5).reshape(b, 2 * h, 2 * w, c)


class Backbone(nn.Module):
    def __init__(self, cfg, side, use_sdpa=True):
        super().__init__()
        levels = cfg["levels"]
        n = len(levels)
        cond = cfg["mapping"]["width"] if cfg.get("mapping") else None
        grid0 = side // cfg["patch_in"]
        grids = [grid0 >> i for i in range(n)]
        w0 = levels[0]["width"]
        self.patch_in = linear(cfg["in_channels"] * cfg["patch_in"] ** 2, w0)
        self.mapping = MappingNetwork(cfg["mapping"]) if cfg.get("mapping") else None
        self.down = nn.ModuleList([Level(levels[i], cond, grids[i], use_sdpa) for i in range(n - 1)])
        self.merges = nn.ModuleList([linear(4 * levels[i]["width"], levels[i + 1]["width"]) for i in range(n - 1)])
        self.mid = Level(levels[n - 1], cond, grids[n - 1], use_sdpa)
        self.splits = nn.ModuleList([TokenSplit(levels[i + 1]["width"], levels[i]["width"]) for i in range(n - 1)])
        self.up = nn.ModuleList([Level(levels[i], cond, grids[i], use_sdpa) for i in range(n - 1)])
        self.out_norm = RmsNorm(w0)
        self.patch_out = zero_linear(w0, cfg["out_channels"] * cfg["patch_out"] ** 2)
        self.p_in, self.p_out, self.out_channels = cfg["patch_in"], cfg["patch_out"], cfg["out_channels"]
        self.widths = [lv["width"] for lv in levels]

    def forward(self, x, t=None):
        cond = self.mapping(t) if (self.mapping is not None and t is not None) else None
        x = self.patch_in(patchify(x, self.p_in))
        skips = []
        for level, merge in zip(self.down, self.merges):
            x = level(x, cond)
            skips.append(x)
            x = merge(merge_2x2(x))
        x = self.mid(x, cond)
        for i in reversed(range(len(skips))):
            skip = skips[i]
            split = self.splits[i]
            up = split_2x2(split.proj(x), self.widths[i])
            x = skip + (up - skip) * split.fac.reshape(1, 1, 1, 1)
            x = self.up[i](x, cond)
        x = self.patch_out(self.out_norm(x))
        return unpatchify(x, self.p_out, self.out_channels)


class VelocityNet(nn.Module):
    """networks.rs `VelocityNet`: v(x, t), x [B, C, R, R], t [B]."""

    def __init__(self, cfg, side, use_sdpa=True):
        super().__init__()
        self.backbone = Backbone(cfg, side, use_sdpa)

    def forward(self, x, t):
        return self.backbone(x, t)


# ---------------------------------------------------------------------------------------------
# Training (baseline stage)
# ---------------------------------------------------------------------------------------------


def set_fp32_matmul(tf32):
    """Allow (or forbid) TF32 for f32 matmuls and cuDNN; returns what was set."""
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    return {"matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32, "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32}


def sample_t(shape, device, generator=None):
    """draws.rs `time_from_normal`: U(0, 1) (Φ of a normal draw), or logit-normal sigmoid(m + s·n)."""
    if TIME_SAMPLING["kind"] == "uniform":
        return torch.rand(shape, device=device, generator=generator)
    n = torch.randn(shape, device=device, generator=generator)
    return torch.sigmoid(TIME_SAMPLING["mean"] + TIME_SAMPLING["std"] * n)


def lr_at(step):
    w = TRAIN["warmup_steps"]
    return TRAIN["lr"] if w == 0 else TRAIN["lr"] * min((step + 1) / w, 1.0)


def ema_decay(step):
    return min(TRAIN["ema_decay"], (1.0 + step) / (10.0 + step))


_F32_TINY = torch.finfo(torch.float32).tiny  # burn adds f32 min_positive to the norm


@torch.no_grad()
def clip_each_grad_norm_(grads, max_norm):
    """burn's GradientClipping::Norm, applied to every parameter's gradient on its own:
    g ← g · min(1, max_norm / (‖g‖₂ + tiny))."""
    norms = torch.stack(torch._foreach_norm(grads))
    coefs = torch.clamp(max_norm / (norms + _F32_TINY), max=1.0)
    torch._foreach_mul_(grads, list(coefs.unbind(0)))


def make_optimizer(params):
    kwargs = dict(
        lr=TRAIN["lr"],
        betas=(TRAIN["beta1"], TRAIN["beta2"]),
        eps=TRAIN["eps"],
        weight_decay=TRAIN["weight_decay"],
    )
    try:
        return torch.optim.AdamW(params, fused=True, **kwargs), "fused"
    except (TypeError, RuntimeError):
        return torch.optim.AdamW(params, foreach=True, **kwargs), "foreach"


def kernel_category(name):
    """A coarse class of a CUDA kernel's name, to set beside burn's per-kernel profile."""
    n = name.lower()
    if "flash" in n or "fmha" in n or "attention" in n or "efficient" in n:
        return "attention"
    if "gemm" in n or "cutlass" in n or "sm90" in n or "xmma" in n or "matmul" in n:
        return "matmul"
    if "adam" in n:
        return "optimizer"
    if "reduce" in n or "norm" in n or "softmax" in n:
        return "reduction"
    if "elementwise" in n or "foreach" in n or "vectorized" in n or "unrolled" in n:
        return "element-wise"
    return "other"


def profile_steps(step, first, count):
    """Times `count` more steps under torch.profiler: kernel time per step by class, and the top
    kernels, the counterpart of scripts/kernel-profile.py's table for burn."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for i in range(first, first + count):
            step(i)
        torch.cuda.synchronize()
    totals, launches, by_class = {}, {}, {}
    for event in prof.events():
        if event.device_type.name != "CUDA":
            continue
        us = event.device_time if hasattr(event, "device_time") else event.cuda_time
        totals[event.name] = totals.get(event.name, 0.0) + us
        launches[event.name] = launches.get(event.name, 0) + 1
        cls = kernel_category(event.name)
        by_class[cls] = by_class.get(cls, 0.0) + us
    total = sum(totals.values())
    print(f"  profile, {count} steps: {sum(launches.values()) / count:.0f} kernels and "
          f"{total / count / 1000:.2f} ms of kernel time per step")
    for cls, us in sorted(by_class.items(), key=lambda kv: -kv[1]):
        print(f"    {cls:<13} {us / count / 1000:7.3f} ms/step  {100 * us / total:5.1f}%")
    for name, us in sorted(totals.items(), key=lambda kv: -kv[1])[:12]:
        print(f"    {us / count / 1000:7.3f} ms/step  {launches[name] / count:6.1f}/step  {name[:110]}")


def run_benchmark(precision, sdpa, args):
    device = torch.device("cuda")
    gc.collect()
    torch.cuda.empty_cache()
    if args.compile:
        torch._dynamo.reset()
    torch.manual_seed(args.seed)
    tf32_state = set_fp32_matmul(precision != "f32")
    torch.cuda.reset_peak_memory_stats()

    model = VelocityNet(S64_FLOW, IMAGE_SIZE, use_sdpa=sdpa).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == count_params(S64_FLOW) == EXPECTED_PARAMS, (n_params, count_params(S64_FLOW), EXPECTED_PARAMS)
    params = list(model.parameters())
    opt, opt_kind = make_optimizer(params)
    ema = [p.detach().clone() for p in params] if args.ema == "on" else None
    fwd = torch.compile(model, mode=args.compile_mode) if args.compile else model

    # Pre-generated batches on the GPU: images in [-1, 1], ε, t.
    nb = args.batches
    gen = torch.Generator(device=device).manual_seed(args.seed + 1)
    shape = (nb, args.batch, IMAGE_CHANNELS, IMAGE_SIZE, IMAGE_SIZE)
    ys = torch.rand(shape, device=device, generator=gen) * 2.0 - 1.0
    epss = torch.randn(shape, device=device, generator=gen)
    ts = sample_t((nb, args.batch), device, gen)

    autocast = (
        (lambda: torch.autocast("cuda", dtype=torch.bfloat16))
        if precision == "bf16-autocast"
        else contextlib.nullcontext
    )

    def step(i):
        y, eps, t = ys[i % nb], epss[i % nb], ts[i % nb]
        with autocast():
            x_t = eps + (y - eps) * t[:, None, None, None]  # interpolate_path(ε, y, t)
            v = fwd(x_t, t)
            loss = (v.float() - (y - eps)).square().mean()  # flow_matching(v, y − ε)
        loss.backward()
        grads = [p.grad for p in params]
        clip_each_grad_norm_(grads, TRAIN["grad_clip"])
        for group in opt.param_groups:
            group["lr"] = lr_at(i)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if ema is not None:
            with torch.no_grad():
                torch._foreach_lerp_(ema, [p.detach() for p in params], 1.0 - ema_decay(i))
        if args.log_every and i % args.log_every == 0:
            loss.item()  # the burn trainer reads the loss back every `log_every` steps
        return loss

    timed = args.steps - args.warmup
    assert timed > 0, "--steps must exceed --warmup"
    wall0 = time.perf_counter()
    torch.cuda.synchronize()
    t0 = None
    loss = None
    for i in range(args.steps):
        if i == args.warmup:
            torch.cuda.synchronize()
            t0 = time.perf_counter()
        loss = step(i)
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - t0
    final_loss = loss.item()
    if args.profile:
        profile_steps(step, args.steps, args.profile)
    wall = time.perf_counter() - wall0
    result = {
        "precision": precision,
        "sdpa": sdpa,
        "compile": bool(args.compile),
        "compile_mode": args.compile_mode if args.compile else None,
        "batch": args.batch,
        "steps": args.steps,
        "warmup": args.warmup,
        "timed_steps": timed,
        "images_per_s": timed * args.batch / elapsed,
        "ms_per_step": 1000.0 * elapsed / timed,
        "peak_mem_bytes": torch.cuda.max_memory_allocated(),
        "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30,
        "peak_reserved_gib": torch.cuda.max_memory_reserved() / 2**30,
        "final_loss": final_loss,
        "loss_finite": math.isfinite(final_loss),
        "params": n_params,
        "params_expected": EXPECTED_PARAMS,
        "optimizer": f"AdamW ({opt_kind})",
        "ema": args.ema == "on",
        "wall_s_including_warmup": wall,
        **tf32_state,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0),
    }
    del model, fwd, opt, ema, ys, epss, ts, params
    return result


# ---------------------------------------------------------------------------------------------
# Verification against burn: load a lediflow `.ldf` and reproduce `lediflow sample --method baseline`
# ---------------------------------------------------------------------------------------------

_M64 = (1 << 64) - 1
_STREAM_PIXEL = 2  # noise.rs Stream::Pixel


def _splitmix64(z):
    z = (z + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def gaussian(seed, stream, n):
    """noise.rs `gaussian`: Box–Muller over a hashed counter (f64, then f32)."""
    key = _splitmix64(seed ^ _splitmix64(stream))
    out, counter = [], 0
    while len(out) < n:
        bits = _splitmix64((key + counter) & _M64)
        counter += 1
        u1 = ((bits >> 38) + 1) / float(1 << 26)
        u2 = ((bits >> 12) & ((1 << 26) - 1)) / float(1 << 26)
        r = math.sqrt(-2.0 * math.log(u1))
        theta = 2.0 * math.pi * u2
        out.append(r * math.cos(theta))
        out.append(r * math.sin(theta))
    return out[:n]


def read_ldf(path):
    """Logical tensors of a `.ldf` (safetensors) file, dequantized to f32 (docs/FORMAT.md)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__")
    base = 8 + n
    torch_dtype = {"F32": torch.float32, "F16": torch.float16, "I8": torch.int8, "U8": torch.uint8}

    def part(name):
        info = header[name]
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + a : base + b]), dtype=torch_dtype[info["dtype"]])
        return t.reshape(info["shape"]) if info["shape"] else t

    tensors = {}
    for entry in json.loads(meta["tensors"]):
        shape, scheme, parts = entry["shape"], entry["scheme"], entry["parts"]
        rows = shape[0]
        cols = math.prod(shape[1:]) if len(shape) > 1 else 1
        if scheme in ("f32", "f16"):
            value = part(parts[0]).float().reshape(shape)
        elif scheme == "int8":
            scale, q = part(parts[0]).float(), part(parts[1]).float()
            value = (q.reshape(rows, cols) * scale.reshape(rows, 1)).reshape(shape)
        elif scheme == "int4":
            scale, packed = part(parts[0]).float(), part(parts[1])
            g = entry["group"]
            groups = scale.shape[1]
            lo, hi = packed & 15, packed >> 4
            nib = torch.stack([lo, hi], dim=-1).reshape(rows, groups, g).float() - 8.0
            value = (nib * scale.reshape(rows, groups, 1)).reshape(rows, groups * g)[:, :cols].reshape(shape)
        else:
            raise ValueError(f"unknown scheme {scheme} for {entry['name']}")
        tensors[entry["name"]] = value
    return tensors, json.loads(meta["config"])


def quantize_rgba8(images):
    """kernels::quantize on [B, 3, H, W] → RGBA8 bytes, image after image (alpha 255)."""
    q = torch.floor((images.clamp(-1.0, 1.0) + 1.0) * 127.5 + 0.5).to(torch.uint8)  # round half away (x ≥ 0)
    b, c, h, w = q.shape
    rgba = torch.full((b, h, w, 4), 255, dtype=torch.uint8)
    rgba[..., :3] = q.permute(0, 2, 3, 1).cpu()
    return bytes(rgba.flatten().tolist())  # no numpy needed


def run_verify(args):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tensors, config = read_ldf(args.verify)
    if config["flow"] != S64_FLOW or config["image_size"] != IMAGE_SIZE:
        print(f"verify: the file's config differs from s64: flow={config['flow']} image_size={config['image_size']}")
        return 1
    prefix = args.verify_network + ".backbone."
    wanted = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    if not wanted:
        print(f"verify: no '{args.verify_network}' network in {args.verify}")
        return 1
    report = {"file": args.verify, "network": args.verify_network, "runs": []}
    failed = False
    set_fp32_matmul(False)  # IEEE f32 to compare with burn's f32 CPU reference
    for sdpa in (True, False):
        model = VelocityNet(S64_FLOW, IMAGE_SIZE, use_sdpa=sdpa)
        own = {k: v for k, v in model.backbone.state_dict().items()}
        if set(own) != set(wanted) or any(tuple(own[k].shape) != tuple(wanted[k].shape) for k in own):
            missing = sorted(set(wanted) - set(own))
            extra = sorted(set(own) - set(wanted))
            shapes = [(k, tuple(own[k].shape), tuple(wanted[k].shape)) for k in set(own) & set(wanted)
                      if tuple(own[k].shape) != tuple(wanted[k].shape)]
            print(f"verify: structure mismatch: missing {missing} extra {extra} shapes {shapes}")
            return 1
        model.backbone.load_state_dict(wanted, strict=True)
        model = model.to(device).eval()
        n_params = sum(p.numel() for p in model.parameters())
        seeds = list(range(args.verify_seed, args.verify_seed + args.verify_n))
        per_image = IMAGE_CHANNELS * IMAGE_SIZE * IMAGE_SIZE
        eps = [v for s in seeds for v in gaussian(s, _STREAM_PIXEL, per_image)]
        x = torch.tensor(eps, dtype=torch.float32).reshape(len(seeds), IMAGE_CHANNELS, IMAGE_SIZE, IMAGE_SIZE)
        x = x.to(device)
        grid = [i / args.verify_steps for i in range(args.verify_steps + 1)]

        def vel(x, t):
            return model(x, torch.full((x.shape[0],), t, dtype=torch.float32, device=device))

        with torch.no_grad():
            for t0, t1 in zip(grid[:-1], grid[1:]):  # solvers::heun_step
                h = t1 - t0
                k1 = vel(x, t0)
                k2 = vel(x + k1 * h, t1)
                x = (x + k1 * (h / 2.0)) + k2 * (h / 2.0)
        rgba = quantize_rgba8(x.float().cpu())
        run = {"sdpa": sdpa, "params": n_params, "bytes": len(rgba)}
        if args.verify_out:
            out = args.verify_out if sdpa else args.verify_out + ".nosdpa"
            with open(out, "wb") as f:
                f.write(rgba)
            run["written"] = out
        if args.verify_ref:
            with open(args.verify_ref, "rb") as f:
                ref = f.read()
            if len(ref) != len(rgba):
                print(f"verify: reference has {len(ref)} bytes, twin {len(rgba)}")
                return 1
            diffs = [abs(a - b) for a, b in zip(rgba, ref)]
            run["max_abs_diff_lsb"] = max(diffs)
            run["bytes_differing"] = sum(d > 0 for d in diffs)
            run["mean_abs_diff_lsb"] = sum(diffs) / len(diffs)
            ok = run["max_abs_diff_lsb"] <= 2 and run["bytes_differing"] <= len(diffs) // 100
            run["ok"] = ok
            failed |= not ok
        report["runs"].append(run)
        print("verify:", json.dumps(run))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"verify": report}, f, indent=2)
    return 1 if failed else 0


# ---------------------------------------------------------------------------------------------


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=120, help="optimiser steps in all, warm-up included")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps at the start")
    p.add_argument("--precision", choices=["tf32", "bf16-autocast", "f32"])
    p.add_argument("--sdpa", choices=["on", "off"], default="on",
                   help="F.scaled_dot_product_attention (on) or explicit matmul + softmax (off, what burn does)")
    p.add_argument("--all", action="store_true",
                   help="tf32/sdpa, tf32/no-sdpa, bf16-autocast/sdpa, each a fresh model (default without --precision)")
    p.add_argument("--compile", action="store_true", help="torch.compile the network")
    p.add_argument("--compile-mode", default="default")
    p.add_argument("--ema", choices=["on", "off"], default="on", help="update an EMA every step, as the trainer does")
    p.add_argument("--log-every", type=int, default=TRAIN["log_every"], help="read the loss back every N steps (0: never)")
    p.add_argument("--batches", type=int, default=4, help="pre-generated batches on the GPU, cycled")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="after the timed steps, profile N more with torch.profiler (kernel time by class)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--count-only", action="store_true", help="print the parameter counts and exit (no GPU needed)")
    p.add_argument("--verify", metavar="LDF", help="check the twin against burn on a lediflow .ldf file instead")
    p.add_argument("--verify-network", default="baseline")
    p.add_argument("--verify-ref", metavar="RAW", help="`lediflow sample --method baseline --raw` output to compare with")
    p.add_argument("--verify-out", metavar="RAW", help="write the twin's RGBA8 samples here")
    p.add_argument("--verify-seed", type=int, default=0)
    p.add_argument("--verify-n", type=int, default=4)
    p.add_argument("--verify-steps", type=int, default=2, help="Heun steps")
    args = p.parse_args()

    counted = count_params(S64_FLOW)
    built = sum(t.numel() for t in VelocityNet(S64_FLOW, IMAGE_SIZE).parameters())
    print(f"parameters: twin modules {built:,}, pure-Python count {counted:,}, lediflow s64 flow {EXPECTED_PARAMS:,}")
    assert built == counted == EXPECTED_PARAMS, "parameter count differs from lediflow's s64 flow network"
    if args.count_only:
        return 0
    if args.verify:
        return run_verify(args)
    if not torch.cuda.is_available():
        print("CUDA is not available")
        return 1

    if args.all or args.precision is None:
        configs = [("tf32", True), ("tf32", False), ("bf16-autocast", True)]
    else:
        configs = [(args.precision, args.sdpa == "on")]
    results = []
    for precision, sdpa in configs:
        r = run_benchmark(precision, sdpa, args)
        results.append(r)
        print(
            f"{precision:>14} sdpa={'on ' if sdpa else 'off'} compile={'on ' if args.compile else 'off'} "
            f"batch {r['batch']}: {r['images_per_s']:8.1f} img/s  {r['ms_per_step']:7.2f} ms/step  "
            f"peak {r['peak_mem_gib']:.2f} GiB  loss {r['final_loss']:.4f}",
            flush=True,
        )
    out = {
        "benchmark": "PyTorch twin of lediflow s64 VelocityNet, baseline stage",
        "params": results[0]["params"],
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0),
        "runs": results,
    }
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
