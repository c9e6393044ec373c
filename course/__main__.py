"""Command line: ``python -m course {generate,progress,hint,reset,reveal,list}`` (also ``course ...``)."""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="course", description="the course's exercises")
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="write exercises/ from solutions/ (never overwrites your edits)")
    g.add_argument("--backup", action="store_true",
                   help="move exercise notebooks you changed to .backups/<time>/ and write fresh ones")
    g.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if exercises/ is not what generate would write")
    sub.add_parser("progress", help="every exercise, passed or not yet")
    sub.add_parser("list", help="every exercise with its goal")
    h = sub.add_parser("hint", help="the next hint for an exercise (or --tier N)")
    h.add_argument("exercise")
    h.add_argument("--tier", type=int)
    r = sub.add_parser("reset", help="a fresh exercise notebook; yours goes to .backups/ first")
    r.add_argument("notebook", help="e.g. 02 or 02_group_quant")
    v = sub.add_parser("reveal", help="copy a solution into your exercise notebook (after a backup)")
    v.add_argument("notebook")
    v.add_argument("exercise", nargs="?")
    v.add_argument("--print", action="store_true", dest="print_only",
                   help="only print the solution code (e.g. for the room)")
    a = ap.parse_args(argv)

    from . import exercises as ex
    try:
        if a.cmd == "generate":
            if a.check:
                manifest = ex.load_manifest()
                stale = [n for n, t in ex.generated_files().items()
                         if manifest.get(n) != ex.sha(t)
                         or not (ex.ROOT / "exercises" / n).exists()
                         or (ex.ROOT / "exercises" / n).read_text() != t]
                for n in stale:
                    print(f"exercises/{n}: differs from what `python -m course generate` writes")
                print("exercises/ is in sync with solutions/" if not stale else
                      f"{len(stale)} file(s) out of sync")
                return 1 if stale else 0
            actions = ex.generate(backup_modified=a.backup)
            for act in actions:
                print(act)
            return 1 if any(x.action == "kept" for x in actions) else 0
        if a.cmd == "progress":
            print(ex.progress_table())
            print(f"(progress file: {ex.progress_file()})")
            return 0
        if a.cmd == "list":
            for e in ex.EXERCISES:
                print(f"{e.number:<4} {e.id:<17} {e.notebook:<22} {e.goal}")
            return 0
        if a.cmd == "hint":
            from .hints import hint
            hint(a.exercise, a.tier)
            return 0
        if a.cmd == "reset":
            act = ex.reset(a.notebook)
            print(act)
            return 0
        if a.cmd == "reveal":
            if a.print_only:
                for eid, code in ex.solution_code(a.notebook, a.exercise).items():
                    print(f"# ---- solution of {eid} ({ex.get(eid).number}) ----\n{code}\n")
                return 0
            done, saved = ex.reveal(a.notebook, a.exercise)
            print(f"revealed {', '.join(done)} in exercises/{ex.resolve_notebook(a.notebook)}.ipynb; "
                  f"your previous version is in {saved}")
            return 0
    except ex.ExerciseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
