"""Regenerate the README's chart images (``notebooks/figures/*.png``): ``python tools/readme_charts.py``.

Small PNGs from the library's own chart functions, at the README's configurations.
"""

from __future__ import annotations

from pathlib import Path

from simulator import plots
from simulator.compare import compare
from simulator.llm.inference import simulate_llm
from simulator.simulation import simulate

OUT = Path(__file__).resolve().parents[1] / "notebooks" / "figures"
DPI = 80


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    charts = {
        "roofline.png": plots.roofline_chart(simulate("resnet50", "jetson-agx-orin", precision="int8")),
        "latency_throughput.png": plots.latency_throughput_chart(
            "resnet50", ["jetson-agx-orin", "a100-sxm-80gb", "h100-sxm"], precision="int8"),
        "compare.png": plots.compare_chart(compare(["efficientvit_seg_l1", "segformer_b5"],
                                                   "jetson-agx-orin", precision="fp16")),
        "llm_throughput.png": plots.llm_throughput_chart(
            simulate_llm("llama_3_8b", "h100-sxm", batch=[1, 2, 4, 8, 16, 32, 64, 128, 256],
                         prompt=1024, generate=128)),
    }
    for name, figure in charts.items():
        plots.save_figure(figure, OUT / name, DPI)
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
