#!/usr/bin/env bash
# The main job: install what is missing, build build/gemma4, write the embedded default model (a tiny
# Gemma 4 with RANDOM weights, the real vocabulary and chat template) and run it end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
if [ ! -f models/demo/model.safetensors ]; then
  mkdir -p models
  build/gemma4 demo-model --out models/demo
fi
echo
echo "== gemma4 info (demo model: random weights, so its answers are noise) =="
build/gemma4 info --model models/demo | head -n 12
echo
echo "== gemma4 generate: 16 greedy tokens after <bos> (ids in, ids out) =="
build/gemma4 generate --model models/demo --ids 2,818,5279,529 --max-tokens 16 --greedy --json
