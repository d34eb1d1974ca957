#!/usr/bin/env python3
"""Cross-checks selm against Hugging Face transformers and makes the golden fixtures of
tests/data/hf. Run on a machine that has torch + transformers (selm itself needs neither):

    python3 scripts/dev/hf_crosscheck.py --selm-model tests/data/hf/selm_tiny --out OUT_DIR

1. Loads the model directory that `selm init` wrote (config.json, model.safetensors,
   tokenizer.model, tokenizer_config.json) with transformers, unchanged, and records its logits
   and its tokenizer's ids for a few texts and a chat conversation (selm_tiny_expected.json).
2. Builds tiny transformers-made checkpoints (Llama with grouped-query attention, Llama with
   tied embeddings stored in bfloat16, Mistral with a sliding window, a sharded Llama), saves them
   with save_pretrained, and records their logits (hf_made/<name>/expected.json) so that
   selm's loader and forward pass are tested against an independent implementation.
Everything lands in OUT_DIR/hf_fixtures.tar.gz.
"""
import argparse
import json
import os
import shutil
import tarfile
import tempfile

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, MistralConfig

INPUT_IDS = [[1, 17, 42, 99, 5, 250, 31, 8, 77, 64, 12, 200, 3, 91],
             [1, 300, 2, 45, 45, 45, 19, 180]]


def logits_for(model, sequences):
    model.eval()
    out = []
    with torch.no_grad():
        for ids in sequences:
            tensor = torch.tensor([ids])
            logits = model(input_ids=tensor, attention_mask=torch.ones_like(tensor)).logits[0]
            out.append(logits.float().tolist())
    return out


def randomize(model, seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight") or "layernorm" in name:
                param.uniform_(0.5, 1.5)
            else:
                param.normal_(0.0, 0.2)


def hf_made(work, name, config, dtype, shard):
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager")
    randomize(model, seed=len(name))
    model = model.to(dtype)
    directory = os.path.join(work, "hf_made", name)
    kwargs = {"max_shard_size": "40KB"} if shard else {}
    model.save_pretrained(directory, safe_serialization=True, **kwargs)
    reloaded = AutoModelForCausalLM.from_pretrained(directory, torch_dtype=torch.float32,
                                                    attn_implementation="eager")
    expected = {"input_ids": INPUT_IDS, "logits": logits_for(reloaded, INPUT_IDS)}
    with open(os.path.join(directory, "expected.json"), "w") as f:
        json.dump(expected, f)
    print("made", name, sorted(os.listdir(directory)))


def check_selm_model(work, selm_model):
    model = AutoModelForCausalLM.from_pretrained(selm_model, torch_dtype=torch.float32,
                                                 attn_implementation="eager")
    tokenizer = AutoTokenizer.from_pretrained(selm_model)
    texts = ["The morning was cold.", " leading space and  two spaces", "line one\nline two",
             "café au lait", "before</s>after", "ends with special </s>", "<s>starts special"]
    conversation = [{"role": "user", "content": "Tell me about the garden."},
                    {"role": "assistant", "content": "It was wild and full of bees."},
                    {"role": "user", "content": "And the river?"}]
    chat_text = tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
    chat_ids = tokenizer(chat_text, add_special_tokens=False).input_ids
    expected = {
        "transformers_version": transformers.__version__,
        "tokenizer_class": type(tokenizer).__name__,
        "input_ids": INPUT_IDS,
        "logits": logits_for(model, INPUT_IDS),
        "texts": texts,
        "text_ids_with_special": [tokenizer(t, add_special_tokens=True).input_ids for t in texts],
        "conversation": conversation,
        "chat_text": chat_text,
        "chat_ids": chat_ids,
    }
    with open(os.path.join(work, "selm_tiny_expected.json"), "w") as f:
        json.dump(expected, f)
    print("selm model loaded by transformers", transformers.__version__, type(tokenizer).__name__)
    print("chat text:", repr(chat_text))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--selm-model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--selm-only", action="store_true", help="skip making the transformers checkpoints")
    args = parser.parse_args()
    work = tempfile.mkdtemp()
    try:
        check_selm_model(work, args.selm_model)
    except Exception as error:  # keep going: the fixtures below are useful on their own
        print("SELM MODEL CHECK FAILED:", repr(error))
    if args.selm_only:
        os.makedirs(args.out, exist_ok=True)
        shutil.copy(os.path.join(work, "selm_tiny_expected.json"), args.out)
        return
    common = dict(vocab_size=320, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, max_position_embeddings=128, rms_norm_eps=1e-5,
                  bos_token_id=1, eos_token_id=2)
    hf_made(work, "llama_gqa", LlamaConfig(num_key_value_heads=2, rope_theta=10000.0,
                                           tie_word_embeddings=False, **common), torch.float32, False)
    hf_made(work, "llama_tied_bf16", LlamaConfig(num_key_value_heads=4, rope_theta=500000.0,
                                                 tie_word_embeddings=True, **common), torch.bfloat16, False)
    hf_made(work, "mistral_window", MistralConfig(num_key_value_heads=1, sliding_window=4,
                                                  tie_word_embeddings=False, **common), torch.float32, False)
    hf_made(work, "llama_sharded", LlamaConfig(num_key_value_heads=2, tie_word_embeddings=False, **common),
            torch.float32, True)
    os.makedirs(args.out, exist_ok=True)
    with tarfile.open(os.path.join(args.out, "hf_fixtures.tar.gz"), "w:gz") as tar:
        tar.add(work, arcname="hf")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
