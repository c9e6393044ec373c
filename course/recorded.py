"""Outputs of real GPU runs, committed under results/gpu/, for learners without a GPU.

Each file is JSON: {"device", "date", "torch", "triton", "command", "records": ...} written by
scripts/gpu_record.py on the GPU machine. Notebooks show them with :func:`banner` so a learner
always sees that the numbers are a recording, from which device and date.
"""
from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "results" / "gpu"


def available() -> list[str]:
    return sorted(p.stem for p in ROOT.glob("*.json"))


def load(name: str) -> dict:
    path = ROOT / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no recorded GPU run named {name!r} in {ROOT} "
                                f"(have: {', '.join(available()) or 'none'})")
    return json.loads(path.read_text())


def banner(rec: dict) -> str:
    return (f"[recorded GPU run] {rec['device']}, {rec['date']}, torch {rec['torch']}, "
            f"triton {rec['triton']}")
