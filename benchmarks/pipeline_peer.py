"""Section 4 peers: the --points job as a short script. CSV in, x,y,value,d_x[,d_y] CSV on stdout.

python benchmarks/pipeline_peer.py numpy|torch E2 points.csv > out.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from exprs import BY_KEY  # noqa: E402


def main() -> None:
    tool, key, path = sys.argv[1], sys.argv[2], sys.argv[3]
    e = BY_KEY[key]
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    x, y = data[:, 0], data[:, 1]
    if tool == "numpy":
        value, grads = e.numpy(x, y)  # the hand-written derivative
    elif tool == "torch":
        import torch

        leaves = [torch.from_numpy(np.ascontiguousarray(data[:, i])).requires_grad_(True) for i in range(len(e.variables))]
        out = e.generic(torch, leaves[0], leaves[1] if len(leaves) > 1 else None)
        out.sum().backward()
        value, grads = out.detach().numpy(), [t.grad.numpy() for t in leaves]  # type: ignore[union-attr]
    else:
        raise SystemExit(f"unknown tool {tool}")
    header = ",".join(["x", "y", "value"] + [f"d_{v}" for v in e.variables])
    np.savetxt(sys.stdout, np.column_stack([x, y, value, *grads]), fmt="%.17g", delimiter=",", header=header, comments="")


if __name__ == "__main__":
    main()
