"""`grade bench phase1/gradient-descent`: the looped fit against the vectorized one, 10 steps."""

FUNCTIONS = ["fit_gd_loop", "fit_gd"]
SIZES = [10**2, 10**3, 10**4]
N_ITER = 10


def inputs(n, rng):
    X = rng.normal(size=(n, 5))
    y = X @ rng.normal(size=5) + 1.0 + 0.1 * rng.normal(size=n)
    return X, y, 0.05, N_ITER
