#!/usr/bin/env bash
# Installs the Debian 12 packages the build, tests and benchmarks need. Idempotent; needs root (or sudo).
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config git
      nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
      clang libclang-rt-dev python3
      libpng-dev libjpeg-dev libwebp-dev libgif-dev libsndfile1-dev libsoxr-dev libfftw3-dev libcurl4-openssl-dev libssl-dev
      gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user-static  # scripts/test-arm64.sh
      libedit-dev chromium)  # libedit: chat's line editing; chromium: the chat page's browser test
# Node.js and npm (for the server test's official OpenAI client): use the machine's own when present
# (it may come from another source than Debian, whose npm package would conflict with it).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PKGS+=(nodejs npm)
fi
# Boost.Beast/Asio (header-only) for the HTTP server: Debian 12's newest Boost (1.81), unless a Boost
# development package (1.74 or later) is installed already; the versioned packages conflict.
if ! dpkg-query -W -f='${Status}\n' 'libboost1.*-dev' 2>/dev/null | grep -q "install ok installed"; then
  PKGS+=(libboost1.81-dev)
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# scripts/test-arm64.sh: the libraries gemma4 links (image and audio codecs, libcurl and OpenSSL for `pull`,
# libedit for `chat`) for ARM64, Debian's multiarch -dev packages beside the host's; with them the arm64 C
# and C++ runtime (libc6, libstdc++6) the tests run on under qemu (cmake/aarch64-linux-gnu.cmake says why
# that one and not the cross toolchain's).
ARM64_PKGS=(libc6 libstdc++6 libpng-dev libjpeg-dev libwebp-dev libgif-dev libsndfile1-dev libsoxr-dev
            libfftw3-dev libcurl4-openssl-dev libssl-dev libedit-dev)
missing=()
for p in "${ARM64_PKGS[@]}"; do
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
# The server integration tests drive `gemma4 serve` with the official clients (npm packages `openai`
# and `@anthropic-ai/sdk`, pinned in tests/server/package.json and its lock file); install them into
# tests/server/node_modules (again when one of them is missing).
SERVER_TESTS="$(cd "$(dirname "$0")/.." && pwd)/tests/server"
if [ -f "$SERVER_TESTS/package.json" ] && { [ ! -f "$SERVER_TESTS/node_modules/openai/package.json" ] ||
                                            [ ! -f "$SERVER_TESTS/node_modules/@anthropic-ai/sdk/package.json" ]; }; then
  echo "installing the npm packages for tests/server"
  (cd "$SERVER_TESTS" && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; \
                         else npm install --no-audit --no-fund --loglevel=error; fi)
fi
# The quant parity tests compare our formats and kernels with llama.cpp's own libggml-base.so: node-llama-cpp's
# prebuilt package at the version ../shared/peer uses (pinned in tests/quant/package.json and its lock file),
# installed into tests/quant/node_modules. The tests fail, not skip, without it.
QUANT_TESTS="$(cd "$(dirname "$0")/.." && pwd)/tests/quant"
case "$(uname -m)" in aarch64) GGML_PKG=linux-arm64 ;; *) GGML_PKG=linux-x64 ;; esac
if [ ! -f "$QUANT_TESTS/node_modules/@node-llama-cpp/$GGML_PKG/bins/$GGML_PKG/libggml-base.so" ]; then
  echo "installing llama.cpp's libggml-base.so (npm @node-llama-cpp/$GGML_PKG) for tests/quant"
  (cd "$QUANT_TESTS" && npm ci --no-audit --no-fund --loglevel=error)
  test -f "$QUANT_TESTS/node_modules/@node-llama-cpp/$GGML_PKG/bins/$GGML_PKG/libggml-base.so"
fi
# The chat page's browser test drives Debian's chromium with puppeteer-core (pinned in
# tests/server/webui/package.json and its lock file).
WEBUI_TESTS="$(cd "$(dirname "$0")/.." && pwd)/tests/server/webui"
if [ -f "$WEBUI_TESTS/package-lock.json" ] && [ ! -f "$WEBUI_TESTS/node_modules/puppeteer-core/package.json" ]; then
  echo "installing the npm packages for tests/server/webui"
  (cd "$WEBUI_TESTS" && npm ci --no-audit --no-fund --loglevel=error)
fi
