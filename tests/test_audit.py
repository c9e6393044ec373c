"""course.audit on a corpus of small kernels written for the tests (tests/audit_corpus/*.py).

Each corpus file's first line holds its launch (`# audit: --bound ... --grid ...`); a line that
must produce findings ends with `# expect: VERDICT [VERDICT...]` (the set of verdicts of the
findings that start on that line, over all variants). Every other line must produce none.
"""
import json
import pathlib
import shlex
import textwrap

import pytest

from course.audit import Launch, audit_source
from course.audit.cli import main

CORPUS = sorted((pathlib.Path(__file__).parent / "audit_corpus").glob("*.py"))


def expectations(path):
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# audit: "), f"{path.name}: first line must hold the launch"
    exp = {}
    for i, line in enumerate(lines, 1):
        if "# expect:" in line:
            exp[i] = set(line.split("# expect:")[1].split())
    return shlex.split(lines[0][len("# audit: "):]), exp


def run_json(argv, capsys):
    status = main(argv + ["--json"])
    out = capsys.readouterr().out
    return status, json.loads(out)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_corpus_verdicts(path, capsys):
    args, expected = expectations(path)
    status, report = run_json([str(path)] + args, capsys)
    got = {}
    for f in report["findings"]:
        got.setdefault(f["line"], set()).add(f["verdict"])
    assert got == expected
    assert status == (1 if any("wraps" in v for v in expected.values()) else 0)
    assert not report["files"]["skipped"] and not any(k["error"] for k in report["kernels"])


def test_corpus_covers_the_constructs():
    text = "\n".join(p.read_text() for p in CORPUS)
    for construct in ("make_block_ptr", "atomic_add", "range(pid, n_tiles, nprog)", "tl.range(",
                      "return row * stride", "tl.cast(", "if WIDE:", "for k in range", "while ",
                      "row, col =", ":=", "for j in range(4)]", "make_tensor_descriptor",
                      "from triton import jit", "@tr.jit", "triton.autotune", "triton.heuristics", "<<",
                      "from .lib import sizes", "import lib.sizes as", "tl.constexpr(BLOCK * 2)",
                      "tl.constexpr = ROWS_PER_PROGRAM"):
        assert construct in text, construct


def findings(src, **launch):
    kernels = audit_source(src, launch=Launch(**launch))
    return [f for k in kernels for f in k.findings]


BUG = """
import triton
import triton.language as tl

@triton.jit
def k(x_ptr, M, N, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    tl.store(x_ptr + pid * BLOCK * N + tl.arange(0, BLOCK), 0.0)
"""


def test_magnitude_decides_the_verdict_and_bisection_finds_the_first_value():
    grid = ["cdiv(M, BLOCK)"]
    safe = findings(BUG, bounds={"M": 1000, "N": 4096}, grid=grid, consts={"BLOCK": 8})
    assert [(f.expr, f.verdict) for f in safe] == [("pid * BLOCK", "safe"), ("pid * BLOCK * N", "safe")]
    assert safe[1].max == (1000 - 8) * 4096 and safe[1].headroom == 2**31 - 1 - safe[1].max
    wraps = findings(BUG, bounds={"M": 600_000, "N": 4096}, grid=grid, consts={"BLOCK": 8},
                     vary=("M", 1))
    f = wraps[1]
    assert f.verdict == "wraps" and f.max == (600_000 - 8) * 4096
    # independent brute force: the largest pid * BLOCK * N over the grid, for every M near the edge
    first = next(m for m in range(524_000, 530_000) if ((-(-m // 8)) - 1) * 8 * 4096 > 2**31 - 1)
    assert f.first_wrap == {"name": "M", "value": first}
    unknown = findings(BUG, consts={"BLOCK": 8})
    assert {f.verdict for f in unknown} == {"unknown"}
    assert "no grid given" in unknown[0].reason


def test_argument_beyond_int32_is_typed_int64_like_triton_does():
    fs = findings(BUG, bounds={"M": 8, "N": 2**31}, grid=["1"], consts={"BLOCK": 8})
    assert [f.expr for f in fs] == ["pid * BLOCK"]     # pid * BLOCK * N is i64: N does not fit i32


def test_json_and_text_output_and_exit_codes(tmp_path, capsys):
    p = tmp_path / "k.py"
    p.write_text(BUG)
    argv = [str(p), "--bound", "M=600000", "--bound", "N=4096", "--const", "BLOCK=8",
            "--grid", "cdiv(M, BLOCK)"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert f"{p}:8:22: WRAPS: int32 product `pid * BLOCK * N`" in out
    assert "first wraps at M = 524,289" in out and "-> FAIL" in out
    assert main(argv[:2] + ["M=1000"] + argv[3:]) == 0
    capsys.readouterr()
    status, rep = run_json(argv, capsys)
    assert status == 1 and rep["summary"]["wraps"] == 1
    assert rep["findings"][1]["cast"] == "none" and rep["findings"][1]["sinks"] == ["pointer arithmetic"]
    assert main([str(p), "--const", "BLOCK=8"]) == 0          # unknown does not fail ...
    capsys.readouterr()
    assert main([str(p), "--const", "BLOCK=8", "--strict"]) == 1   # ... unless --strict


@pytest.mark.parametrize("argv, message", [
    (["--bound", "M"], "--bound expects NAME=VALUE"),
    (["--bound", "M=abc+"], "cannot read"),
    (["--bound", "M=Q*2"], "'Q' is not defined"),
    (["--bound", "M=__import__('os')"], "not allowed"),
    (["--grid", "0"], "must be at least 1"),
    (["--grid", "1,2,3,4"], "1 to 3 axes"),
    (["--bound", "M=4//0"], "division by zero"),
    (["--vary", "M:0"], "step must be at least 1"),
    (["--kernel", "nope"], "no @triton.jit function named nope"),
    (["--const", "BLOK=8"], "--const BLOK: no kernel or helper in the given paths has a parameter"),
    (["--bound", "MM=5"], "--bound MM: no kernel or helper in the given paths has it"),
    (["--bound", "M=100", "--vary", "MM"], "--vary MM: neither a bound (--bound or the config) nor a parameter"),
])
def test_bad_arguments_get_a_clear_error(argv, message, tmp_path, capsys):
    p = tmp_path / "k.py"
    p.write_text(BUG)
    assert main([str(p)] + argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_missing_path_and_unparsable_files(tmp_path, capsys):
    assert main([str(tmp_path / "nope.py")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "bad.py").write_text("def f(:\n")
    (tmp_path / "latin.py").write_bytes(b"x = '\xe9'\n")
    (tmp_path / "plain.py").write_text("x = 1\n")
    status, rep = run_json([str(tmp_path)], capsys)
    assert status == 0 and rep["files"]["analysed"] == 1
    reasons = {pathlib.Path(s["path"]).name: s["reason"] for s in rep["files"]["skipped"]}
    assert "syntax" in reasons["bad.py"] and "UTF-8" in reasons["latin.py"]


def test_toml_holds_per_kernel_launches(tmp_path, capsys):
    p = tmp_path / "k.py"
    p.write_text(BUG + BUG.split("\n", 4)[4].replace("def k(", "def k2("))
    cfg = tmp_path / "audit.toml"
    cfg.write_text('[defaults]\nconst = { BLOCK = 8 }\n'
                   '[kernels.k]\nbounds = { M = 600000, N = 4096 }\ngrid = ["cdiv(M, BLOCK)"]\nvary = "M:128"\n'
                   '[kernels.k2]\nbounds = { M = 1000, N = "2 * 2048" }\ngrid = "cdiv(M, BLOCK)"\n')
    status, rep = run_json([str(p), "--config", str(cfg)], capsys)
    verdicts = {(f["kernel"], f["expr"]): f["verdict"] for f in rep["findings"]}
    assert verdicts[("k", "pid * BLOCK * N")] == "wraps" and verdicts[("k2", "pid * BLOCK * N")] == "safe"
    fw = next(f["first_wrap"] for f in rep["findings"] if f["verdict"] == "wraps")
    assert fw == {"name": "M", "value": 524_416}      # the first multiple of 128 (vLLM's M_sum)
    cfg.write_text("[kernels.k]\nbogus = 1\n")
    assert main([str(p), "--config", str(cfg)]) == 2
    assert "unknown key" in capsys.readouterr().err
    cfg.write_text("[kernels.k\n")
    assert main([str(p), "--config", str(cfg)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_constexpr_flags_are_reported_per_branch_or_fixed_by_const(capsys):
    path = str(CORPUS[[p.name for p in CORPUS].index("c07_constexpr.py")])
    base = [path, "--bound", "N=1000000", "--grid", "100000", "--const", "BLOCK=64", "--kernel", "flagged"]
    status, rep = run_json(base, capsys)
    assert status == 1 and [f["variant"] for f in rep["findings"]] == [{"WIDE": False}]
    assert main(base + ["--const", "WIDE=True"]) == 0
    capsys.readouterr()
    assert main(base + ["--const", "WIDE=False"]) == 1


def test_helpers_are_followed_with_their_arguments(capsys):
    path = str(CORPUS[[p.name for p in CORPUS].index("c05_helpers.py")])
    status, rep = run_json([path, "--bound", "stride=8192", "--bound", "M=1000", "--grid", "1000"], capsys)
    assert status == 0 and {f["verdict"] for f in rep["findings"]} == {"safe"}
    assert {tuple(f["via"]) for f in rep["findings"]} == {("_row_start",), ("_offset",)}
    assert [k["name"] for k in rep["kernels"]] == ["kernel"]      # helpers are not entry points


def test_pre_commit_hook_definition_runs_as_pre_commit_would(tmp_path):
    """pre-commit runs `entry` with the changed files appended; a wrapping kernel fails the hook."""
    import subprocess
    import sys

    import yaml
    root = pathlib.Path(__file__).resolve().parent.parent
    (hook,) = yaml.safe_load((root / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "triton-int32-audit" and hook["types"] == ["python"]
    assert hook["language"] == "python"
    entry = hook["entry"].split()
    assert entry[:2] == ["python", "-m"]
    good = root / "tests" / "audit_corpus" / "c11_correct.py"
    bad = tmp_path / "bad.py"
    bad.write_text(BUG)
    cfg = tmp_path / "audit.toml"
    cfg.write_text('[kernels.k]\nbounds = { M = 600000, N = 4096 }\nconst = { BLOCK = 8 }\n'
                   'grid = ["cdiv(M, BLOCK)"]\n')

    def run(*files):
        return subprocess.run([sys.executable, *entry[1:], "--config", str(cfg), *map(str, files)],
                              capture_output=True, text=True, cwd=root, timeout=120)
    ok, fail = run(good), run(good, bad)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert fail.returncode == 1 and "WRAPS" in fail.stdout


def test_helpers_in_another_file_and_inductor_style_names(tmp_path, capsys):
    (tmp_path / "lib.py").write_text(
        "import triton\n\n\n@triton.jit\ndef row_off(row, stride):\n    return row * stride\n")
    (tmp_path / "kern.py").write_text(
        "import triton\nimport triton.language as tl\nimport lib\nfrom lib import row_off\n"
        "from consts import BLOCK\n\n\n"
        "@triton.jit\ndef k(in_ptr0, out_ptr1, xnumel):\n"
        "    pid = tl.program_id(0)\n"
        "    tl.store(out_ptr1 + row_off(pid, xnumel), tl.load(in_ptr0 + lib.row_off(pid, 7)))\n"
        "    tl.store(out_ptr1 + pid * BLOCK, 0.0)\n")
    status, rep = run_json([str(tmp_path), "--bound", "xnumel=1000000", "--grid", "4096"], capsys)
    got = sorted((pathlib.Path(f["path"]).name, f["line"], f["expr"], f["verdict"], tuple(f["via"]))
                 for f in rep["findings"])
    # one site in lib.py, reached by both calls: its values join (7 and 1,000,000 as stride)
    assert got == [("kern.py", 12, "pid * BLOCK", "unknown", ()),
                   ("lib.py", 6, "row * stride", "wraps", ("row_off",))]
    unknown = next(f for f in rep["findings"] if f["verdict"] == "unknown")
    assert unknown["reason"].startswith("BLOCK: module consts is not in the analysed tree")
    assert "--const BLOCK=" in unknown["reason"]
    assert status == 1 and [k["name"] for k in rep["kernels"]] == ["k"]
    # ... and --const gives a module-level name the value the source does not hold
    status, rep = run_json([str(tmp_path), "--bound", "xnumel=1000000", "--grid", "4096",
                            "--const", "BLOCK=64"], capsys)
    assert [f["verdict"] for f in rep["findings"] if f["expr"] == "pid * BLOCK"] == ["safe"]


def test_a_loaded_pointer_is_a_pointer():
    src = BUG.split("@triton.jit")[0] + """@triton.jit
def k(table_ptr, N, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    p = tl.load(table_ptr + pid).to(tl.pointer_type(tl.float32))
    tl.store(p + pid * N + tl.arange(0, BLOCK), 0.0)
"""
    fs = findings(src, bounds={"N": 4096}, grid=["1000"], consts={"BLOCK": 8})
    assert [(f.kind, f.expr, f.verdict) for f in fs] == [("product", "pid * N", "safe")]


def test_module_constants_resolved_from_sibling_modules_and_unknown_with_a_reason(capsys):
    """c14: constants of a sibling module (relative and absolute import), tl.constexpr globals,
    a parameter default; an import from outside the tree and a cycle stay unknown, with why."""
    path = str(CORPUS[[p.name for p in CORPUS].index("c14_module_consts.py")])
    status, rep = run_json([path, "--bound", "N=4096", "--grid", "20000"], capsys)
    top = {(f["kernel"], f["expr"]): f for f in rep["findings"]}
    assert top[("sibling_module", "pid * sizes.BLOCK_ROWS * N")]["max"] == 19_999 * 16 * 4096
    assert top[("sibling_module", "pid * absolute_sizes.BLOCK_ROWS * N")]["max"] == 19_999 * 16 * 4096
    assert top[("constexpr_globals", "pid * WIDE_BLOCK * N")]["max"] == 19_999 * 128 * 4096
    assert top[("default_from_a_module_constant", "pid * BLOCK_M * N")]["max"] == 19_999 * 8 * 4096
    mystery = top[("unresolvable", "pid * MYSTERY * N")]["reason"]
    assert "module somewhere_else is not in the analysed tree" in mystery and "--const MYSTERY=" in mystery
    assert "defined in a cycle (CYCLE_B -> CYCLE_A -> CYCLE_B)" in top[("unresolvable", "pid * CYCLE_B * N")]["reason"]
    status, rep = run_json([path, "--bound", "N=4096", "--grid", "20000", "--const", "MYSTERY=2"], capsys)
    assert {f["verdict"] for f in rep["findings"] if "MYSTERY" in f["expr"]} == {"safe"}


def test_resolver_follows_packages_and_refuses_what_is_not_one_constant(tmp_path):
    from course.audit.consts import MAX_DEPTH, Resolver, Unknown
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("TOP = 3\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import B\nA = B + 1\nLOOP = tl_missing\n")
    (pkg / "b.py").write_text("from . import a\nB = 10\nBACK = a.BACK2\n")
    (pkg / "sub" / "c.py").write_text(
        "import triton.language as tl\nimport pkg.a\nimport pkg.b as bb\nfrom .. import TOP\n"
        "from ..a import A\nC = tl.constexpr(pkg.a.A * bb.B + TOP)\nD = int(2.0) << 3\n"
        "if TOP:\n    MAYBE = 1\nDUP = 1\nDUP = 2\nENV = __import__('os').environ\n"
        + "".join(f"H{i} = H{i + 1}\n" for i in range(MAX_DEPTH + 2)) + f"H{MAX_DEPTH + 2} = 1\n")
    (pkg / "a.py").write_text("from .b import B\nfrom . import b\nA = B + 1\nBACK2 = b.BACK\n")
    r = Resolver(str(pkg / "sub" / "c.py"))
    assert r.lookup("C") == 11 * 10 + 3 and r.lookup("A") == 11 and r.lookup("D") == 16
    for name, why in (("MAYBE", "bound conditionally"), ("DUP", "assigned 2 times"),
                      ("ENV", "does not evaluate"), ("H0", f"more than {MAX_DEPTH} steps"),
                      ("NOPE", "not defined"), ("pkg.a.BACK2", "cycle"),
                      ("tl.nothing", "not in the analysed tree")):
        v = r.lookup(name)
        assert isinstance(v, Unknown) and why in v, (name, v)


def test_all_missing_constexprs_in_one_message_and_defaults_from_the_signature():
    src = BUG.split("@triton.jit")[0] + """GROUP = tl.constexpr(128)


@triton.jit
def k(x_ptr, N, BLOCK: tl.constexpr, TILE: tl.constexpr, COLS: tl.constexpr = GROUP * 2):
    pid = tl.program_id(0)
    tl.store(x_ptr + pid * BLOCK * TILE * N + pid * COLS + tl.arange(0, 4), 0.0)
"""
    fs = findings(src, bounds={"N": 4096}, grid=["1000"])
    reasons = {f.reason for f in fs if f.verdict == "unknown"}
    assert reasons == {"constexpr BLOCK, TILE have no value (pass --const BLOCK=... --const TILE=...)"}
    cols = next(f for f in fs if f.expr == "pid * COLS")
    assert cols.verdict == "safe" and cols.max == 999 * 256       # the default, GROUP * 2
    fs = findings(src, bounds={"N": 4096}, grid=["1000"], consts={"BLOCK": 2, "TILE": 4})
    assert {f.verdict for f in fs} == {"safe"}


def test_const_and_vary_names_from_helpers_and_the_config_are_accepted(tmp_path, capsys):
    # a bound that only the config sets may be varied; a name used only inside a helper may be
    # given with --const while --kernel selects the caller
    assert main(["course/audit/examples/scatter.py", "--config",
                 "course/audit/examples/bounds.toml", "--vary", "R:128"]) == 1
    assert "first wraps" in capsys.readouterr().out
    p = tmp_path / "helper.py"
    p.write_text(textwrap.dedent("""
        import triton
        import triton.language as tl

        @triton.jit
        def _offs(pid, N):
            return pid * N * SCALE

        @triton.jit
        def kern(x_ptr, N):
            pid = tl.program_id(0)
            tl.store(x_ptr + _offs(pid, N), 1.0)
    """))
    assert main([str(p), "--kernel", "kern", "--bound", "N=100000", "--grid", "100000",
                 "--const", "SCALE=4"]) == 1
    assert "WRAPS" in capsys.readouterr().out
