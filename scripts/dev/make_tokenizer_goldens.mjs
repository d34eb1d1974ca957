#!/usr/bin/env node
// Writes tests/data/tokenizer_golden/NAME.jsonl: what the reference tokenizer gives for each case
// of tests/data/tokenizer_corpus/corpus.txt, for the real tokenizers fetched by
// scripts/fetch_test_data.py (qwen3, gemma3, deepseek_v3, llama2).
//
// The reference is Hugging Face's JavaScript port of `tokenizers`, @huggingface/tokenizers 0.2.0,
// from the same cache as the tokenizers ($SELM_TEST_DATA_CACHE, else
// $XDG_CACHE_HOME/selm/test-data, else ~/.cache/selm/test-data).
//
// Line 1 of each file describes it; line i + 1 holds corpus case i:
//   ids           encode(text, {add_special_tokens: false}).ids
//   with_special  encode(text).ids (post-processor applied), on every 8th case only
//   plain         the ids with special added tokens treated as text (split_special_tokens),
//                 given only where they differ from ids
//   continuation  `plain` with no start-of-text prefix (no Prepend normalizer, Metaspace
//                 prepend_scheme "never", ByteLevel add_prefix_space false), on every 4th case
//                 and only where it differs from plain
//   rt            decode(ids, {skip_special_tokens: false}) === text
//   decoded       that decode, only where rt is false
//
// The port has no split_special_tokens option: `plain` and `continuation` come from copies of
// tokenizer.json without the special added tokens (and without the prefix steps).
//
//   node scripts/dev/make_tokenizer_goldens.mjs [NAME...]
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

function cacheDir() {
  if (process.env.SELM_TEST_DATA_CACHE) return process.env.SELM_TEST_DATA_CACHE;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "selm", "test-data");
}

const cache = cacheDir();
const referencePackage = join(cache, "npm", "huggingface-tokenizers");
const { Tokenizer } = await import(pathToFileURL(join(referencePackage, "dist", "tokenizers.mjs")).href);
const referenceVersion = JSON.parse(readFileSync(join(referencePackage, "package.json"), "utf8")).version;

const WITH_SPECIAL_EVERY = 8;
const CONTINUATION_EVERY = 4;

// tokenizer.json with the special added tokens removed: their strings become ordinary text.
function withoutSpecialTokens(json) {
  const copy = structuredClone(json);
  copy.added_tokens = copy.added_tokens.filter((token) => !token.special);
  return copy;
}

// tokenizer.json with the steps that mark the start of a text switched off.
function withoutStartPrefix(json) {
  const copy = structuredClone(json);
  const dropPrepend = (normalizer) => {
    if (normalizer === null) return null;
    if (normalizer.type === "Prepend") return null;
    if (normalizer.type === "Sequence") {
      return { ...normalizer, normalizers: normalizer.normalizers.map(dropPrepend).filter((n) => n !== null) };
    }
    return normalizer;
  };
  const noPrefix = (pre) => {
    if (pre === null) return null;
    if (pre.type === "Sequence") return { ...pre, pretokenizers: pre.pretokenizers.map(noPrefix) };
    if (pre.type === "Metaspace") return { ...pre, prepend_scheme: "never", add_prefix_space: false };
    if (pre.type === "ByteLevel") return { ...pre, add_prefix_space: false };
    return pre;
  };
  copy.normalizer = dropPrepend(copy.normalizer);
  copy.pre_tokenizer = noPrefix(copy.pre_tokenizer);
  return copy;
}

const sameIds = (a, b) => a.length === b.length && a.every((value, i) => value === b[i]);

function makeGolden(name, cases) {
  const dir = join(cache, "tokenizers", name);
  const jsonText = readFileSync(join(dir, "tokenizer.json"), "utf8");
  const json = JSON.parse(jsonText);
  const config = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
  const reference = new Tokenizer(json, config);
  const plain = new Tokenizer(withoutSpecialTokens(json), config);
  const continuation = new Tokenizer(withoutStartPrefix(withoutSpecialTokens(json)), config);
  const lines = [
    JSON.stringify({
      tokenizer: name,
      tokenizer_json_sha256: createHash("sha256").update(jsonText).digest("hex"),
      reference: `@huggingface/tokenizers ${referenceVersion}`,
      cases: cases.length,
      with_special_every: WITH_SPECIAL_EVERY,
      continuation_every: CONTINUATION_EVERY,
    }),
  ];
  let roundTrips = 0;
  cases.forEach((text, i) => {
    const record = { ids: reference.encode(text, { add_special_tokens: false }).ids };
    if (i % WITH_SPECIAL_EVERY === 0) record.with_special = reference.encode(text).ids;
    const plainIds = plain.encode(text, { add_special_tokens: false }).ids;
    if (!sameIds(plainIds, record.ids)) record.plain = plainIds;
    if (i % CONTINUATION_EVERY === 0) {
      const continuationIds = continuation.encode(text, { add_special_tokens: false }).ids;
      if (!sameIds(continuationIds, plainIds)) record.continuation = continuationIds;
    }
    // decode() refuses an empty list; the empty text decodes to "".
    const decoded = record.ids.length === 0 ? "" : reference.decode(record.ids, { skip_special_tokens: false });
    record.rt = decoded === text;
    if (record.rt) ++roundTrips;
    else record.decoded = decoded;
    lines.push(JSON.stringify(record));
  });
  const out = join(repo, "tests", "data", "tokenizer_golden", `${name}.jsonl`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, lines.join("\n") + "\n");
  console.log(`${out}: ${cases.length} cases, ${roundTrips} round-trip`);
}

const corpusPath = join(repo, "tests", "data", "tokenizer_corpus", "corpus.txt");
const cases = readFileSync(corpusPath, "utf8")
  .split("\n")
  .filter((line) => line.length > 0)
  .map((line) => JSON.parse(line));
const names = process.argv.length > 2 ? process.argv.slice(2) : ["qwen3", "gemma3", "deepseek_v3", "llama2"];
for (const name of names) makeGolden(name, cases);
