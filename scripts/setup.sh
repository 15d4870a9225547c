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
echo "== The demo model has RANDOM weights: everything below works, but what it says is noise. =="
echo
echo "== gemma4 info =="
build/gemma4 info --model models/demo | head -n 12
echo
echo "== gemma4 run: the official chat template, the real tokenizer, a streamed answer =="
build/gemma4 run --model models/demo -p "Why is the sky blue?" --max-tokens 24 --seed 1 --stats
echo
echo "== gemma4 generate: token ids in, token ids out =="
build/gemma4 generate --model models/demo --ids 2,818,5279,529 --max-tokens 8 --greedy --json
