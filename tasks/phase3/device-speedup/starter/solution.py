"""phase3/device-speedup: the same torch code on the CPU and on an accelerator.

Run `grade check phase3/device-speedup` for the public tests and
`grade submit phase3/device-speedup` for the full grading (the speed-up check needs CUDA or
MPS; without one the correctness checks run on the CPU).
"""

import numpy as np
import torch


def matmul(a, b, device):
    """a @ b computed by torch on device; returns a float32 NumPy array."""
    raise NotImplementedError("torch.as_tensor(a, device=device) @ ..., then .cpu().numpy()")


def fit_linear(X, y, lr, n_steps, device):
    """Linear regression by gradient descent with autograd on device; returns (w, b)."""
    raise NotImplementedError("w and b with requires_grad=True, loss.backward(), no_grad steps")
