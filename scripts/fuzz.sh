#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for N executions (default 100000)
# from its seed corpus with a fixed random seed, so a CI run explores the same inputs every time
# (a 60 s cap per target keeps CI within its budget now that there are 14 targets, the media decoders among
# the slow ones). FUZZ_SEED=<n> explores elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-100000}"
seed="${FUZZ_SEED:-1}"
ls fuzz/*_fuzz.cpp >/dev/null 2>&1 || exit 0
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DG4_FUZZ=ON \
  -DG4_TESTS=OFF -DG4_BENCH=OFF >/dev/null
for f in fuzz/*_fuzz.cpp; do
  name=$(basename "$f" .cpp)
  cmake --build build-fuzz -j "$(nproc)" --target "$name"
  corpus="build-fuzz/corpus-$name"
  mkdir -p "$corpus"
  [ -d "fuzz/seeds/$name" ] && cp -n fuzz/seeds/"$name"/* "$corpus"/ 2>/dev/null || true
  dict=()
  [ -f "fuzz/dicts/$name.dict" ] && dict=(-dict="fuzz/dicts/$name.dict")
  echo "fuzzing $name: $runs runs, seed $seed"
  "build-fuzz/$name" -seed="$seed" -runs="$runs" -max_total_time=60 -rss_limit_mb=2048 -max_len=65536 "${dict[@]}" "$corpus" \
    > "build-fuzz/$name.log" 2>&1 || { tail -n 40 "build-fuzz/$name.log"; echo "fuzz target $name failed"; exit 1; }
  tail -n 1 "build-fuzz/$name.log"
done
