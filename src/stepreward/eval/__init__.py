"""Benchmarks (a registry, one module per benchmark in ``eval/benches/``), task-set loaders,
and evaluation runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepreward._lazy import lazy_exports

__all__ = ["BENCHES", "DATA_LAYOUT", "Bench", "EvalItem", "ReplayBackend", "bench_items",
           "canonical_code", "data_path", "get_bench", "load_bigcodebench",
           "load_bigcodebench_rows", "load_humaneval", "load_humaneval_plus",
           "load_livecodebench", "load_livecodebench_rows", "load_mbpp", "load_mbpp_plus",
           "load_mbpp_rows", "load_prime_code", "pass_at_k", "register_bench", "run_eval",
           "tasks_from_synth", "unregister_bench", "verify_canonical"]

if TYPE_CHECKING:
    from stepreward.eval._bench import Bench, EvalItem, register_bench, unregister_bench
    from stepreward.eval._harness import (
        BENCHES,
        DATA_LAYOUT,
        ReplayBackend,
        bench_items,
        data_path,
        get_bench,
        pass_at_k,
        run_eval,
    )
    from stepreward.eval._tasks import (
        canonical_code,
        load_bigcodebench,
        load_bigcodebench_rows,
        load_humaneval,
        load_humaneval_plus,
        load_livecodebench,
        load_livecodebench_rows,
        load_mbpp,
        load_mbpp_plus,
        load_mbpp_rows,
        load_prime_code,
        tasks_from_synth,
        verify_canonical,
    )

__getattr__, __dir__ = lazy_exports(__name__, {
    "stepreward.eval._bench": ["Bench", "EvalItem", "register_bench", "unregister_bench"],
    "stepreward.eval._harness": ["BENCHES", "DATA_LAYOUT", "ReplayBackend", "bench_items",
                                 "data_path", "get_bench", "pass_at_k", "run_eval"],
    "stepreward.eval._tasks": ["canonical_code", "load_bigcodebench", "load_bigcodebench_rows",
                               "load_humaneval", "load_humaneval_plus", "load_livecodebench",
                               "load_livecodebench_rows", "load_mbpp", "load_mbpp_plus",
                               "load_mbpp_rows", "load_prime_code", "tasks_from_synth",
                               "verify_canonical"],
})
