"""How the cross-validation splits the dataset: a row's network family and its publication date.

**Network family** (:func:`network_family`): the first rule of :data:`NETWORK_FAMILIES` whose prefix
the network's name starts with: ``efficientvit_sam*`` is SAM (before the EfficientViT rule),
``efficientvit*`` EfficientViT, ``resnet*`` ResNet (ResNet-50 and MLPerf Tiny's ResNet-8),
``mobilenet*`` MobileNet (MLPerf Tiny's MobileNetV1-0.25 among them), ``ds_cnn*`` and
``fc_autoencoder*`` the other MLPerf Tiny models, ``mcunet*`` MCUNet, ``segformer*`` SegFormer,
``sam*`` SAM, ``bert*`` BERT, ``llama_2*`` Llama 2, ``llama_3*`` Llama 3; anything else is its own
family (the name itself).

**Publication date** (:func:`published`): from the row's source, by :data:`PUBLISHED`: the MLPerf
round whose results repository the source names (MLPerf Inference v3.0 2023-04, v3.1 2023-09,
v4.0 2024-03, v4.1 2024-08; MLPerf Tiny v1.0 2022-04, v1.1 2023-06, v1.2 2024-04: the months each
round's results were published by MLCommons), and for the TensorRT-LLM performance tables the
release the row's ``runtime_version`` names (0.5 2023-10, 0.6.1 2023-12). Any other source (a
README or demo at a commit, a lecture) has no date here: those rows are left out of the time split
and counted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: (name prefix, family), first match wins
NETWORK_FAMILIES = (
    ("efficientvit_sam", "SAM"), ("efficientvit", "EfficientViT"), ("resnet", "ResNet"),
    ("mobilenet", "MobileNet"), ("ds_cnn", "MLPerf Tiny (DS-CNN, autoencoder)"),
    ("fc_autoencoder", "MLPerf Tiny (DS-CNN, autoencoder)"), ("mcunet", "MCUNet"),
    ("segformer", "SegFormer"), ("sam", "SAM"), ("bert", "BERT"), ("llama_2", "Llama 2"),
    ("llama_3", "Llama 3"),
)
#: (pattern in the source, year-month of publication)
PUBLISHED = (
    ("inference_results_v3.0", "2023-04"), ("inference_results_v3.1", "2023-09"),
    ("inference_results_v4.0", "2024-03"), ("inference_results_v4.1", "2024-08"),
    # v5.0: published 2025-04-02; v5.1: MLCommons' "Commit results" of 2025-09-04; v6.0: its
    # "Publishing Results" of 2026-03-26
    # (the first commits of the mirrors ntuhpc/inference_results_v5.1, gbeezybez/inference_results_v6.0)
    ("inference_results_v5.0", "2025-04"), ("inference_results_v5.1", "2025-09"),
    ("inference_results_v6.0", "2026-03"),
    ("tiny_results_v1.0", "2022-04"), ("tiny_results_v1.1", "2023-06"), ("tiny_results_v1.2", "2024-04"),
)
#: TensorRT-LLM releases (the performance tables' ``runtime_version``) and their month
TENSORRT_LLM_RELEASES = {"0.5": "2023-10", "0.6.1": "2023-12"}
#: the time split: rows published before this month are the training fold, the others are predicted
SPLIT = "2024-01"


def network_family(network: str) -> str:
    """The family of a network name, by the first matching prefix of :data:`NETWORK_FAMILIES`."""
    return next((family for prefix, family in NETWORK_FAMILIES if network.startswith(prefix)), network)


def published(row: Mapping[str, str]) -> str | None:
    """``YYYY-MM`` a row's result was published, or None when its source gives no date here."""
    source = row.get("source", "")
    for pattern, month in PUBLISHED:
        if re.search(re.escape(pattern) + r"(?![\d])", source):
            return month
    if "TensorRT-LLM" in source:
        return TENSORRT_LLM_RELEASES.get(row.get("runtime_version", "").strip())
    return None


def before_split(row: Mapping[str, str]) -> bool | None:
    """True for a row published before :data:`SPLIT`, False after, None when undated."""
    month = published(row)
    return None if month is None else month < SPLIT
