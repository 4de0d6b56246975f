"""The built-in network table (simulator.networks.NETWORK_MODULES) against the definitions themselves,
and the registry importing a network's module only when that network is looked up."""

import importlib
import pkgutil
import subprocess
import sys

import simulator.networks
from simulator.model.registry import NETWORKS


def test_the_table_names_every_registered_network_and_the_module_that_defines_it():
    for module in pkgutil.iter_modules(simulator.networks.__path__):
        importlib.import_module(f"simulator.networks.{module.name}")
    registered = {name: function.__module__ for name, function in NETWORKS._functions.items()
                  if function.__module__.startswith("simulator.networks.")}
    table = {name: f"simulator.networks.{module}"
             for name, module in simulator.networks.NETWORK_MODULES.items()}
    assert registered == table
    # 74 built-in networks (70 before SegNeXt-T/S/B/L); all looked up
    assert len(table) == 74 and sorted(NETWORKS) == sorted(table)


def test_names_and_unknown_names_come_from_the_table_without_importing_a_definition():
    script = ("import sys\nfrom simulator.catalog import available_networks, network_function\n"
              "from simulator.errors import UnknownNameError\n"
              "names = available_networks('resnet*')\n"
              "try:\n    network_function('resnet5')\n"
              "except UnknownNameError as error:\n    message = str(error)\n"
              "print(names, all(n in message for n in ('resnet50', 'vgg19', 'whisper_large_v3_encoder')),"
              " sorted(m for m in sys.modules if m.startswith('simulator.networks.')))\n"
              "network_function('vgg16')\n"
              "print(sorted(m for m in sys.modules if m.startswith('simulator.networks.')))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    first, second = run.stdout.strip().splitlines()
    assert first == ("['resnet101', 'resnet152', 'resnet18', 'resnet34', 'resnet50', 'resnet8_cifar10'] "
                     "True []")
    assert second == "['simulator.networks.vgg']"
