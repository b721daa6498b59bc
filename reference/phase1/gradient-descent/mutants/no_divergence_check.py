"""Mutant: never checks the loss, so a too-large learning rate returns inf/NaN."""

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
        b = b - lr * (2.0 / n) * float(residual.sum())
        losses[k] = _mse(X, y, w, b)
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
        b = b - lr * 2.0 / n * grad_b
        current = loss()
        losses.append(current)
    return np.array(w), b, np.array(losses)
