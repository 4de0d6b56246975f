"""The README's screenshot of ``roofline report``: writes a report, opens it in headless Chromium (the
distribution's ``chromium`` and ``chromedriver``, driven by Selenium, as the browser tests do) and
saves the top of the page as ``notebooks/figures/report.png`` (a 256-colour PNG, well under 200 kB).

    python tools/report_screenshot.py            # regenerate notebooks/figures/report.png
    python tools/report_screenshot.py -o x.png   # elsewhere
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the report shown: the command the README prints
REPORT = ["resnet50", "mobilenet_v2", "--device", "jetson-agx-orin,h100-sxm", "--precision", "fp16,int8",
          "--batch", "1..64"]
WINDOW = (1400, 1150)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(ROOT / "notebooks" / "figures" / "report.png"))
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        sys.exit("needs chromium and chromedriver (apt-get install chromium chromium-driver)")
    from PIL import Image  # matplotlib's dependency
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from simulator.cli import main as roofline

    with tempfile.TemporaryDirectory() as folder:
        page, shot = Path(folder) / "report.html", Path(folder) / "shot.png"
        if roofline(["report", *REPORT, "-o", str(page)]) != 0:
            return 1
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                     f"--window-size={WINDOW[0]},{WINDOW[1]}"):
            options.add_argument(flag)
        browser = webdriver.Chrome(options=options, service=Service(driver_path))
        try:
            browser.get(page.resolve().as_uri())
            browser.save_screenshot(str(shot))
        finally:
            browser.quit()
        image = Image.open(shot).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        image.save(args.output, optimize=True)
    print(f"wrote {args.output} ({Path(args.output).stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
