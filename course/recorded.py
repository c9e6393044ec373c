"""Outputs of real GPU runs, committed under results/gpu/<device>/, for learners without a GPU.

One folder per GPU (``h100``, ``h200``, …). Each file is JSON: {"device", "date", "torch",
"triton", "command", "records": ...} written on that GPU by scripts/gpu_record.py (or
``python -m kernels bench``). Notebooks show them with :func:`banner`, so a learner always sees that
the numbers are a recording, from which device and date.

The lessons' prose was written against the first set recorded (``DEFAULT_DEVICE``); the other
devices' recordings of the same run are listed beside it (course.kit.recorded).
"""
from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "results" / "gpu"
DEFAULT_DEVICE = "h100"


def devices() -> list[str]:
    """Every device folder that holds at least one recording."""
    return sorted(p.name for p in ROOT.iterdir() if p.is_dir() and any(p.glob("*.json"))) \
        if ROOT.is_dir() else []


def available(device: str = DEFAULT_DEVICE) -> list[str]:
    return sorted(p.stem for p in (ROOT / device).glob("*.json"))


def load(name: str, device: str = DEFAULT_DEVICE) -> dict:
    path = ROOT / device / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no recorded GPU run named {name!r} in {ROOT / device} "
                                f"(have: {', '.join(available(device)) or 'none'}; "
                                f"devices: {', '.join(devices()) or 'none'})")
    return json.loads(path.read_text())


def load_all(name: str) -> dict[str, dict]:
    """{device folder: recording} for every device that recorded `name` (unreadable files skipped)."""
    out = {}
    for dev in devices():
        try:
            out[dev] = load(name, dev)
        except (FileNotFoundError, json.JSONDecodeError, OSError):
            continue
    return out


def banner(rec: dict) -> str:
    return (f"[recorded GPU run] {rec['device']}, {rec['date']}, torch {rec['torch']}, "
            f"triton {rec['triton']}")
