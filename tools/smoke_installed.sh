#!/usr/bin/env bash
# Every `roofline` command once, as a user runs it after `pip install`, from a directory outside
# the checkout (so nothing can be read from the source tree): each must exit 0 and print no
# traceback. Usage: tools/smoke_installed.sh [ROOFLINE]   (default: `roofline` on the PATH)
set -euo pipefail
roofline="${1:-roofline}"
work="$(mktemp -d)"
cd "$work"
failures=0
run() {
    local log="$work/log.txt"
    local status=0
    "$roofline" "$@" >"$log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        echo "FAILED (exit $status): roofline $*"; cat "$log"; failures=$((failures + 1)); return
    fi
    if grep -q "Traceback" "$log"; then
        echo "TRACEBACK: roofline $*"; cat "$log"; failures=$((failures + 1)); return
    fi
    echo "ok: roofline $*"
}
run --version
run list
run list devices
run count resnet50 --resolution 224x320
run simulate resnet50 --device jetson-agx-orin --precision int8
run compare resnet50 mobilenet_v2 --device h100-sxm
run sweep alexnet resnet18 --device h100-sxm --batch 1..8 -o x.parquet
run llm llama_3_8b --device h100-sxm --prompt 512 --generate 64
run plot roofline resnet50 --device jetson-agx-orin -o roofline.png
run accuracy --table mcu
run export resnet18 -o resnet18.onnx --no-weights
python -m simulator --version >/dev/null || { echo "FAILED: python -m simulator --version"; failures=$((failures + 1)); }
rm -rf "$work"
if [ "$failures" -ne 0 ]; then echo "$failures installed-command check(s) failed"; exit 1; fi
echo "installed commands: all ran"
