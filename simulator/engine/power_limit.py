"""The power-limited sustained compute rate of a GPU: the expected model's clock under its power limit.

A GPU's firmware lowers the clock when the board would draw more than its power limit. A kernel
whose useful tensor work costs ``E_op`` per operation draws ``P_dyn = E_op · R`` at the rate ``R`` it
computes at; with ``P_max`` the power limit and ``P_static`` the power drawn whatever the work, the
rate it can sustain is at most

``R_power = (P_max − P_static) / E_op``

so the expected compute time of a layer of ``ops`` operations is

``T_compute = max(ops / (peak · f), ops / R_power) = ops / (peak · min(f, s_power))``

with ``f`` the kernel's compute fraction times its fill (:mod:`simulator.engine.efficiency`) and
``s_power = R_power / peak`` the **power-limited share of the dense peak** (:func:`power_share`), one
number per device: a tensor core at its full rate draws about the same power at every tensor
precision (twice the int8 operations of fp16 per clock, on operands of half the bits), so the energy
per operation at precision ``p`` is ``E_op(p) = E_peak · peak_max / peak(p)``, ``E_peak`` the energy per
operation at the device's highest dense rate (int8/fp8), and ``R_power / peak(p)`` does not depend on
``p``:

``s_power = min(1, (P_max − P_static) / (E_peak · peak_max · scale / SCALE_4N))``

``E_peak`` [pJ/op] is the family's ``tensor_energy_pj``, an energy per dense int8/fp8 tensor operation
on a TSMC 4N-class process (Hopper, Ada), including the operands' delivery from registers and shared
memory, not only the multiplier; a device on another process takes it times its profile's energy
scale (``[energy] scale``, the project's first-order CMOS ``C·V²`` scaling of the Horowitz 45 nm table)
over 4N's 0.19 (:data:`SCALE_4N`; the A100's N7 is 0.25, so 1.32 times the energy per operation).
Range (:data:`TENSOR_ENERGY_RANGE_PJ`): at least the datapath alone (Horowitz 45 nm int8 multiply
plus add, 0.23 pJ a MAC, times 0.19: 0.02 pJ/op) and below the H100 SXM data sheet's design point
((700 − 85) W over 1979 dense TOPS = 0.31 pJ/op, were the card to reach its dense peak at its power
limit) by no more than a factor 3; at most 1 pJ/op (an H100 SXM at 700 W would then sustain 31% of
its dense peak). So 0.1–1 pJ/op, default 0.31.

``P_max`` and ``P_static`` are the profile's ``max_power_w`` and ``static_power_w`` (data sheet and
idle measurement). Only the expected model (a device with an ``[efficiency]`` that spreads kernels
over SMs, ``parallel_units``, and a ``tensor_energy_pj``) uses it; the ideal bound keeps the hardware
peak, so measurements still never beat it.

What it represents: a card whose power limit is small for its peak (an H100 NVL at 400 W against an
H100 SXM at 700 W on the same die; an L4 at 72 W) sustaining a lower share of that peak on
compute-bound layers, the same ``E_peak`` for every device of the process. What it cannot: the
power of memory traffic (DRAM energy per byte is left out, so a memory-heavy layer is never slowed
by it); the lower voltage at a lower clock (``E_op`` falls with ``V²`` under DVFS; taking it constant
overstates the slowdown of a card far above its limit); averaging over kernels (the limit applies
to each layer's compute, not to the power averaged over a pass, which the firmware's control window
of milliseconds does); thermal limits; a peak overridden by ``--set`` keeps the profile's share.

Two assumptions to know. The share applies to every precision of the device, fp32 on the CUDA cores
included: the same rule read for any datapath (at its full rate a GPU draws about its limit whatever
unit computes: large SGEMMs run near TDP too); no dataset row separates the CUDA cores' power, so an
fp32 run on a card whose share is below its compute fraction is slowed as a tensor run would be. And
``E_peak`` is the whole chip's energy per operation at full rate (the datapath, register files,
on-chip data movement, control and clocks): the fitted 0.54 pJ/op is about 25 times the energy
table's datapath figure, which is what :mod:`simulator.engine.energy` charges per operation, so a
simulation's reported average power is far below the power limit that, here, holds its clock back.
The two models answer different questions (how fast under the limit; which operations and accesses
cost what) and are not reconciled.
"""

from __future__ import annotations

#: TSMC 4N-class process's energy scale in the shipped profiles (h100-sxm, l4: ``[energy] scale``)
SCALE_4N = 0.19
#: the energy per dense int8/fp8 tensor operation on a 4N-class process (low, default, high) [pJ/op]
TENSOR_ENERGY_RANGE_PJ = (0.1, 0.31, 1.0)
PJ = 1e-12


def uncapped_power_share(tensor_energy_pj: float, peak_max_ops_per_s: float, energy_scale: float,
                         max_power_w: float, static_power_w: float) -> float:
    """``R_power / peak_max = (P_max − P_static) / (E_peak · scale / SCALE_4N · peak_max)``: the
    sustained rate under the power limit as a share of the dense peak, above 1 where the limit does not
    bind (module docstring)."""
    energy_j = tensor_energy_pj * PJ * energy_scale / SCALE_4N
    return (max_power_w - static_power_w) / (energy_j * peak_max_ops_per_s)


def power_share(tensor_energy_pj: float, peak_max_ops_per_s: float, energy_scale: float,
                max_power_w: float, static_power_w: float) -> float:
    """``s_power = min(1, R_power / peak_max)``: the share of the dense peak the device sustains under
    its power limit, at any precision (:func:`uncapped_power_share`)."""
    return min(1.0, uncapped_power_share(tensor_energy_pj, peak_max_ops_per_s, energy_scale,
                                         max_power_w, static_power_w))


def device_power_share(device, tensor_energy_pj: float | None = None) -> float | None:
    """:func:`power_share` of ``device`` (a :class:`~simulator.hardware.device.Device`) with the
    ``tensor_energy_pj`` given, else its ``[efficiency]``'s; None where the device has no power limit,
    no SM model (``parallel_units``) or no tensor energy: no power term."""
    model = device.efficiency
    energy = tensor_energy_pj if tensor_energy_pj is not None else (
        None if model is None else model.tensor_energy_pj)
    if energy is None or device.max_power_w is None or model is None or model.parallel_units is None:
        return None
    return power_share(energy, max(device.peak_ops_per_s.values()), device.energy.scale,
                       device.max_power_w, device.static_power_w)
