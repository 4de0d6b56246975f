"""Reference network definitions, each a function returning a :class:`simulator.model.graph.Network`.

Each module registers its networks with :func:`simulator.model.registry.register_network` where they
are defined. Importing this package imports none of them: :data:`NETWORK_MODULES` names the module
that defines each network, and the registry (:data:`simulator.model.registry.NETWORKS`) imports a
module the first time one of its networks is looked up, so a run imports only the definitions it
builds while every name stays known (listings, unknown-name errors). A new network is added to its
module and to this table (tests/model/test_registry_table.py checks the two agree). Functions take
their natural keyword parameters (``resolution``, ``num_classes``; MobileNetV2 also ``width_mult``).
Look networks up with :func:`simulator.catalog.build_network`.
"""

from __future__ import annotations

#: module (inside this package) -> the networks it defines and registers
_NETWORKS_BY_MODULE: dict[str, tuple[str, ...]] = {
    "alexnet": ("alexnet",),
    "bert": ("bert_base", "bert_large"),
    "dlrm": ("dlrm_v2",),
    "efficientvit": ("efficientvit_b0", "efficientvit_b1", "efficientvit_b2", "efficientvit_b3",
                     "efficientvit_l0", "efficientvit_l1", "efficientvit_l2", "efficientvit_l3"),
    "efficientvit_sam": ("efficientvit_sam_l0", "efficientvit_sam_l1", "efficientvit_sam_l2",
                         "efficientvit_sam_xl0", "efficientvit_sam_xl1"),
    "efficientvit_seg": ("efficientvit_seg_b0", "efficientvit_seg_b1", "efficientvit_seg_b2",
                         "efficientvit_seg_b3", "efficientvit_seg_l1", "efficientvit_seg_l2"),
    "mcunet": ("mcunet_in0", "mcunet_in1", "mcunet_in2", "mcunet_in3", "mcunet_in4", "mcunet_mbv2_w035_r144"),
    "mlperf_tiny": ("ds_cnn_kws", "fc_autoencoder_ad", "mobilenet_v1_025_vww", "resnet8_cifar10"),
    "mobilenet": ("mobilenet_v2",),
    "resnet": ("resnet101", "resnet152", "resnet18", "resnet34", "resnet50", "resnext50_32x4d",
               "wide_resnet50_2"),
    "retinanet": ("retinanet",),
    "rnnt": ("rnnt",),
    "sam": ("sam_vit_b", "sam_vit_h", "sam_vit_l"),
    "sdxl": ("sdxl_unet",),
    "sdxl_text_encoders": ("sdxl_text_encoder", "sdxl_text_encoder_2"),
    "sdxl_vae": ("sdxl_vae_decoder",),
    "segformer": ("segformer_b0", "segformer_b1", "segformer_b2", "segformer_b3", "segformer_b4",
                  "segformer_b5"),
    "segnext": ("segnext_b", "segnext_l", "segnext_s", "segnext_t"),
    "tinyengine_baselines": ("mbv2_w03_r64", "proxyless_w03_r176", "proxyless_w03_r64"),
    "unet3d": ("unet3d",),
    "vgg": ("vgg11", "vgg13", "vgg16", "vgg16_bn", "vgg19"),
    "vit": ("vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32"),
    "whisper": ("whisper_large_v3_encoder",),
}

#: network name -> the module inside this package that defines and registers it
NETWORK_MODULES: dict[str, str] = {name: module for module, names in _NETWORKS_BY_MODULE.items()
                                   for name in names}
