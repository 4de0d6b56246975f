"""The calibration fit against times from a different generating model (issue 12): the fit's model
is ``max(T_c / f_c, T_m / f_b) + o``; here the "measured" times come from an additive model,
``T_c / f_c + T_m / f_b + o``, with 2% log-normal noise, on cases that are clearly compute- or
memory-bound (one time 100 x the other), where both models agree to about 1%. The fit must
recover the generator's fractions and overhead to a few percent."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("scipy")
from simulator.calibration.fit import fit_kernel_efficiency


@pytest.mark.parametrize(("compute_fraction", "bandwidth_fraction", "overhead_s"),
                         [(0.6, 0.35, 8e-6), (0.9, 0.7, 0.0), (0.3, 0.8, 2e-5)])
def test_the_fit_recovers_an_additive_generator(compute_fraction, bandwidth_fraction, overhead_s):
    rng = np.random.default_rng(7)
    base = 10 ** rng.uniform(-5, -2, 16)
    compute_bound = np.arange(16) % 2 == 1
    t_compute = np.where(compute_bound, base, base / 100)
    t_memory = np.where(compute_bound, base / 100, base)
    measured = (t_compute / compute_fraction + t_memory / bandwidth_fraction + overhead_s) \
        * np.exp(rng.normal(0, 0.02, 16))
    fit = fit_kernel_efficiency(t_compute, t_memory, measured)
    assert fit.compute_fraction == pytest.approx(compute_fraction, rel=0.05)
    assert fit.bandwidth_fraction == pytest.approx(bandwidth_fraction, rel=0.05)
    assert fit.overhead_s == pytest.approx(overhead_s, rel=0.15, abs=1e-6)
