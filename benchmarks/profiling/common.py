"""What the three profilers share: the timed `fit`, the top ops, the catch-all group."""

import time

OTHER = "other (elementwise, loss, balancing, ...)"


def timed_fit(model, x, batch):
    """Seconds of one `fit` epoch over `x` (the profiled window)."""
    start = time.perf_counter()
    model.fit(x, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    return time.perf_counter() - start


def costliest(times, steps, n=10):
    """The `n` costliest ops as `(name, ms per step)`."""
    return [(name, ms / steps) for name, ms in sorted(times.items(), key=lambda kv: -kv[1])[:n]]
