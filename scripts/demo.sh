#!/usr/bin/env bash
# Built-in demo of the foundation: train a SentencePiece tokenizer on a small bundled text,
# create a tiny random Llama in Hugging Face layout, and generate from it with the KV cache.
set -euo pipefail
cd "$(dirname "$0")/.."
selm=./build/selm
out=runs/demo
mkdir -p "$out"
"$selm" tokenizer train --input configs/demo/corpus.txt --vocab-size 320 --out "$out/tokenizer"
"$selm" init -c configs/demo/model.yaml --tokenizer "$out/tokenizer/tokenizer.model" --out "$out/model" --force
"$selm" generate -c configs/demo/model.yaml --model "$out/model" --prompts configs/demo/prompts.jsonl \
  --out "$out/generations.jsonl"
echo "demo: generations written to $out/generations.jsonl:"
head -c 2000 "$out/generations.jsonl"
