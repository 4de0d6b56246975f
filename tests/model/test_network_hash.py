"""A Network hashes its nodes once (issue 21: the engine's caches looked it up three times per
simulation, each hashing every node), and the cached hash never travels: a string's hash differs
between processes (PYTHONHASHSEED), so a network pickled to a sweep worker recomputes its own."""

from __future__ import annotations

import dataclasses
import os
import pickle
import subprocess
import sys

from simulator.catalog import build_network


def fields_hash(network) -> int:
    return hash((network.name, network.input_shape, network.nodes, network.outputs))


def test_the_hash_is_the_fields_hash_and_computed_once():
    network = build_network("resnet18")
    assert hash(network) == fields_hash(network)
    assert network.__dict__["_hash"] == fields_hash(network)  # kept after the first call
    renamed = dataclasses.replace(network, name="other")
    assert "_hash" not in renamed.__dict__ and hash(renamed) == fields_hash(renamed)


def test_a_pickled_network_recomputes_its_hash_in_another_process(tmp_path):
    network = build_network("resnet18")
    hash(network)
    path = tmp_path / "network.pickle"
    path.write_bytes(pickle.dumps(network))
    assert "_hash" not in pickle.loads(path.read_bytes()).__dict__
    probe = (f"import pickle; n = pickle.load(open({str(path)!r}, 'rb')); "
             "print(hash(n) == hash((n.name, n.input_shape, n.nodes, n.outputs)))")
    # another hash seed than this process's: string hashes differ, the network's must follow
    environment = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          env=environment)
    assert done.stdout.strip() == "True"
