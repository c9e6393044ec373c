"""The tier switch: the right tier (and fp8 path) for every machine, and the truth about it.

* a clear error instead of a baffling interpreter failure on the wrong import order;
* TRITON_INTERPRET read exactly as Triton 3.6 reads it, so "0", "" or "true" on a machine without
  a GPU say what really happens, and ``python -m kernels tier`` never crashes;
* a learner on an sm_80 GPU (A100) gets the GPU tier with the software fp8 encoder (faked device);
* KERNELS_RAW_INTERPRETER=1 is announced wherever results are judged.
"""
import json
import os
import subprocess
import sys

import pytest
import torch

import kernels
from kernels import tier
from conftest import HAS_CUDA, cpu_tier_env, run_python


@pytest.mark.skipif(not kernels.tier.INTERPRETED, reason="only the CPU tier switches the interpreter on")
def test_importing_triton_first_gives_a_clear_error():
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    p = subprocess.run([sys.executable, "-c", "import triton; import kernels"], env=env,
                       capture_output=True, text=True)
    assert p.returncode != 0
    assert "Import kernels before triton" in p.stderr, p.stderr[-500:]


def test_describe_names_the_tier():
    text = kernels.tier.describe()
    assert text.startswith("CPU tier" if kernels.tier.INTERPRETED else "GPU tier"), text


VALUES = ["1", "true", "TRUE", "True", "yes", "YES", "y", "Y", "on", "ON", "0", "", "false", "off",
          "no", "n", "2", "-1", "foo", " 1", "1 ", "truee"]


def test_env_flag_reads_values_as_triton_does(monkeypatch):
    from triton._C.libtriton import getenv_bool
    key = "KERNELS_TEST_FLAG"
    for v in VALUES:
        monkeypatch.setenv(key, v)
        assert tier.env_flag(v) == getenv_bool(key, False), repr(v)
    assert tier.env_flag(None) is False


@pytest.mark.skipif(HAS_CUDA, reason="needs a machine without a CUDA device")
@pytest.mark.parametrize("value, kind", [("0", "none"), ("", "none"), ("true", "cpu")])
def test_triton_interpret_values_on_a_cpu_only_machine(value, kind):
    code = ("import contextlib, io, json, kernels\nfrom kernels import tier\nimport triton\n"
            "import kernels.__main__ as cli\nout = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n    rc = cli.main(['tier'])\n"
            "print(json.dumps([tier.KIND, tier.describe(), bool(triton.knobs.runtime.interpret), "
            "rc, out.getvalue()]))")
    p = run_python(code, env={"TRITON_INTERPRET": value, "CUDA_VISIBLE_DEVICES": ""}, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    got_kind, text, triton_interprets, rc, printed = json.loads(p.stdout.strip().splitlines()[-1])
    assert got_kind == kind, text
    assert triton_interprets == (kind == "cpu"), "our reading disagrees with Triton's"
    assert "CUDA device was found" not in text
    if kind == "none":
        assert text.startswith("no tier") and "not run" in text
    assert rc == 0 and printed.strip() == text


FAKE_GPU = r"""
import json, torch
cap = None

class Props:
    name, total_memory = "Faked GPU", 40 << 30
    major = property(lambda self: cap[0])
    minor = property(lambda self: cap[1])

torch.cuda.is_available = lambda: True
torch.cuda.get_device_capability = lambda device=None: cap
torch.cuda.get_device_properties = lambda device=None: Props()
torch.cuda.current_device = lambda: 0
torch.cuda.mem_get_info = lambda device=None: (int(14.5 * 2**30), 15 * 2**30)   # a Colab T4
import kernels
from kernels import doctor, fp8, tier
out = {"kind": tier.KIND, "interpreted": tier.INTERPRETED}
for c in json.loads(input()):
    cap = tuple(c)
    fp8._capability.cache_clear()
    out[str(c)] = {"describe": tier.describe(), "tier_path": tier.fp8_path(),
                   "launch_path": fp8.choose(fp8.capability_of(torch.device("cuda", 0))),
                   "doctor": doctor.report() if cap in ((7, 5), (9, 0)) else None}
print(json.dumps(out))
"""

CAPS = {(7, 5): "software", (8, 0): "software", (8, 6): "software", (8, 9): "hardware",
        (9, 0): "hardware", (10, 0): "hardware"}


def test_every_cuda_gpu_gets_the_gpu_tier_with_the_right_fp8_path():
    full = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for k in ("TRITON_INTERPRET", "KERNELS_FP8_PATH"):
        full.pop(k, None)
    p = subprocess.run([sys.executable, "-c", FAKE_GPU], input=json.dumps(list(CAPS)), env=full,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["kind"] == "gpu" and not r["interpreted"], r
    for cap, path in CAPS.items():
        c = r[str(list(cap))]
        assert c["tier_path"][0] == path and c["launch_path"][0] == path, (cap, c)
        assert f"sm_{cap[0]}{cap[1]}" in c["describe"] and f"fp8 conversion: {path}" in c["describe"]
        if path == "software":
            assert "no fp8 e4m3 conversion" in c["tier_path"][1]
    # the doctor on a faked T4 (sm_75, 14.5 GiB free): GPU tier, software fp8, bf16 input (every
    # kernel mode compiles with bf16 for sm_75 -- a real compile), the crash demo at M = 524,416
    t4 = r[str([7, 5])]["doctor"]
    assert t4["tier"] == "gpu" and t4["capability"] == "sm_75" and t4["fp8_path"] == "software"
    assert t4["input_dtype"] == "bfloat16" and "compiles" in t4["input_dtype_why"], t4
    assert t4["demo_shape"] == [524_416, 8_192] and t4["live_demo"].startswith("fits"), t4
    assert t4["silent_corruption_demo"].startswith("fits"), t4
    h = r[str([9, 0])]["doctor"]
    assert h["fp8_path"] == "hardware" and h["input_dtype"] == "bfloat16" and "native" in h["input_dtype_why"]


def test_forcing_the_path_by_environment(monkeypatch):
    from kernels import fp8
    monkeypatch.setenv(fp8.ENV, "software")
    assert fp8.choose((9, 0))[0] == "software"
    assert fp8.choose(None)[0] == "software"
    monkeypatch.setenv(fp8.ENV, "hardware")
    with pytest.raises(fp8.Fp8PathError, match="sm_89"):
        fp8.choose((8, 6))
    monkeypatch.setenv(fp8.ENV, "quick")
    with pytest.raises(fp8.Fp8PathError, match="KERNELS_FP8_PATH='quick'"):
        fp8.choose((9, 0))


@pytest.mark.skipif(not tier.INTERPRETED, reason="CPU tier only")
def test_a_bad_fp8_path_is_refused_before_the_launch(monkeypatch):
    from kernels import fp8
    monkeypatch.setenv(fp8.ENV, "fast")
    x = torch.randn(8, 256).to(torch.bfloat16)
    with pytest.raises(kernels.KernelInputError, match="KERNELS_FP8_PATH"):
        kernels.silu_mul_fp8_colmajor(x)


RAW = r"""
import json, torch, kernels
from kernels import tier
from kernels.compare import check
x = (torch.randn(16, 512, generator=torch.Generator().manual_seed(3)) * 4).to(torch.bfloat16)
q, s = kernels.silu_mul_fp8_colmajor(x)
print(json.dumps({"raw": tier.RAW_INTERPRETER, "notice": tier.raw_notice(),
                  "report": str(check("colmajor", x, q, s)), "describe": tier.describe()}))
"""


def test_raw_interpreter_is_announced_where_results_are_judged():
    p = run_python(RAW, env=cpu_tier_env() | {"KERNELS_RAW_INTERPRETER": "1"}, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["raw"] is True and "KERNELS_RAW_INTERPRETER=1" in r["notice"]
    assert r["report"].startswith(r["notice"]), r["report"]
    assert "RAW interpreter" in r["describe"]
    fixed = run_python(RAW, env=cpu_tier_env(), timeout=300)
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    r = json.loads(fixed.stdout.strip().splitlines()[-1])
    assert r["raw"] is False and r["notice"] == "" and r["report"].startswith("✅"), r


@pytest.mark.skipif(not tier.INTERPRETED, reason="CPU tier only")
def test_doctor_states_the_thread_setting_and_the_path():
    from kernels import doctor
    r = doctor.report()
    assert r["tier"] == "cpu" and torch.get_num_threads() == 1
    assert "set_num_threads(1)" in r["threads"]
    assert "interpreter" in r["fp8_path"] and "interp" in r["fp8_why"]
    assert "threads" in doctor.text(r)


def test_demo_shape_keeps_m_and_follows_memory():
    from kernels import doctor
    gib = 1 << 30
    need_4k = doctor.demo_bytes(524_416, 4_096) + doctor.MARGIN
    need_8k = doctor.demo_bytes(524_416, 8_192) + doctor.MARGIN
    assert doctor.demo_bytes(524_416, 4_096) == 524_416 * 4_096 * 2 + 524_416 * 2_048 + 524_416 * 16 * 4
    assert doctor.demo_shape(80 * gib) == (524_416, 8_192)
    assert doctor.demo_shape(need_8k - 1) == (524_416, 4_096)
    assert doctor.demo_shape(need_4k) == (524_416, 4_096)
    assert doctor.demo_shape(need_4k - 1) is None
    assert doctor.demo_shape(15 * gib) == (524_416, 8_192)      # a Colab T4: 15 GiB
    # both demo widths wrap the int32 offsets at M = 524,416; 3,840 would not
    for n in doctor.DEMO_NS:
        assert (524_416 - 8) * n > 2**31 - 1
    assert (524_416 - 8) * 3_840 <= 2**31 - 1
