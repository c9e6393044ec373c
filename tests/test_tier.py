"""The tier switch: a clear error instead of a baffling interpreter failure on the wrong import order."""
import os
import subprocess
import sys

import pytest

import kernels


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
