#!/usr/bin/env bash
# The ARM64 build and its tests, on an x86-64 Debian 12 machine: cross-compiles everything with Debian's
# aarch64-linux-gnu toolchain (cmake/aarch64-linux-gnu.cmake) into build-arm64 and runs the unit and
# fixture tests under qemu-aarch64 (user mode; the CPU it emulates has NEON and the dot-product
# instructions, so both NEON kernel levels run).
#
# Not run here:
#  - the cli and server tests (tests/cli, tests/server; not even built): they start build-arm64/gemma4 as
#    a child process, which the kernel cannot execute without a binfmt_misc entry for qemu (absent in
#    containers), and they test the command line and HTTP layers, which hold no architecture-specific
#    code;
#  - Fixtures/LongPrompt.* (two minutes of CPU on x86-64) and FlashAttention.ExactPathsMatchTheDefinition /
#    FastPathStaysWithinBf16Rounding (over 10 and 6 minutes under qemu): long attention problems sized
#    for native speed; the portable tiled attention they check is the same C++ on x86-64, where they run,
#    and the fixture tests run it here end to end;
#  - the parity tests against llama.cpp's libggml and libllama (*Ggml*, QuantMix.SameTensorsAsLlamaQuantize):
#    they compare formats and quantizers, which hold no architecture-specific code, with llama.cpp's own
#    libraries; the x86-64 suite runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The libraries gemma4 links (image and audio codecs, libcurl and OpenSSL for `pull`, libedit for `chat`), for
# ARM64: Debian's -dev packages of that architecture beside the host's (multiarch).
ARM_PKGS=(libpng-dev libjpeg-dev libwebp-dev libgif-dev libsndfile1-dev libsoxr-dev libfftw3-dev
          libcurl4-openssl-dev libssl-dev libedit-dev)
missing=()
for p in "${ARM_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p:arm64" 2>/dev/null | grep -q "install ok installed" || missing+=("$p:arm64")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
  echo "installing for arm64: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
jobs="$(nproc)"
# GoogleTest for ARM64, built once from the sources libgtest-dev installs (its arm64 package would need
# a second dpkg architecture).
gtest="$PWD/build-arm64/googletest"
if [ ! -f "$gtest/install/lib/cmake/GTest/GTestConfig.cmake" ]; then
  cmake -S /usr/src/googletest -B "$gtest/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" -DCMAKE_INSTALL_PREFIX="$gtest/install" >/dev/null
  cmake --build "$gtest/build" -j "$jobs" --target install >/dev/null
fi
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S . -B build-arm64 -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
  -DCMAKE_PREFIX_PATH="$gtest/install" -DG4_TEST_SKIP_MODULES="cli;server" "${launcher[@]}" >/dev/null
# The tests first (and the objects test isa_leaks disassembles), then everything else: gemma4, benchmarks.
tests=$(find tests -mindepth 2 -name '*_test.cpp' ! -path 'tests/cli/*' ! -path 'tests/server/*' -exec basename {} .cpp \;)
probe=$(ninja -C build-arm64 -t targets all | grep -o '^g4_isa_probe:' | tr -d :) || true
cmake --build build-arm64 -j "$jobs" --target $tests $probe
(cd build-arm64 && ctest --output-on-failure -j "$jobs" -E 'LongPrompt|Ggml|LlamaQuantize|FlashAttention\.(ExactPathsMatchTheDefinition|FastPathStaysWithinBf16Rounding)')
cmake --build build-arm64 -j "$jobs"
