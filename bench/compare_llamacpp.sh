#!/bin/sh
# Runs our engine and llama.cpp (node-llama-cpp, ../shared/peer/bench.mjs) on the same GGUF files back to
# back and prints a table; see compare_llamacpp.py for the columns. Example:
#   bench/compare_llamacpp.sh --bin build/gemma4 --peer /tmp/peer --threads 2 e2b-q8_0.gguf e2b-q4_0.gguf
exec python3 "$(dirname "$0")/compare_llamacpp.py" "$@"
