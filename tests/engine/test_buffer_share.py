"""The expected model's share of the on-chip activation buffer (``[efficiency]
buffer_capacity_fraction``): activations stay resident in ``capacity × fraction``, the ideal bound
keeps the whole buffer. Values derived by hand on a round-number device: DRAM, a 1 MiB SRAM buffer,
a register file; fp16 activations."""

from __future__ import annotations

import pytest

from simulator.errors import ProfileError
from simulator.hardware.loader import load_device
from simulator.model.graph import NetworkBuilder
from simulator.simulation import simulate

LEVELS = [
    {"name": "dram", "capacity_gib": 8, "bandwidth_gb_per_s": 100, "stores": ["weights", "activations"],
     "energy_table_entry": "dram-32bit"},
    {"name": "sram", "capacity_mib": 1, "bandwidth_gb_per_s": 1000, "stores": ["activations"],
     "energy_table_entry": "sram-32kib-64bit"},
    {"name": "register-file", "capacity_kib": 64, "bandwidth_tb_per_s": 10, "stores": [],
     "energy_table_entry": "rf-32bit"},
]


def buffered(device_file, capacity_mib: float = 1, share: float | None = 0.25):
    """The test device (fp16 100 Tops/s; an SRAM buffer of ``capacity_mib``) with every class at the
    whole peak and bandwidth and, unless None, ``buffer_capacity_fraction = share``."""
    levels = [{**level, "capacity_mib": capacity_mib} if level["name"] == "sram" else level
              for level in LEVELS]
    path = device_file("buffered", {"fp16_tera_ops_per_s": 100}, levels)
    efficiency = ['', '[efficiency]', 'source = "test"']
    efficiency += [f"buffer_capacity_fraction = {share}"] if share is not None else []
    efficiency += ['', '[efficiency.default]', 'compute_fraction = 1.0', 'bandwidth_fraction = 1.0', '']
    path.write_text(path.read_text(encoding="utf-8") + "\n".join(efficiency), encoding="utf-8")
    return path


#: 128 x 128 x 16 fp16 elements: 512 KiB. The first layer's input and output together (1 MiB, the live
#: set) just fit the 1 MiB buffer (one byte less and the ideal bound spills too) but not a quarter of it
SHAPE = (16, 128, 128)
TENSOR_BYTES = 16 * 128 * 128 * 2


@pytest.fixture
def device(device_file):
    return load_device(buffered(device_file))


def two_relus():
    net = NetworkBuilder("relus", SHAPE)
    net.relu(net.relu(net.input, name="first"), name="second")
    return net.build()


def test_a_tensor_that_fits_the_whole_buffer_but_not_its_share_goes_to_dram_in_the_expected_model(device):
    ideal = simulate(two_relus(), device, precision="fp16", ideal=True, fuse=False)
    expected = simulate(two_relus(), device, precision="fp16", fuse=False)
    dram = {r: {layer.name: layer.level_bytes["dram"] for layer in result.layers}
            for r, result in (("ideal", ideal), ("expected", expected))}
    # the intermediate tensor (first's output, second's input) is written once and read once more
    assert sum(dram["expected"].values()) - sum(dram["ideal"].values()) == pytest.approx(2 * TENSOR_BYTES)
    assert expected.latency_s > ideal.latency_s


def test_the_whole_buffer_holds_it_without_the_share(device_file):
    whole = load_device(buffered(device_file, share=None))
    ideal = simulate(two_relus(), whole, precision="fp16", ideal=True, fuse=False)
    expected = simulate(two_relus(), whole, precision="fp16", fuse=False)
    assert [layer.level_bytes["dram"] for layer in expected.layers] == [
        layer.level_bytes["dram"] for layer in ideal.layers]


@pytest.mark.parametrize(("capacity_mib", "share", "spills"),
                         [(4, 0.25, False), (4, 0.24, True), (2, 0.5, False), (2, 0.49, True)])
def test_the_share_is_applied_as_capacity_times_fraction(device_file, capacity_mib, share, spills):
    # the live set is 1 MiB: it stays on chip exactly when capacity x share >= 1 MiB
    device = load_device(buffered(device_file, capacity_mib, share))
    ideal = simulate(two_relus(), device, precision="fp16", ideal=True, fuse=False)
    expected = simulate(two_relus(), device, precision="fp16", fuse=False)
    extra = sum(layer.level_bytes["dram"] for layer in expected.layers) - sum(
        layer.level_bytes["dram"] for layer in ideal.layers)
    assert extra == pytest.approx(2 * TENSOR_BYTES if spills else 0)


@pytest.mark.parametrize("share", [0, 1.5])
def test_a_share_outside_0_to_1_is_refused_naming_the_field(device_file, share):
    with pytest.raises(ProfileError, match=r"buffered\.toml: efficiency\.buffer_capacity_fraction: "):
        load_device(buffered(device_file, share=share))
