#!/usr/bin/python3
"""A plain eager-PyTorch Llama in the Hugging Face convention, used as the baseline that selm's
benchmarks are measured against, and a check that it really is a faithful HF Llama.

The model is written the way straightforward HF-style code runs it (eager attention, a KV cache
grown with torch.cat, full-vocabulary log_softmax for log-probs), neither tuned nor slowed down,
so the numbers stand for what a typical Python user gets. Weights come straight from an HF model
directory (config.json + model.safetensors, or a sharded index), parsed here by hand so that
nothing but torch and numpy is needed.

Sub-commands (each prints one JSON object on stdout, with the key names of `selm bench`):
  check    --model DIR [--expected FILE]     logits against transformers' golden logits
  generate --model DIR --batch B --prompt-len P --new-tokens N --repeats R [--threads K]
  train    --model DIR --batch B --seq T --steps S --warmup W [--threads K]

Run with Debian's Python, which has torch: /usr/bin/python3 scripts/dev/pyref_bench.py ...
"""
import argparse
import json
import math
import os
import resource
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
# safetensors, read by hand
# ---------------------------------------------------------------------------------------------

SAFETENSORS_DTYPES = {
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F64": torch.float64,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def read_safetensors(path, target_dtype=None):
    """Returns {name: tensor} for one .safetensors file. Floating tensors are converted to
    target_dtype when given. Each tensor is read straight into its own buffer, so loading
    holds at most one extra tensor beyond the weights (keeps peak RSS honest)."""
    if sys.byteorder != "little":
        raise SystemExit("safetensors data is little-endian; this reader assumes a little-endian host")
    tensors = {}
    with open(path, "rb") as handle:
        (header_length,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(header_length).decode("utf-8"))
        data_start = 8 + header_length
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            dtype_name = entry["dtype"]
            if dtype_name not in SAFETENSORS_DTYPES:
                raise SystemExit(f"{path}: tensor {name} has unsupported dtype {dtype_name}")
            dtype = SAFETENSORS_DTYPES[dtype_name]
            shape = list(entry["shape"])
            begin, end = entry["data_offsets"]
            element_size = torch.empty((), dtype=dtype).element_size()
            expected_bytes = element_size * math.prod(shape)
            if end - begin != expected_bytes:
                raise SystemExit(f"{path}: tensor {name} holds {end - begin} bytes, its shape needs {expected_bytes}")
            raw = torch.empty(end - begin, dtype=torch.uint8)
            handle.seek(data_start + begin)
            if expected_bytes and handle.readinto(raw.numpy()) != expected_bytes:
                raise SystemExit(f"{path}: tensor {name} is truncated")
            # A byte buffer reinterpreted in place: no copy for tensors already in the wanted type.
            tensor = raw.view(dtype).reshape(shape) if expected_bytes else torch.empty(shape, dtype=dtype)
            if target_dtype is not None and tensor.is_floating_point():
                tensor = tensor.to(target_dtype)
            tensors[name] = tensor
    return tensors


def read_model_weights(directory, target_dtype):
    single = os.path.join(directory, "model.safetensors")
    if os.path.isfile(single):
        return read_safetensors(single, target_dtype)
    index_path = os.path.join(directory, "model.safetensors.index.json")
    if not os.path.isfile(index_path):
        raise SystemExit(f"{directory}: neither model.safetensors nor model.safetensors.index.json")
    with open(index_path) as handle:
        weight_map = json.load(handle)["weight_map"]
    tensors = {}
    for shard in sorted(set(weight_map.values())):
        for name, tensor in read_safetensors(os.path.join(directory, shard), target_dtype).items():
            if weight_map.get(name) == shard:
                tensors[name] = tensor
    missing = sorted(name for name in weight_map if name not in tensors)
    if missing:
        raise SystemExit(f"{directory}: tensors named in the index but absent from their shard: {missing[:5]}")
    return tensors


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


class LlamaSettings:
    """The config.json fields the forward pass reads, with HF's fallbacks."""

    def __init__(self, raw):
        self.hidden_size = int(raw["hidden_size"])
        self.intermediate_size = int(raw["intermediate_size"])
        self.num_hidden_layers = int(raw["num_hidden_layers"])
        self.num_attention_heads = int(raw["num_attention_heads"])
        self.num_key_value_heads = int(raw.get("num_key_value_heads") or self.num_attention_heads)
        self.head_dim = int(raw.get("head_dim") or self.hidden_size // self.num_attention_heads)
        self.rms_norm_eps = float(raw.get("rms_norm_eps", 1e-6))
        # Newer transformers write the RoPE base inside rope_parameters instead of at the top level.
        rope = raw.get("rope_parameters") or {}
        self.rope_theta = float(raw.get("rope_theta") or rope.get("rope_theta") or 10000.0)
        rope_type = rope.get("rope_type") or (raw.get("rope_scaling") or {}).get("rope_type") or "default"
        if rope_type != "default":
            raise SystemExit(f"rope type {rope_type!r} is not supported by this reference (only the default RoPE)")
        self.vocab_size = int(raw["vocab_size"])
        self.tie_word_embeddings = bool(raw.get("tie_word_embeddings", False))
        # Mistral's sliding window is only a mask change, so it comes for free.
        self.sliding_window = raw.get("sliding_window") if raw.get("model_type") == "mistral" else None
        if raw.get("hidden_act", "silu") != "silu":
            raise SystemExit(f"hidden_act {raw.get('hidden_act')!r} is not supported (only silu)")
        if raw.get("attention_bias") or raw.get("mlp_bias"):
            raise SystemExit("attention_bias / mlp_bias are not supported by this reference")


class RMSNorm(nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, hidden):
        # The statistic is taken in float32 whatever the activations are, as HF does, and the
        # weight multiplies the result cast back to the input type.
        input_dtype = hidden.dtype
        hidden32 = hidden.to(torch.float32)
        variance = hidden32.pow(2).mean(-1, keepdim=True)
        normed = hidden32 * torch.rsqrt(variance + self.eps)
        return self.weight * normed.to(input_dtype)


class RotaryEmbedding(nn.Module):
    def __init__(self, head_dim, theta):
        super().__init__()
        exponents = torch.arange(0, head_dim, 2, dtype=torch.int64).to(torch.float32) / head_dim
        # Not part of the checkpoint, so it is kept out of the state dict.
        self.register_buffer("inv_freq", 1.0 / (theta ** exponents), persistent=False)

    def forward(self, position_ids, dtype):
        # position_ids: (B, T). Angles in float32 so long positions keep their precision.
        angles = position_ids[:, :, None].to(torch.float32) * self.inv_freq[None, None, :]
        doubled = torch.cat((angles, angles), dim=-1)  # (B, T, D): the rotate_half layout
        return doubled.cos().to(dtype), doubled.sin().to(dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x, cos, sin):
    # x: (B, heads, T, D); cos/sin: (B, T, D), broadcast over the heads.
    cos = cos[:, None, :, :]
    sin = sin[:, None, :, :]
    return x * cos + rotate_half(x) * sin


def repeat_kv(states, groups):
    # (B, KV, S, D) -> (B, KV * groups, S, D): each key/value head serves `groups` query heads.
    if groups == 1:
        return states
    batch, kv_heads, length, dim = states.shape
    expanded = states[:, :, None, :, :].expand(batch, kv_heads, groups, length, dim)
    return expanded.reshape(batch, kv_heads * groups, length, dim)


class Attention(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.heads = s.num_attention_heads
        self.kv_heads = s.num_key_value_heads
        self.head_dim = s.head_dim
        self.groups = self.heads // self.kv_heads
        self.scale = self.head_dim ** -0.5
        self.q_proj = nn.Linear(s.hidden_size, self.heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(s.hidden_size, self.kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(s.hidden_size, self.kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.heads * self.head_dim, s.hidden_size, bias=False)

    def forward(self, hidden, cos, sin, mask, past):
        batch, length, _ = hidden.shape
        q = self.q_proj(hidden).view(batch, length, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(hidden).view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(hidden).view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
        q = apply_rotary(q, cos, sin)
        k = apply_rotary(k, cos, sin)
        if past is not None:
            # The cache holds rotated keys with only the key/value heads, as HF's does.
            k = torch.cat((past[0], k), dim=2)
            v = torch.cat((past[1], v), dim=2)
        present = (k, v)
        keys = repeat_kv(k, self.groups)
        values = repeat_kv(v, self.groups)
        scores = torch.matmul(q, keys.transpose(2, 3)) * self.scale  # (B, H, T, S)
        scores = scores + mask
        probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(probs, values)  # (B, H, T, D)
        out = out.transpose(1, 2).reshape(batch, length, self.heads * self.head_dim)
        return self.o_proj(out), present


class MLP(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.gate_proj = nn.Linear(s.hidden_size, s.intermediate_size, bias=False)
        self.up_proj = nn.Linear(s.hidden_size, s.intermediate_size, bias=False)
        self.down_proj = nn.Linear(s.intermediate_size, s.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.self_attn = Attention(s)
        self.mlp = MLP(s)
        self.input_layernorm = RMSNorm(s.hidden_size, s.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(s.hidden_size, s.rms_norm_eps)

    def forward(self, hidden, cos, sin, mask, past):
        attended, present = self.self_attn(self.input_layernorm(hidden), cos, sin, mask, past)
        hidden = hidden + attended
        hidden = hidden + self.mlp(self.post_attention_layernorm(hidden))
        return hidden, present


class LlamaBody(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.embed_tokens = nn.Embedding(s.vocab_size, s.hidden_size)
        self.layers = nn.ModuleList([DecoderLayer(s) for _ in range(s.num_hidden_layers)])
        self.norm = RMSNorm(s.hidden_size, s.rms_norm_eps)


class LlamaForCausalLM(nn.Module):
    """Module names match HF's, so the checkpoint's tensor names are the state-dict keys."""

    def __init__(self, s):
        super().__init__()
        self.settings = s
        self.model = LlamaBody(s)
        self.rotary = RotaryEmbedding(s.head_dim, s.rope_theta)
        self.lm_head = nn.Linear(s.hidden_size, s.vocab_size, bias=False)
        if s.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def build_mask(self, attention_mask, query_length, past_length, dtype, device):
        """Additive (B, 1, T, S) mask: 0 where a query may look, the dtype's minimum elsewhere.
        Queries sit at cache positions past_length .. past_length + T - 1; attention_mask (B, S)
        marks the real (1) and padding (0) keys over the whole cached + new span."""
        total = past_length + query_length
        query_index = torch.arange(past_length, total, device=device)[:, None]
        key_index = torch.arange(total, device=device)[None, :]
        allowed = key_index <= query_index  # (T, S) causal
        if self.settings.sliding_window is not None:
            allowed = allowed & (key_index > query_index - int(self.settings.sliding_window))
        allowed = allowed[None, None, :, :]
        if attention_mask is not None:
            allowed = allowed & attention_mask[:, None, None, :].to(torch.bool)
        mask = torch.zeros(allowed.shape, dtype=dtype, device=device)
        return mask.masked_fill(~allowed, torch.finfo(dtype).min)

    def forward(self, input_ids, attention_mask=None, position_ids=None, past=None, logits_to_keep=0):
        """input_ids (B, T); returns (logits, new cache). logits_to_keep > 0 projects only the
        last that many positions, as HF's generate does for the prompt."""
        batch, length = input_ids.shape
        past_length = 0 if past is None else past[0][0].shape[2]
        if position_ids is None:
            position_ids = torch.arange(past_length, past_length + length, device=input_ids.device)
            position_ids = position_ids[None, :].expand(batch, length)
        hidden = self.model.embed_tokens(input_ids)
        cos, sin = self.rotary(position_ids, hidden.dtype)
        mask = self.build_mask(attention_mask, length, past_length, hidden.dtype, hidden.device)
        presents = []
        for index, layer in enumerate(self.model.layers):
            hidden, present = layer(hidden, cos, sin, mask, None if past is None else past[index])
            presents.append(present)
        hidden = self.model.norm(hidden)
        if logits_to_keep > 0:
            hidden = hidden[:, -logits_to_keep:, :]
        return self.lm_head(hidden), presents


def load_model(directory, dtype=torch.float32):
    with open(os.path.join(directory, "config.json")) as handle:
        settings = LlamaSettings(json.load(handle))
    model = LlamaForCausalLM(settings)
    weights = read_model_weights(directory, dtype)
    if settings.tie_word_embeddings:
        # A tied checkpoint may or may not also store the head; the embedding is what counts.
        weights.pop("lm_head.weight", None)
    expected = set(model.state_dict().keys())
    if settings.tie_word_embeddings:
        expected.discard("lm_head.weight")
    extra = sorted(set(weights) - expected)
    missing = sorted(expected - set(weights))
    if extra or missing:
        raise SystemExit(f"{directory}: checkpoint does not match the model: missing {missing[:5]}, unexpected {extra[:5]}")
    model.load_state_dict(weights, strict=False)
    del weights
    return model.to(dtype)


def count_parameters(model):
    # model.parameters() yields a tied weight once.
    return sum(parameter.numel() for parameter in model.parameters())


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def set_threads(threads):
    if threads > 0:
        torch.set_num_threads(threads)


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

# ---------------------------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------------------------


def run_check(args):
    expected_path = args.expected or os.path.join(args.model, "expected.json")
    with open(expected_path) as handle:
        expected = json.load(handle)
    model = load_model(args.model, torch.float32)
    model.eval()
    sequences = expected["input_ids"]
    golden = [torch.tensor(rows, dtype=torch.float32) for rows in expected["logits"]]
    with torch.inference_mode():
        # 1. Each sequence alone, exactly as the golden logits were made.
        single = 0.0
        for ids, reference in zip(sequences, golden):
            logits, _ = model(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.int64))
            single = max(single, (logits[0] - reference).abs().max().item())

        # 2. All sequences in one left-padded batch, positions counted from each row's first real
        #    token: exercises the padding mask (HF generate's layout).
        longest = max(len(ids) for ids in sequences)
        padded = torch.zeros(len(sequences), longest, dtype=torch.int64)
        attention = torch.zeros(len(sequences), longest, dtype=torch.int64)
        for row, ids in enumerate(sequences):
            padded[row, longest - len(ids):] = torch.tensor(ids)
            attention[row, longest - len(ids):] = 1
        positions = (attention.cumsum(-1) - 1).clamp_min(0)
        logits, _ = model(padded, attention_mask=attention, position_ids=positions)
        batched = 0.0
        for row, reference in enumerate(golden):
            batched = max(batched, (logits[row, longest - reference.shape[0]:] - reference).abs().max().item())

        # 3. Prompt then one token at a time through the KV cache: exercises the decode path.
        cached = 0.0
        for ids, reference in zip(sequences, golden):
            split = max(1, len(ids) // 2)
            logits, past = model(torch.tensor([ids[:split]]))
            pieces = [logits[0]]
            for token in ids[split:]:
                logits, past = model(torch.tensor([[token]]), past=past)
                pieces.append(logits[0])
            cached = max(cached, (torch.cat(pieces, dim=0) - reference).abs().max().item())

    worst = max(single, batched, cached)
    result = {
        "benchmark": "check",
        "model": args.model,
        "expected": expected_path,
        "sequences": len(sequences),
        "max_abs_diff": single,
        "padded_batch_max_abs_diff": batched,
        "kv_cache_max_abs_diff": cached,
        "tolerance": args.tolerance,
        "ok": worst <= args.tolerance,
    }
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


# ---------------------------------------------------------------------------------------------
# generate
# ---------------------------------------------------------------------------------------------


def greedy_generate(model, prompts, new_tokens):
    """Greedy decoding with a KV cache, no stop token. Returns (tokens, prefill_s, decode_s,
    total_s); the prefill time includes choosing the first new token."""
    batch = prompts.shape[0]
    start = time.perf_counter()
    attention = torch.ones_like(prompts)
    logits, past = model(prompts, attention_mask=attention, logits_to_keep=1)
    next_tokens = logits[:, -1, :].argmax(dim=-1)
    generated = [next_tokens]
    prefill_end = time.perf_counter()
    for _ in range(new_tokens - 1):
        attention = torch.cat((attention, torch.ones(batch, 1, dtype=attention.dtype)), dim=1)
        positions = (attention.cumsum(-1) - 1)[:, -1:]
        logits, past = model(next_tokens[:, None], attention_mask=attention, position_ids=positions, past=past)
        next_tokens = logits[:, -1, :].argmax(dim=-1)
        generated.append(next_tokens)
    tokens = torch.stack(generated, dim=1)
    end = time.perf_counter()
    return tokens, prefill_end - start, end - prefill_end, end - start


def run_generate(args):
    if min(args.batch, args.prompt_len, args.new_tokens, args.repeats) < 1:
        raise SystemExit("--batch, --prompt-len, --new-tokens and --repeats must be positive")
    set_threads(args.threads)
    model = load_model(args.model, DTYPES[args.dtype])
    model.eval()
    vocab = model.settings.vocab_size
    torch.manual_seed(0)
    prompts = torch.randint(min(3, vocab - 1), vocab, (args.batch, args.prompt_len), dtype=torch.int64)
    with torch.inference_mode():
        greedy_generate(model, prompts, args.new_tokens)  # warm-up: allocator, thread pool
        best = None
        for _ in range(args.repeats):
            run = greedy_generate(model, prompts, args.new_tokens)
            if best is None or run[3] < best[3]:
                best = run
    tokens, prefill_seconds, decode_seconds, total_seconds = best
    decode_steps = max(1, args.new_tokens - 1)
    result = {
        "benchmark": "generate",
        "implementation": "python-eager",
        "model": args.model,
        "parameters": count_parameters(model),
        "device": "cpu",
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "prompt_len": args.prompt_len,
        "new_tokens": args.new_tokens,
        "generated_tokens": int(tokens.numel()),
        "tokens_per_second": args.batch * args.new_tokens / total_seconds,
        # The first new token of each row comes from the prefill, so decode makes N - 1 per row.
        "decode_tokens_per_second": (args.new_tokens - 1) * args.batch / decode_seconds if decode_seconds > 0 else 0.0,
        "ms_per_decode_step": 1000.0 * decode_seconds / decode_steps,
        "prefill_ms": 1000.0 * prefill_seconds,
        "total_seconds": total_seconds,
        "peak_rss_mb": peak_rss_mb(),
    }
    print(json.dumps(result, indent=2))
    return 0


# ---------------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------------


def sequence_logps(logits, input_ids, prompt_length):
    """Sum of response-token log-probs per row. Token t is predicted from position t - 1; prompt
    positions are masked out, the way preference trainers usually write it."""
    shifted_logits = logits[:, :-1, :]
    labels = input_ids[:, 1:]
    log_probs = shifted_logits.float().log_softmax(dim=-1)
    token_logps = torch.gather(log_probs, dim=2, index=labels.unsqueeze(2)).squeeze(2)
    response_mask = torch.zeros_like(token_logps)
    response_mask[:, prompt_length - 1:] = 1.0  # labels at positions >= prompt_length
    return (token_logps * response_mask).sum(dim=-1)


def selm_loss(policy_chosen, policy_rejected, policy_y_ref, ref_chosen, ref_rejected, ref_y_ref, beta, alpha):
    h = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    per_example = -F.logsigmoid(beta * h) + alpha * beta * (policy_y_ref - ref_y_ref)
    return per_example.mean()


def run_train(args):
    if args.batch < 1 or args.steps < 1 or args.warmup < 0:
        raise SystemExit("--batch and --steps must be positive and --warmup non-negative")
    if args.seq < 2:
        raise SystemExit("--seq must be at least 2 (a prompt and a response token)")
    set_threads(args.threads)
    model = load_model(args.model, torch.float32)
    model.train()
    vocab = model.settings.vocab_size
    batch, length = args.batch, args.seq
    prompt_length = max(1, length // 2)

    # Same draws, in the same order, as selm's benchmark, so both see the same batch.
    torch.manual_seed(0)
    lowest = min(3, vocab - 1)
    prompts = torch.randint(lowest, vocab, (batch, prompt_length), dtype=torch.int64)
    responses = [torch.randint(lowest, vocab, (batch, length - prompt_length), dtype=torch.int64) for _ in range(3)]
    ref_chosen, ref_rejected, ref_y_ref = [-torch.rand(batch) * 10 - 100 for _ in range(3)]
    # One (3B, T) batch: chosen rows, then rejected, then y_ref, all sharing the prompts.
    input_ids = torch.cat([torch.cat((prompts, response), dim=1) for response in responses], dim=0)

    # AdamW as selm's trainer builds it: weight decay only on matrices (dim >= 2).
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.999), eps=1e-8)

    def train_step():
        optimizer.zero_grad()
        logits, _ = model(input_ids)
        logps = sequence_logps(logits, input_ids, prompt_length)
        chosen, rejected, y_ref = logps.split(batch)
        loss = selm_loss(chosen, rejected, y_ref, ref_chosen, ref_rejected, ref_y_ref, args.beta, args.alpha)
        loss.backward()
        if args.max_grad_norm > 0:  # 0 turns clipping off, as in selm
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        optimizer.step()
        return loss.item()

    last_loss = 0.0
    for _ in range(args.warmup):
        last_loss = train_step()
    start = time.perf_counter()
    for _ in range(args.steps):
        last_loss = train_step()
    seconds_per_step = (time.perf_counter() - start) / args.steps

    rows = 3 * batch
    result = {
        "benchmark": "train",
        "implementation": "python-eager",
        "model": args.model,
        "parameters": count_parameters(model),
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "loss": "selm",
        "batch": batch,
        "seq": length,
        "prompt_len": prompt_length,
        "rows_per_step": rows,
        "tokens_per_step": rows * length,
        "steps": args.steps,
        "warmup_steps": args.warmup,
        "tokens_per_second": rows * length / seconds_per_step,
        "ms_per_step": 1000.0 * seconds_per_step,
        "last_loss": last_loss,
        "peak_rss_mb": peak_rss_mb(),
    }
    print(json.dumps(result, indent=2))
    return 0


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="compare logits with transformers' golden logits")
    check.add_argument("--model", required=True, help="HF model directory")
    check.add_argument("--expected", help="golden JSON (input_ids, logits); default MODEL/expected.json")
    check.add_argument("--tolerance", type=float, default=1e-4)

    generate = commands.add_parser("generate", help="greedy KV-cached decoding throughput")
    generate.add_argument("--model", required=True)
    generate.add_argument("--batch", type=int, default=1)
    generate.add_argument("--prompt-len", type=int, default=64)
    generate.add_argument("--new-tokens", type=int, default=128)
    generate.add_argument("--repeats", type=int, default=3)
    generate.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    generate.add_argument("--threads", type=int, default=0, help="0 = torch's default")

    train = commands.add_parser("train", help="SELM preference-training step throughput")
    train.add_argument("--model", required=True)
    train.add_argument("--batch", type=int, default=8)
    train.add_argument("--seq", type=int, default=256)
    train.add_argument("--steps", type=int, default=5)
    train.add_argument("--warmup", type=int, default=1)
    train.add_argument("--threads", type=int, default=0, help="0 = torch's default")
    # Defaults are selm's (TrainConfig / PreferenceLossOptions; the benchmark sets lr 1e-5).
    train.add_argument("--beta", type=float, default=0.01)
    train.add_argument("--alpha", type=float, default=0.001)
    train.add_argument("--lr", type=float, default=1e-5)
    train.add_argument("--weight-decay", type=float, default=0.0)
    train.add_argument("--max-grad-norm", type=float, default=1.0)

    args = parser.parse_args()
    handler = {"check": run_check, "generate": run_generate, "train": run_train}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
