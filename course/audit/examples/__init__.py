"""Three kernels the learner has never seen, for lesson 10 ("Audit a kernel you did not write").

- softmax.py    -- a fused row softmax; its row * stride offset wraps for LM-head-sized logits.
- scatter.py    -- a scatter-add of rows with atomics (an MoE combine); two int32 products wrap.
- persistent.py -- a persistent RMS-norm kernel with a grid-stride loop; correct.

Each has the kernel as found, a fixed version where one is needed, a launcher with input checks,
and a torch reference. bounds.toml holds realistic launches for `python -m course lint`:

    python -m course lint course/audit/examples --config course/audit/examples/bounds.toml

Every kernel runs in Triton's CPU interpreter at small shapes (tests/test_audit_examples.py).
"""
