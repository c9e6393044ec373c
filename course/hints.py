"""Hints in tiers, from the catalog: ``hint("group_scale")`` shows the next tier, ``hint(id, 2)`` tier 2.

Tier 1 points at the idea, tier 2 at the Triton/PyTorch tool, the last is nearly the code. Which tier a
learner has seen is kept in the progress file, so ``hint(id)`` moves on with each call.
"""
from __future__ import annotations

from . import progress
from .catalog import ExerciseError, get


def hint(ex_id: str, tier: int | None = None, *, shell: bool = False) -> None:
    """Print the next hint tier for `ex_id`, or tier `tier` without moving on.

    shell=True words the "next" pointer as a shell command (``python -m course hint``)."""
    tiers = get(ex_id).hints
    n = len(tiers)
    if tier is None:
        try:
            state = progress.load_state()
            tier = min(state["hints"].get(ex_id, 0) + 1, n)
            state["hints"][ex_id] = tier
            progress.save_state(state)
        except progress.ProgressError as e:
            if shell:
                raise
            # in a notebook: say what is wrong with the file, and still help (tier 1, not recorded)
            print(f"❌ {e}")
            tier = 1
    if isinstance(tier, bool) or not isinstance(tier, int) or not 1 <= tier <= n:
        raise ExerciseError(f"{ex_id} has hints 1 to {n}, not {tier!r}")
    again = f"`python -m course hint {ex_id}`" if shell else f'hint("{ex_id}")'
    more = (f"{again} again for tier {tier + 1}" if tier < n else
            f"that was the last one; `python -m course reveal {get(ex_id).notebook} {ex_id} --print` "
            "shows the solution")
    text = f"💡 {ex_id} hint {tier}/{n}: {tiers[tier - 1]}\n   ({more})"
    print(text)
