#!/usr/bin/env node
// Times the reference tokenizer (@huggingface/tokenizers, the JavaScript port of Hugging Face
// tokenizers) encoding a text file, for a side-by-side comparison with `selm bench tokenize`:
// one thread, each line (with its line break, as a JSONL dataset is read record by record)
// encoded on its own without special tokens added, best of N runs.
//
//   node scripts/dev/tokenizer_speed.mjs TEXT_FILE [--tokenizer qwen3,gemma3,deepseek_v3,llama2]
//        [--runs 3] [--json]
//
// The tokenizers and the reference package come from the test-data cache (see
// scripts/fetch_test_data.py): $SELM_TEST_DATA_CACHE, else $XDG_CACHE_HOME/selm/test-data, else
// ~/.cache/selm/test-data. A --tokenizer entry that contains a "/" is read as a directory
// holding tokenizer.json and tokenizer_config.json.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

function cacheDir() {
  if (process.env.SELM_TEST_DATA_CACHE) return process.env.SELM_TEST_DATA_CACHE;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "selm", "test-data");
}

function parseArguments(argv) {
  const options = { file: null, tokenizers: ["qwen3", "gemma3", "deepseek_v3", "llama2"], runs: 3, json: false };
  for (let i = 0; i < argv.length; ++i) {
    const argument = argv[i];
    if (argument === "--tokenizer") options.tokenizers = argv[++i].split(",");
    else if (argument === "--runs") options.runs = Number.parseInt(argv[++i], 10);
    else if (argument === "--json") options.json = true;
    else if (argument.startsWith("--")) throw new Error(`unknown option ${argument}`);
    else options.file = argument;
  }
  if (!options.file || !(options.runs > 0)) {
    console.error("usage: node scripts/dev/tokenizer_speed.mjs TEXT_FILE [--tokenizer a,b] [--runs N] [--json]");
    process.exit(2);
  }
  return options;
}

const options = parseArguments(process.argv.slice(2));
const cache = cacheDir();
const { Tokenizer } = await import(
  pathToFileURL(join(cache, "npm", "huggingface-tokenizers", "dist", "tokenizers.mjs")).href
);

const text = readFileSync(options.file, "utf8");
const lines = [];
for (let start = 0; start < text.length; ) {
  const newline = text.indexOf("\n", start);
  const end = newline < 0 ? text.length : newline + 1;
  lines.push(text.slice(start, end));
  start = end;
}
const megabytes = Buffer.byteLength(text, "utf8") / 1e6;

const results = [];
for (const name of options.tokenizers) {
  const dir = name.includes("/") ? name : join(cache, "tokenizers", name);
  const loadStart = performance.now();
  const tokenizer = new Tokenizer(
    JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")),
    JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8")),
  );
  const loadSeconds = (performance.now() - loadStart) / 1000;
  let best = Infinity;
  let tokens = 0;
  for (let run = 0; run < options.runs; ++run) {
    // A fresh copy each run would also time JSON parsing; the BPE cache warming up over the
    // first run is part of what is measured, as it is in selm.
    let count = 0;
    const start = performance.now();
    for (const line of lines) count += tokenizer.encode(line, { add_special_tokens: false }).ids.length;
    best = Math.min(best, (performance.now() - start) / 1000);
    tokens = count;
  }
  const result = {
    tokenizer: name,
    megabytes: Number(megabytes.toFixed(3)),
    lines: lines.length,
    tokens,
    load_seconds: Number(loadSeconds.toFixed(3)),
    best_seconds: Number(best.toFixed(3)),
    mb_per_second: Number((megabytes / best).toFixed(3)),
    tokens_per_second: Math.round(tokens / best),
  };
  results.push(result);
  if (!options.json) {
    console.log(
      `${name.padEnd(12)} ${result.mb_per_second.toFixed(2).padStart(7)} MB/s ${String(result.tokens_per_second).padStart(9)} tokens/s` +
        `  (${tokens} tokens, ${megabytes.toFixed(2)} MB, best of ${options.runs}, load ${loadSeconds.toFixed(2)} s)`,
    );
  }
}
if (options.json) console.log(JSON.stringify(results, null, 2));
