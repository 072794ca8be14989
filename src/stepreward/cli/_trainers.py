"""The subcommands for trainers: ``serve``, ``openrlhf-path``, ``openrlhf-curriculum`` and
``verl-path``."""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["cmd_openrlhf_curriculum", "cmd_openrlhf_path", "cmd_serve", "cmd_verl_path"]


def cmd_serve(args: argparse.Namespace) -> int:
    from stepreward.integrations.openrlhf.server import serve

    try:
        serve(args.host, args.port, workers=args.workers, max_body_mb=args.max_body_mb,
              timeout_s=args.timeout, max_concurrency=args.max_concurrency,
              log_requests=args.log_requests, backend=args.backend,
              ray_address=args.ray_address, ray_resource=args.ray_resource,
              idle_timeout_s=args.idle_timeout)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        print(f"stepreward serve: cannot listen on {args.host}:{args.port}: {reason}",
              file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"stepreward serve: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_openrlhf_path(args: argparse.Namespace) -> int:
    from stepreward.integrations.openrlhf import reward_file_path

    print(reward_file_path())
    return 0


def cmd_openrlhf_curriculum(args: argparse.Namespace) -> int:
    from stepreward.integrations.openrlhf.curriculum import main as curriculum_main

    return curriculum_main([args.spec, *args.rest])


def cmd_verl_path(args: argparse.Namespace) -> int:
    from stepreward.integrations.verl import reward_file_path

    print(reward_file_path())
    return 0
