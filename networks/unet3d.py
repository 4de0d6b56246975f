"""3D U-Net for KiTS19 kidney-tumour segmentation, as MLPerf Inference (``3d-unet-99``) runs it.

Reference: mlcommons/training @ 2c05bba037f97e527b12179a322f28c8af5a7435,
``image_segmentation/pytorch/model/unet3d.py`` (``Unet3D``: filters ``[32, 64, 128, 256, 320]``) and
@ 4e11283d7688f2e6e45cdc146a99efe463c6ba11 ``image_segmentation/pytorch/model/layers.py``
(``conv_block_factory``, ``InputBlock``, ``DownsampleBlock``, ``UpsampleBlock``, ``OutputLayer``),
instantiated as ``Unet3D(1, 3, normalization="instancenorm", activation="relu")``, the model whose
checkpoint mlcommons/inference ``vision/medical_imaging/3d-unet-kits19`` serves on 128×128×128
sliding-window patches (``inference_utils.py``: ``roi_shape = [128, 128, 128]``).

Layers: every conv block is Conv3d (k 3, padding 1, ``bias = normalization == "none"``: no bias)
-> InstanceNorm3d(affine) -> ReLU. Input block: two blocks at 32 channels. Downsample blocks (the
first conv stride 2): 32->64, 64->128, 128->256, 256->320 and the bottleneck 320->320. Upsample
blocks: ConvTranspose3d (k 2, stride 2, bias, no norm or activation), concatenation with the skip
(upsampled first), two conv blocks ``2·out -> out`` and ``out -> out``: 320->320, 320->256,
256->128, 128->64, 64->32. Output: a 1×1×1 Conv3d 32->3 with bias. InstanceNorm3d is GroupNorm with
one group per channel (the same statistics, a per-channel affine).

Parameters 31,190,243 (the tests derive it from this table). It exports to ONNX and reads back with the
same counts (``Conv``/``ConvTranspose`` with 5-D weights).
"""

from __future__ import annotations

import itertools

from simulator.errors import SimulatorError
from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import register_network

FILTERS = (32, 64, 128, 256, 320)
#: MLPerf's sliding-window patch (mlcommons/inference 3d-unet-kits19 ``inference_utils.py``)
MLPERF_PATCH = 128
#: five stride-2 stages: a side must be a multiple of 2**5 to come back to its size
DOWNSAMPLINGS = 5


def _block(net: NetworkBuilder, x: str, channels: int, name: str, stride: int = 1) -> str:
    """``conv_block_factory``: Conv3d(3, stride, padding 1, no bias) -> InstanceNorm3d -> ReLU."""
    x = net.conv3d(x, channels, 3, stride=stride, padding=1, bias=False, name=f"{name}.0")
    x = net.group_norm(x, channels, name=f"{name}.1")     # InstanceNorm3d(channels, affine=True)
    return net.relu(x, inplace=True, name=f"{name}.2")


def build_unet3d(name: str, patch_size: int, in_channels: int = 1, num_classes: int = 3) -> Network:
    """``Unet3D(in_channels, num_classes, "instancenorm", "relu")`` on a ``patch_size³`` patch."""
    step = 2 ** DOWNSAMPLINGS
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < step \
            or patch_size % step:
        raise SimulatorError(f"patch_size must be a positive multiple of {step} (five stride-2 stages "
                             f"and the skips must meet), got {patch_size!r}; MLPerf uses {MLPERF_PATCH}")
    net = NetworkBuilder(name, (in_channels, patch_size, patch_size, patch_size))
    x = _block(net, net.input, FILTERS[0], "input_block.conv1")
    x = _block(net, x, FILTERS[0], "input_block.conv2")
    skips = [x]
    downs = [*itertools.pairwise(FILTERS), (FILTERS[-1], FILTERS[-1])]
    for i, (_, out) in enumerate(downs):
        p = f"downsample.{i}" if i < len(downs) - 1 else "bottleneck"
        x = _block(net, x, out, f"{p}.conv1", stride=2)
        x = _block(net, x, out, f"{p}.conv2")
        skips.append(x)
    skips.pop()                                            # the bottleneck's output is not a skip
    ups = [(FILTERS[-1], FILTERS[-1]), *zip(reversed(FILTERS[1:]), reversed(FILTERS[:-1]), strict=True)]
    for i, ((_, out), skip) in enumerate(zip(ups, reversed(skips), strict=True)):
        p = f"upsample.{i}"
        x = net.conv_transpose3d(x, out, 2, stride=2, name=f"{p}.upsample_conv.0")
        x = net.concat(x, skip, dim=0, name=f"{p}.cat")
        x = _block(net, x, out, f"{p}.conv1")
        x = _block(net, x, out, f"{p}.conv2")
    net.conv3d(x, num_classes, 1, name="output.conv.0")
    return net.build()


@register_network
def unet3d(patch_size: int = MLPERF_PATCH, num_classes: int = 3) -> Network:
    """MLPerf's 3D-UNet (KiTS19): one CT channel in, 3 classes (background, kidney, tumour) out, 128³."""
    return build_unet3d("unet3d", patch_size, 1, num_classes)
