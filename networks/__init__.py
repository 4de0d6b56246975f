"""Reference network definitions, each a function returning a :class:`simulator.model.graph.Network`.

Each module registers its networks with :func:`simulator.model.registry.register_network` where they
are defined; importing this package imports every module, so every name is registered. Functions
take their natural keyword parameters (``resolution``, ``num_classes``; MobileNetV2 also
``width_mult``). Look networks up with :func:`simulator.catalog.build_network`.
"""

from simulator.networks import (  # noqa: F401  (registers them)  # noqa: F401  (registers them)  # noqa: F401  (registers them)
    alexnet,
    bert,
    dlrm,
    efficientvit,
    efficientvit_sam,
    efficientvit_seg,
    mcunet,
    mlperf_tiny,
    mobilenet,
    resnet,
    retinanet,
    rnnt,
    sam,
    sdxl,
    sdxl_text_encoders,
    sdxl_vae,
    segformer,
    tinyengine_baselines,
    unet3d,
    vgg,
    vit,
    whisper,
)
