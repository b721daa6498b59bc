"""Mutant: never updates the bias b (the model has no intercept)."""

import numpy as np


def _mse(X, y, w, b):
    residual = X @ w + b - y
    return float(residual @ residual) / len(y)


def fit_gd(X, y, lr, n_iter):
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, d = X.shape
    w, b = np.zeros(d), 0.0
    losses = np.empty(n_iter + 1)
    losses[0] = _mse(X, y, w, b)
    for k in range(1, n_iter + 1):
        residual = X @ w + b - y
        w = w - lr * (2.0 / n) * (X.T @ residual)
        losses[k] = _mse(X, y, w, b)
        if not np.isfinite(losses[k]) or losses[k] > losses[0]:
            raise ValueError(f"gradient descent diverged at iteration {k} (loss {losses[k]:.3g} "
                             f"> starting loss {losses[0]:.3g}): lr={lr} is too large")
    return w, b, losses


def fit_gd_loop(X, y, lr, n_iter):
    X = [[float(v) for v in row] for row in X]
    y = [float(v) for v in y]
    n, d = len(X), len(X[0])
    w, b = [0.0] * d, 0.0

    def loss():
        total = 0.0
        for i in range(n):
            r = b - y[i]
            for j in range(d):
                r += X[i][j] * w[j]
            total += r * r
        return total / n

    losses = [loss()]
    for k in range(1, n_iter + 1):
        grad_w, grad_b = [0.0] * d, 0.0
        for i in range(n):
            r = b - y[i]
            for j in range(d):
                r += X[i][j] * w[j]
            for j in range(d):
                grad_w[j] += X[i][j] * r
            grad_b += r
        w = [w[j] - lr * 2.0 / n * grad_w[j] for j in range(d)]
        current = loss()
        losses.append(current)
        if current != current or current == float("inf") or current > losses[0]:
            raise ValueError(f"gradient descent diverged at iteration {k}: lr={lr} is too large")
    return np.array(w), b, np.array(losses)
