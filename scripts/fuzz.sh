#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for N seconds (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"
ls fuzz/*_fuzz.cpp >/dev/null 2>&1 || exit 0
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DG4_FUZZ=ON \
  -DG4_TESTS=OFF -DG4_BENCH=OFF >/dev/null
for f in fuzz/*_fuzz.cpp; do
  name=$(basename "$f" .cpp)
  cmake --build build-fuzz -j "$(nproc)" --target "$name"
  corpus="build-fuzz/corpus-$name"
  mkdir -p "$corpus"
  [ -d "fuzz/seeds/$name" ] && cp -n fuzz/seeds/"$name"/* "$corpus"/ 2>/dev/null || true
  echo "fuzzing $name for ${secs}s"
  "build-fuzz/$name" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 "$corpus" 2>&1 | tail -n 3
done
