"""The audit must not crash on Python it has never seen: the installed triton package's own sources
(every file analysed or skipped with a reason, no internal error), and odd files."""
import json
import os
import pathlib
import time

import triton

from course.audit.cli import main

ALLOWED_SKIPS = ("not valid Python 3.11 syntax", "not UTF-8 text", "larger than", "cannot read",
                 "cannot parse")


def test_every_file_of_the_installed_triton_package(capsys):
    root = pathlib.Path(triton.__file__).parent
    files = [p for p in root.rglob("*.py")
             if not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(root).parts)]
    t0 = time.perf_counter()
    status = main([str(root), "--json"])
    seconds = time.perf_counter() - t0
    rep = json.loads(capsys.readouterr().out)
    skipped = rep["files"]["skipped"]
    assert rep["files"]["analysed"] + len(skipped) == len(files) > 50
    assert all(s["reason"].startswith(ALLOWED_SKIPS) for s in skipped), skipped
    errors = [k for k in rep["kernels"] if k["error"]]
    assert not errors, errors
    assert len(rep["kernels"]) > 20           # triton.language's own @jit functions
    assert status in (0, 1)
    assert seconds < 60, f"{seconds:.1f} s"
    print(f"triton {triton.__version__}: {len(files)} files, {rep['files']['analysed']} analysed, "
          f"{len(skipped)} skipped, {len(rep['kernels'])} jit functions, {seconds:.1f} s")


ODD = {
    "empty.py": "",
    "only_comment.py": "# nothing\n",
    "decorated_class.py": "import triton\n@triton.jit\nclass A:\n    pass\n",
    "no_args.py": "import triton\n@triton.jit\ndef k():\n    return\n",
    "star.py": "import triton\nimport triton.language as tl\n@triton.jit\ndef k(*args, **kw):\n"
               "    a, *b = args\n    tl.store(a + b * 2, 0)\n",
    "weird.py": "import triton\nimport triton.language as tl\n@triton.jit\ndef k(p, n):\n"
                "    x = lambda q: q\n    y = {i: i for i in range(3)}\n    z = f'{n}'\n"
                "    try:\n        w = p[0]\n    except Exception:\n        pass\n"
                "    match n:\n        case 1:\n            pass\n"
                "    with tl.a():\n        pass\n    del y\n    global G\n    assert n\n"
                "    return p + x(n) * n ** 2 / 3 @ n if n else -n\n",
    "recursive.py": "import triton\n@triton.jit\ndef f(x):\n    return f(x * 2)\n"
                    "@triton.jit\ndef g(x_ptr, n):\n    tl.store(x_ptr + f(n), 0)\n",
    "deep.py": "import triton\n@triton.jit\ndef k(x_ptr, n):\n    y = " + "(" * 60 + "n" + " * n)" * 60 + "\n"
               "    tl.store(x_ptr + y, 0)\n",
    "bad.py": "def (:\n",
    "tabs.py": ("import triton\n@triton.jit\ndef k(x_ptr, n):\n\tpid = tl.program_id(0)\n"
                "\ttl.store(x_ptr + pid * n, 0)\n"),
}


def test_odd_files_are_analysed_or_skipped_with_a_reason(tmp_path, capsys):
    for name, text in ODD.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "binary.py").write_bytes(b"\xff\xfe\x00garbage")
    os.mkdir(tmp_path / "__pycache__")
    (tmp_path / "__pycache__" / "x.py").write_text("def (:\n")
    status = main([str(tmp_path), "--json"])
    rep = json.loads(capsys.readouterr().out)
    skipped = {pathlib.Path(s["path"]).name: s["reason"] for s in rep["files"]["skipped"]}
    assert set(skipped) == {"bad.py", "binary.py"}
    assert rep["files"]["analysed"] == len(ODD) - 1
    assert not [k for k in rep["kernels"] if k["error"]]
    assert status in (0, 1)


def test_the_triton_kernels_shipped_inside_torch(capsys):
    """Real kernels written by others (torch.sparse, inductor's helpers, symmetric memory...)."""
    import torch
    root = pathlib.Path(torch.__file__).parent
    files = sorted(str(p) for p in root.rglob("*triton*.py")
                   if "__pycache__" not in p.parts and "jit" in p.read_text(errors="replace"))
    assert len(files) >= 3
    status = main(files + ["--json"])
    rep = json.loads(capsys.readouterr().out)
    assert rep["files"]["analysed"] == len(files) and not rep["files"]["skipped"]
    assert not [k for k in rep["kernels"] if k["error"]]
    assert len(rep["kernels"]) >= 50 and rep["findings"]
    assert status in (0, 1)


def test_a_fifo_is_skipped_not_read(tmp_path):
    # found by the adversarial review: reading a named pipe blocked the lint for ever
    import os

    from course.audit.core import load_file
    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    skipped = load_file(str(fifo))
    assert "not a regular file" in skipped.reason
