"""Command line: ``python -m course {generate,progress,list,hint,reset,reveal,nb,lint}`` (also ``course``).

Commands act on the course checkout that holds the working directory (see course.root) and say
which one when they write.
"""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["lint"]:          # everything after `lint` belongs to the audit's own parser
        return _lint(argv[1:])
    ap = argparse.ArgumentParser(prog="course", description="the course's exercises and notebooks")
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="write exercises/ from solutions/ (never overwrites your edits)")
    g.add_argument("--backup", action="store_true",
                   help="copy exercise notebooks you changed to .backups/<time>/ and write fresh ones")
    g.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if exercises/ is not what generate would write")
    sub.add_parser("progress", help="every exercise, passed or not yet")
    sub.add_parser("list", help="every exercise with its goal")
    h = sub.add_parser("hint", help="the next hint for an exercise (or --tier N)")
    h.add_argument("exercise")
    h.add_argument("--tier", type=int)
    r = sub.add_parser("reset", help="a fresh exercise notebook; yours is copied to .backups/ first")
    r.add_argument("notebook", help="e.g. 02 or 02_group_quant")
    v = sub.add_parser("reveal", help="copy a solution into your exercise notebook (after a backup)")
    v.add_argument("notebook")
    v.add_argument("exercise", nargs="?")
    v.add_argument("--print", action="store_true", dest="print_only",
                   help="only print the solution code (e.g. for the room)")
    n = sub.add_parser("nb", help="clean, check or re-execute committed notebooks")
    n.add_argument("action", choices=("clean", "check", "execute"))
    n.add_argument("paths", nargs="*", help="notebooks (default: notebooks/ and solutions/)")
    sub.add_parser("lint", help="static checks of the kernels (course.audit; options: course lint -h)")
    a = ap.parse_args(argv)

    from . import catalog, exercises as ex, progress
    from .root import course_root
    try:
        if a.cmd == "nb":
            from . import notebooks
            return notebooks.main(a.action, a.paths)
        if a.cmd == "generate":
            if a.check:
                return _generate_check(ex)
            print(f"course root: {course_root()}")
            actions = ex.generate(backup_modified=a.backup)
            for act in actions:
                print(act)
            return 1 if any(x.action == "kept" for x in actions) else 0
        if a.cmd == "progress":
            table = progress.progress_table()
            print(table)
            print(f"(progress file: {progress.progress_file()})")
            return 2 if table.error else 0
        if a.cmd == "list":
            for e in catalog.EXERCISES:
                print(f"{e.number:<4} {e.id:<17} {e.notebook:<22} {e.goal}")
            return 0
        if a.cmd == "hint":
            from .hints import hint
            hint(a.exercise, a.tier, shell=True)
            return 0
        if a.cmd == "reset":
            print(f"course root: {course_root()}")
            print(ex.reset(a.notebook))
            return 0
        if a.cmd == "reveal":
            if a.print_only:
                for eid, code in ex.solution_code(a.notebook, a.exercise).items():
                    print(f"# ---- solution of {eid} ({catalog.get(eid).number}) ----\n{code}\n")
                return 0
            print(f"course root: {course_root()}")
            done, _saved = ex.reveal(a.notebook, a.exercise)
            print(f"revealed {', '.join(done)} in exercises/{catalog.resolve_notebook(a.notebook)}.ipynb")
            return 0
    except catalog.ExerciseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def _generate_check(ex) -> int:
    manifest = ex.load_manifest()
    root = ex.course_root()
    stale = [n for n, t in ex.generated_files(root).items()
             if manifest.get(n) != ex.sha(t) or not (root / "exercises" / n).exists()
             or (root / "exercises" / n).read_text() != t]
    for n in stale:
        print(f"exercises/{n}: differs from what `python -m course generate` writes")
    print("exercises/ is in sync with solutions/" if not stale else f"{len(stale)} file(s) out of sync")
    return 1 if stale else 0


def _lint(argv: list[str]) -> int:
    """`course lint ...`: the static audit of the kernels lives in course.audit (its own parser)."""
    try:
        from course.audit.cli import main as audit_main
    except ImportError as e:
        if getattr(e, "name", "") and not str(e.name).startswith("course.audit"):
            raise
        print("error: `course lint` needs the course.audit package, which this checkout does not "
              "have yet (course/audit/cli.py).", file=sys.stderr)
        return 2
    return audit_main(argv)


if __name__ == "__main__":
    sys.exit(main())
