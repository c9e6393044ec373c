"""Launch plans: what a launcher decides once per shape and configuration, not on every call.

A launcher's work before the kernel runs is all host-side Python: validate the arguments, resolve
the tile, run the offset analysis, build the grid and the argument list, and let Triton bind and
specialise the arguments to find its compiled kernel. None of it depends on x's data, only on its
shape, dtype, device, strides and alignment and on the options. A ``Plan`` holds the result; the
launcher keeps plans in a ``Plans`` cache keyed on exactly those properties, so a repeated call
costs two output allocations, one dictionary lookup and the launch of the compiled kernel
(results/gpu/h200/host_overhead.json: the per-layer host times, measured on an H200 host).

What stays per call: the checks that read per-call state (an ``out`` tensor's overlap with x; the
opt-in check_finite, which reads x), the allocations, the launch. A key that cannot be built or
hashed (a wrong type, an unhashable option) or that never compares equal (a NaN eps) simply misses:
the full validation then runs and raises its clear error. On the CPU tier Triton's interpreter has
no compiled kernel, so every call goes through the JIT launch; the plan still skips the validation.
"""
from __future__ import annotations

import os

import torch

from . import fp8, tier, validate
from . import reference as R

MAX_PLANS = 256  # per launcher; a serving process sees a handful of shapes per kernel


def _pad3(grid: tuple) -> tuple[int, int, int]:
    return tuple(grid) + (1,) * (3 - len(grid))


class Plan:
    """One validated launch: the kernel, its grid, its scalar and compile-time arguments, its
    launch options and the output shapes. ``launch`` runs it on given tensors."""

    __slots__ = ("kernel", "grid", "kwargs", "options", "q_shape", "s_cols", "s_dtype", "m",
                 "software_fp8", "args", "runner")

    def __init__(self, kernel, grid, kwargs: dict, options: dict, *, m: int, q_shape: tuple,
                 s_cols: int, s_dtype: torch.dtype, software_fp8: bool):
        self.kernel, self.grid, self.options, self.m = kernel, grid, options, m
        self.kwargs = kwargs | {"SOFTWARE_FP8": software_fp8}
        self.q_shape, self.s_cols, self.s_dtype = q_shape, s_cols, s_dtype
        self.software_fp8 = software_fp8
        self.args: tuple = ()
        self.runner = None  # the compiled kernel's launcher, after the first GPU launch

    def outputs(self, x: torch.Tensor, out: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(q, scales): `out` or a new [M, N/2] fp8 tensor, and the MN-major scales
        (kernels.reference.mn_major, uninitialised: the kernel writes every element of the buffer,
        padding rows included). Two allocations, no memset."""
        q = out if out is not None else torch.empty(self.q_shape, dtype=R.FP8, device=x.device)
        return q, R.mn_major(self.m, self.s_cols, self.s_dtype, x.device, zeros=False)

    def run(self, x: torch.Tensor, out: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Allocate the outputs and launch (no launch for M = 0): the per-call part of a call."""
        q, scales = self.outputs(x, out)
        if self.grid is not None:
            self.launch(x, q, scales)
        return q, scales

    def launch(self, x: torch.Tensor, q: torch.Tensor, s: torch.Tensor) -> None:
        q_arg = q.view(torch.uint8) if self.software_fp8 else q
        if self.runner is not None:
            # Triton's own launcher of the kernel compiled for this plan, with the arguments in
            # signature order: the call the JIT makes once it has bound and specialised them
            # (on the first launch; they cannot change while the plan's key holds).
            self.runner(x, q_arg, s, *self.args)
            return
        compiled = self.kernel[self.grid](x_ptr=x, q_ptr=q_arg, s_ptr=s, **self.kwargs,
                                          **self.options)
        if not tier.INTERPRETED and hasattr(compiled, "run"):
            self.args = tuple(self.kwargs[a] for a in self.kernel.arg_names[3:])
            self.runner = compiled[_pad3(self.grid)]


class Plans:
    """A bounded cache of plans keyed on everything a plan depends on (see ``key``)."""

    def __init__(self):
        self._plans: dict = {}

    @staticmethod
    def key(x, out, options: tuple):
        """The plan key, or None when it cannot be built (the caller then validates and raises).

        x: shape, strides, dtype, device and 16-byte alignment (Triton specialises pointers on it);
        out: the same when given; each option with its type (True and 1 are different arguments:
        one is valid, the other rejected); the fp8 path override and the tile tables' generation,
        which a process may change between calls."""
        try:
            return (x.shape, x.stride(), x.dtype, x.device, x.data_ptr() % 16 == 0,
                    None if out is None else (out.shape, out.stride(), out.dtype, out.device,
                                              out.data_ptr() % 16 == 0),
                    options, tuple(map(type, options)), os.environ.get(fp8.ENV), _generation[0])
        except Exception:  # noqa: BLE001 -- not a plain strided tensor (sparse, mkldnn, ...), not a
            return None    # tensor at all: no key; the full validation names what is wrong

    def lookup(self, x, out, options: tuple, make) -> Plan:
        """The plan for this call: the cached one, or make(x, out, *options) (every check, then
        kept). A cached plan still checks what depends on this call's addresses: out's overlap with x."""
        key = self.key(x, out, options)
        plan = self.get(key)
        if plan is None:
            return self.put(key, make(x, out, *options))
        if out is not None:
            validate.check_out(out, x, R.FP8)
        return plan

    def get(self, key):
        try:
            return None if key is None else self._plans.get(key)
        except TypeError:   # an unhashable option: no plan, the full validation explains
            return None

    def put(self, key, plan: Plan) -> Plan:
        if key is not None:
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            try:
                self._plans[key] = plan
            except TypeError:
                pass
        return plan

    def clear(self) -> None:
        self._plans.clear()

    def __len__(self) -> int:
        return len(self._plans)


_generation = [0]


def invalidate() -> None:
    """Make every cached plan stale (the tile tables changed: kernels.tiles.use_table)."""
    _generation[0] += 1
