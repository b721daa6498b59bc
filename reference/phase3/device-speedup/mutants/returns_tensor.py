"""Mutant: matmul returns the device tensor's float64 copy instead of a float32 array."""

import numpy as np
import torch


def matmul(a, b, device):
    a = torch.as_tensor(np.asarray(a, dtype=np.float32), device=device)
    b = torch.as_tensor(np.asarray(b, dtype=np.float32), device=device)
    return (a @ b).cpu().double().numpy()


def fit_linear(X, y, lr, n_steps, device):
    X = torch.as_tensor(np.asarray(X, dtype=np.float32), device=device)
    y = torch.as_tensor(np.asarray(y, dtype=np.float32), device=device)
    w = torch.zeros(X.shape[1], device=device, requires_grad=True)
    b = torch.zeros((), device=device, requires_grad=True)
    for _ in range(n_steps):
        loss = ((X @ w + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = None
        b.grad = None
    return w.detach().cpu().numpy(), float(b.detach().cpu())
