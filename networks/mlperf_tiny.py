"""MLPerf Tiny v1.0-v1.2 reference models (Banbury et al., "MLPerf Tiny Benchmark", NeurIPS 2021).

Keras definitions of mlcommons/tiny, ``benchmark/training/``, at tag v1.1
(360bf095d4620057cbda8c73a507b2a61341c669; tag v1.0 = 1beaec082a2c8a0f3a6626f85cd11b502f8c18e3). The
four model files are unchanged from bceb91c5ad2e2deb295547d81505721d3a87d578 (2021-12-13) through v1.0,
v1.1 and the 2024 v1.2 round until 9adec29055c3c82b7569e462c03bbcaea78eeca9 (2026) widened ResNet-8 to
26 filters by default; these are the 16/32/64-filter models the v1.0-v1.2 results were measured on.

Keras semantics that matter for the counts:

* every Conv2D, DepthwiseConv2D and Dense has a bias (``use_bias=True`` by default; no file turns it off);
* ``padding='same'`` gives ``ceil(n / stride)`` outputs; TF pads the odd pixel at the bottom/right. The
  symmetric padding used here gives the same output size (checked), hence the same MACs;
* nothing is in place (Keras layers allocate their outputs); Dropout is the identity at inference.

Parameters follow PyTorch's convention: BatchNorm's gamma and beta count, its moving mean and variance
do not. That equals Keras' "Trainable params"; Keras' "Total params" (``model.summary()``) adds the two
non-trainable statistics per BatchNorm channel: see each docstring.
"""

from __future__ import annotations

from simulator.errors import ShapeError
from simulator.model.graph import Network, NetworkBuilder
from simulator.model.registry import Resolution, height_width, register_network


def same_padding(size: int, kernel: int, stride: int) -> int:
    """Symmetric padding that gives Keras' ``padding='same'`` output size ``ceil(size / stride)``.

    TF pads ``max((ceil(size / stride) - 1) * stride + kernel - size, 0)`` in total, the odd pixel at the
    end; half of it rounded up, on both sides, yields the same output size whenever the floor division
    of the convolution's size formula absorbs the extra pixel (checked; a ValueError where it does not).
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    pad = -(-total // 2)
    if (size + 2 * pad - kernel) // stride + 1 != out:
        raise ValueError(f"no symmetric padding reproduces padding='same' for size {size}, kernel {kernel}, "
                         f"stride {stride}")
    return pad


def _keras_conv(net: NetworkBuilder, x: str, filters: int | None, kernel: Resolution, stride: int = 1,
                depthwise: bool = False, name: str | None = None) -> str:
    """Conv2D (or DepthwiseConv2D with ``filters=None``), ``padding='same'``, with bias."""
    kh, kw = height_width(kernel)
    channels, h, w = net.shape(x)
    padding = (same_padding(h, kh, stride), same_padding(w, kw, stride))
    return net.conv2d(x, channels if depthwise else filters, (kh, kw), stride=stride, padding=padding,
                      groups=channels if depthwise else 1, bias=True, name=name)


def _conv_bn(net: NetworkBuilder, x: str, filters: int | None, kernel: Resolution, stride: int = 1,
             depthwise: bool = False, relu: bool = True, name: str = "conv") -> str:
    x = _keras_conv(net, x, filters, kernel, stride, depthwise, name=name)
    x = net.batch_norm(x, name=f"{name}.bn")
    return net.relu(x, name=f"{name}.relu") if relu else x


def _classifier(net: NetworkBuilder, x: str, pool: tuple[int, int], num_classes: int) -> None:
    """AveragePooling2D(pool) (stride = pool, 'valid') -> Flatten -> Dense(softmax)."""
    x = net.pool(x, "avg", pool, pool, name="avgpool")
    x = net.flatten(x, name="flatten")
    x = net.linear(x, num_classes, name="dense")
    net.softmax(x, name="softmax")


@register_network
def resnet8_cifar10(resolution: Resolution = 32, num_classes: int = 10) -> Network:
    """Image classification: EEMBC ResNet-8 (v1, 16/32/64 filters) on 32×32×3 CIFAR-10.

    ``image_classification/keras_model.py: resnet_v1_eembc()``: Conv3×3(16)-BN-ReLU; three stacks of
    [Conv3×3(s)-BN-ReLU, Conv3×3-BN] + shortcut -> add -> ReLU, the shortcut a 1×1 conv (stride 2, bias,
    no BN) where the stack downsamples; AveragePooling2D(min(H, W)) -> Flatten -> Dense(softmax).
    78,186 parameters (Keras: 78,186 trainable, 78,666 total).
    """
    h, w = height_width(resolution)
    net = NetworkBuilder("resnet8_cifar10", (3, h, w))
    x = _conv_bn(net, net.input, 16, 3, name="conv1")
    for stage, (filters, stride) in enumerate(((16, 1), (32, 2), (64, 2)), start=1):
        y = _conv_bn(net, x, filters, 3, stride, name=f"stack{stage}.conv1")
        y = _conv_bn(net, y, filters, 3, 1, relu=False, name=f"stack{stage}.conv2")
        if stride != 1:
            x = _keras_conv(net, x, filters, 1, stride, name=f"stack{stage}.shortcut")
        x = net.add_(x, y, name=f"stack{stage}.add")
        x = net.relu(x, name=f"stack{stage}.relu")
    pool = min(net.shape(x)[1:])   # pool_size = int(np.amin(x.shape[1:3]))
    _classifier(net, x, (pool, pool), num_classes)
    return net.build()


#: (depthwise stride, pointwise filters) of layers 2-14 of vww_model.py's MobileNetV1 at alpha 0.25
MOBILENET_V1_025_LAYERS = ((1, 16), (2, 32), (1, 32), (2, 64), (1, 64), (2, 128), (1, 128), (1, 128),
                           (1, 128), (1, 128), (1, 128), (2, 256), (1, 256))


@register_network
def mobilenet_v1_025_vww(resolution: Resolution = 96, num_classes: int = 2) -> Network:
    """Visual wake words: MobileNetV1 alpha 0.25 on 96×96×3, 2 classes.

    ``visual_wake_words/vww_model.py: mobilenet_v1()`` (``num_filters = 8``): Conv3×3(8, s2)-BN-ReLU,
    13 × [DW3×3(s)-BN-ReLU, Conv1×1-BN-ReLU], AveragePooling2D(the whole map) -> Flatten -> Dense(softmax).
    Plain ReLU (not ReLU6). 216,322 parameters (Keras: 216,322 trainable, 221,794 total, the "221k"
    usually quoted).
    """
    h, w = height_width(resolution)
    net = NetworkBuilder("mobilenet_v1_025_vww", (3, h, w))
    x = _conv_bn(net, net.input, 8, 3, 2, name="conv1")
    for i, (stride, filters) in enumerate(MOBILENET_V1_025_LAYERS, start=2):
        x = _conv_bn(net, x, None, 3, stride, depthwise=True, name=f"layer{i}.dw")
        x = _conv_bn(net, x, filters, 1, 1, name=f"layer{i}.pw")
    _classifier(net, x, net.shape(x)[1:], num_classes)   # pool_size = x.shape[1:3]
    return net.build()


@register_network
def ds_cnn_kws(resolution: Resolution = (49, 10), num_classes: int = 12) -> Network:
    """Keyword spotting: DS-CNN (64 filters) on 49 frames × 10 MFCC × 1, 12 classes.

    ``keyword_spotting/keras_model.py: get_model('ds_cnn')`` with the ``kws_util.py`` defaults (16 kHz,
    1000 ms clips, 30 ms window, 20 ms stride: 1 + (16000 - 480) // 320 = 49 frames; 10 MFCC):
    Conv(64, (10, 4), stride 2, same)-BN-ReLU, 4 × [DW3×3-BN-ReLU, Conv1×1(64)-BN-ReLU],
    AveragePooling2D(pool_size = (int(49 / 2), int(10 / 2)) = (24, 5)) on the 25×5 map (-> 1×1: the last
    row is dropped, a quirk of the reference), Flatten, Dense(softmax). ``resolution`` is
    (frames, coefficients). 23,756 parameters (Keras: 23,756 trainable, 24,908 total, "~25k").
    """
    h, w = height_width(resolution)
    if min(h, w) < 2:  # Keras refuses a pool size of 0
        raise ShapeError(f"network 'ds_cnn_kws': resolution {h}x{w} gives an average pool of "
                         f"{h // 2}x{w // 2} (pool_size = (frames // 2, coefficients // 2)); each side must "
                         f"be at least 2")
    net = NetworkBuilder("ds_cnn_kws", (1, h, w))
    x = _conv_bn(net, net.input, 64, (10, 4), 2, name="conv1")
    for i in range(1, 5):
        x = _conv_bn(net, x, None, 3, 1, depthwise=True, name=f"ds{i}.dw")
        x = _conv_bn(net, x, 64, 1, 1, name=f"ds{i}.pw")
    _classifier(net, x, (h // 2, w // 2), num_classes)
    return net.build()


#: hidden widths of the anomaly-detection autoencoder (Dense-BN-ReLU each), anomaly_detection/keras_model.py
AUTOENCODER_UNITS = (128, 128, 128, 128, 8, 128, 128, 128, 128)


@register_network
def fc_autoencoder_ad(resolution: Resolution = (5, 128)) -> Network:
    """Anomaly detection: the DCASE 2020 dense autoencoder on 5 frames × 128 log-mel bins = 640 inputs.

    ``anomaly_detection/keras_model.py: get_model(inputDim)`` with ``baseline.yaml``'s n_mels 128 and
    frames 5: 4 × Dense(128)-BN-ReLU, Dense(8)-BN-ReLU, 4 × Dense(128)-BN-ReLU, Dense(inputDim) (linear).
    The input is the flattened (frames, n_mels) window, so ``resolution`` is (frames, n_mels) and the
    input dimension their product (an int r means (r, r)). 267,928 parameters (Keras: 267,928
    trainable, 269,992 total, "~270k").
    """
    frames, n_mels = height_width(resolution)
    input_dim = frames * n_mels
    net = NetworkBuilder("fc_autoencoder_ad", (input_dim,))
    x = net.input
    for i, units in enumerate(AUTOENCODER_UNITS):
        x = net.linear(x, units, name=f"dense{i}")
        x = net.batch_norm(x, name=f"dense{i}.bn")
        x = net.relu(x, name=f"dense{i}.relu")
    net.linear(x, input_dim, name="dense_out")
    return net.build()
