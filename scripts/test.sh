#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs the whole suite (GoogleTest through CTest),
# then runs each fuzz target briefly under libFuzzer (fixed seed and run count), then the ARM64 build and
# its tests under qemu (scripts/test-arm64.sh, which names the few tests it leaves out and why).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
(cd build && ctest --output-on-failure -j "$(nproc)")
scripts/fuzz.sh
scripts/test-arm64.sh
