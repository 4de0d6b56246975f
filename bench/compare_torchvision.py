"""Cross-check the built-in networks against torchvision (needs torch and torchvision installed).

Compares parameter counts to ``sum(p.numel())`` and MACs to ``torch.utils.flop_counter`` (which
counts 2 FLOPs per MAC of convolution, matmul and attention), and prints torchvision's published
``num_params`` / ``_ops`` metadata. Not part of the test suite: torch is not a dependency.

Known difference: for the ViTs the counter misses the ``Q K^T`` and ``A V`` products inside
``scaled_dot_product_attention`` (2·L²·E MACs per block); torchvision's published ``_ops``
include them, and so do our counts.

    python bench/compare_torchvision.py
"""

from __future__ import annotations

import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

from simulator.catalog import NETWORKS
from simulator.model.counts import count_network

TORCHVISION_NAMES = {"vgg16", "vgg11", "vgg13", "vgg19", "vgg16_bn", "resnet18", "resnet34", "resnet50",
                     "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2", "mobilenet_v2",
                     "vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32"}


def main() -> None:
    torch.backends.mha.set_fastpath_enabled(False)  # the fused fast path hides its matmuls from the counter
    print(f"{'network':18s} {'params (ours)':>14s} {'params (torch)':>14s} {'MACs (ours)':>15s} "
          f"{'MACs (torch)':>15s} {'published GMACs':>15s}")
    for name in sorted(TORCHVISION_NAMES):
        model = torchvision.models.get_model(name).eval()
        torch_params = sum(p.numel() for p in model.parameters())
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(torch.randn(1, 3, 224, 224))
        torch_macs = counter.get_total_flops() // 2
        weights = torchvision.models.get_model_weights(name).DEFAULT
        ours = count_network(NETWORKS[name]())
        flag = "" if (ours.params, ours.macs) == (torch_params, torch_macs) else "  <-- differs"
        print(f"{name:18s} {ours.params:>14,} {torch_params:>14,} {ours.macs:>15,} {torch_macs:>15,} "
              f"{weights.meta.get('_ops', float('nan')):>15}{flag}")


if __name__ == "__main__":
    main()
