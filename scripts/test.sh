#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs the whole suite (GoogleTest through CTest),
# then runs each fuzz target briefly under libFuzzer (fixed seed and run count). The ARM64 build's tests
# under qemu (scripts/test-arm64.sh) are not part of it yet: on the merged tree two of them do not finish
# under emulation (ThreadPool.RunsEveryThreadOnce hangs, the vision tower tests take minutes each).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
(cd build && ctest --output-on-failure -j "$(nproc)")
scripts/fuzz.sh
