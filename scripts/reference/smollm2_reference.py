#!/usr/bin/env python3
"""Records reference tokenizations and greedy continuations of SmolLM2-135M-Instruct (GGUF Q4_1) with Hugging Face
transformers, an implementation independent of dijiang4j and Jlama, as JSON fixtures for the Java tests.

Run once, by hand (see plugin/src/test/resources/smollm2/README.md):
    python3 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install torch transformers gguf numpy accelerate
    scripts/fetch-smollm2.sh
    /tmp/refvenv/bin/python scripts/reference/smollm2_reference.py \
        --gguf ~/.cache/dijiang4j/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --out plugin/src/test/resources/smollm2

transformers dequantizes the GGUF weights itself (through the gguf package) into float32 and undoes llama.cpp's Q/K
permutation itself; the tokenizer is rebuilt by transformers' own GGUF converter.
"""
import argparse
import hashlib
import json
import os
import platform

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

TEXTS = {
    "ascii": "Hello world! The quick brown fox jumps over the lazy dog.",
    "accents": "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, na\u00efve fa\u00e7ade, se\u00f1or, Stra\u00dfe, \u00e9l\u00e8ve.",
    "digits": "In 2024, 3.14159 x 42 = 131.94678; call 555-0123 at 07:45.",
    "code": "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "emoji": "I love pizza \U0001F355 and cats \U0001F431! \U0001F44D\U0001F3FD Done \u2705",
    "spaces": "two  spaces,   three, tab\there\n\nnew paragraph   \n end",
    "contractions": "It's what we'd've done; they're here, you'll see, I'm sure.",
    "special": "<|im_start|>user\nHi there<|im_end|>\n",
}

PLAIN_PROMPTS = {
    "capital": "The capital of France is",
    "story": "Once upon a time, there was a little",
}

CHAT_PROMPTS = {
    "chat_capital": "What is the capital of France?",
    "chat_numbers": "List three prime numbers.",
}

STEPS = 10
TOP = 5


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def greedy(model, ids):
    """Greedy continuation: per step the chosen id and the top-5 (id, logit) of the full-precision logits."""
    steps = []
    ids = list(ids)
    with torch.no_grad():
        for _ in range(STEPS):
            logits = model(torch.tensor([ids])).logits[0, -1].double()
            values, indices = torch.topk(logits, TOP)
            chosen = int(indices[0])
            steps.append({
                "token": chosen,
                "top_ids": [int(i) for i in indices],
                "top_logits": [float(v) for v in values],
            })
            ids.append(chosen)
    return steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    directory, name = os.path.split(os.path.abspath(args.gguf))
    torch.manual_seed(0)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
    model.eval()

    made_by = {
        "script": "scripts/reference/smollm2_reference.py",
        "gguf": name,
        "gguf_sha256": sha256(args.gguf),
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    os.makedirs(args.out, exist_ok=True)

    tokenization = {
        "made_by": made_by,
        "note": "ids from tokenizer(text, add_special_tokens=False).input_ids",
        "texts": [
            {"name": k, "text": v, "ids": tokenizer(v, add_special_tokens=False).input_ids} for k, v in TEXTS.items()
        ],
    }
    with open(os.path.join(args.out, "tokenization.json"), "w", encoding="utf-8") as f:
        json.dump(tokenization, f, ensure_ascii=False, indent=1)

    prompts = []
    for key, text in PLAIN_PROMPTS.items():
        ids = tokenizer(text, add_special_tokens=False).input_ids
        prompts.append({"name": key, "kind": "plain", "text": text, "prompt_ids": ids, "steps": greedy(model, ids)})
    for key, question in CHAT_PROMPTS.items():
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True)
        ids = tokenizer(text, add_special_tokens=False).input_ids
        prompts.append({"name": key, "kind": "chat", "question": question, "text": text, "prompt_ids": ids,
                        "steps": greedy(model, ids)})
    for p in prompts:
        p["continuation"] = tokenizer.decode([s["token"] for s in p["steps"]])
    generation = {
        "made_by": made_by,
        "note": "greedy, %d steps, full forward pass per step in float32; top_logits are raw logits" % STEPS,
        "prompts": prompts,
    }
    with open(os.path.join(args.out, "generation.json"), "w", encoding="utf-8") as f:
        json.dump(generation, f, ensure_ascii=False, indent=1)
    for p in prompts:
        print(p["name"], repr(p["continuation"]))

    # The dequantized, un-permuted weights as transformers holds them: a SHA-256 of each tensor's float32
    # little-endian bytes (row-major, Hugging Face names). lm_head.weight is tied to the embedding and left out.
    weights = {}
    for key, tensor in model.state_dict().items():
        if key == "lm_head.weight" and model.config.tie_word_embeddings:
            continue
        data = tensor.detach().contiguous().to(torch.float32).numpy().astype("<f4")
        weights[key] = {"shape": list(data.shape), "sha256": hashlib.sha256(data.tobytes()).hexdigest()}
    with open(os.path.join(args.out, "weights.json"), "w", encoding="utf-8") as f:
        json.dump({"made_by": made_by, "note": "SHA-256 of each tensor's float32 little-endian bytes, row-major",
                   "tensors": weights}, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
