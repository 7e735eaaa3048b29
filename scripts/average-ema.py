#!/usr/bin/env python3
"""Averages the weights of several .ldf files of one layout (EMA snapshots of one run, f16 or f32):
checkpoint averaging, a longer EMA after the fact.

    average-ema.py OUT IN1 IN2 [IN3 ...]

Every input must have the same header but for its data hash (the same networks, tensors, shapes
and storage); F16 and F32 tensors are averaged in float64 and stored in their own type, U8 padding
is kept. The output's header is the first input's with the data buffer's SHA-256 (docs/FORMAT.md,
`sha256`) recomputed; the config, the tensor index and so `meta_sha256` are unchanged.
"""
import hashlib
import json
import struct
import sys

import numpy as np

out, *inputs = sys.argv[1:]
if len(inputs) < 2:
    sys.exit(__doc__)


def read(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    return raw[: 8 + n], header, raw[8 + n :]


first_head, first, _ = read(inputs[0])
layout = {k: v for k, v in first.items() if k != "__metadata__"}
bound = ("config", "tensors", "meta_sha256")
files = []
for path in inputs:
    _, header, data = read(path)
    if {k: v for k, v in header.items() if k != "__metadata__"} != layout:
        sys.exit(f"{path}: another tensor layout than {inputs[0]}")
    if any(header["__metadata__"].get(k) != first["__metadata__"][k] for k in bound):
        sys.exit(f"{path}: another config or tensor index than {inputs[0]}")
    if hashlib.sha256(data).hexdigest() != header["__metadata__"]["sha256"]:
        sys.exit(f"{path}: its data does not match its sha256")
    files.append(data)
types = {"F16": np.float16, "F32": np.float32}
averaged = bytearray(files[0])
for name, entry in layout.items():
    start, end = entry["data_offsets"]
    if entry["dtype"] in types:
        kind = types[entry["dtype"]]
        mean = sum(np.frombuffer(d[start:end], dtype=kind).astype(np.float64) for d in files) / len(files)
        averaged[start:end] = mean.astype(kind).tobytes()
    elif entry["dtype"] == "I8":
        sys.exit(f"{name}: int8 storage (average f16 or f32 exports)")
digest = hashlib.sha256(averaged).hexdigest()
old = first["__metadata__"]["sha256"]
assert first_head.count(old.encode()) == 1
with open(out, "wb") as f:
    f.write(first_head.replace(old.encode(), digest.encode()))
    f.write(averaged)
print(f"{out}: mean of {len(inputs)} files, sha256 {digest}")
