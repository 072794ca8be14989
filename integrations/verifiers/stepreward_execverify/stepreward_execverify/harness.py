"""The harness for ExecVerify tasks: verifiers' tool-less chat loop, with tools refused."""

from __future__ import annotations

from verifiers.v1.harnesses.null import NullHarness

__all__ = ["ExecVerifyHarness"]


class ExecVerifyHarness(NullHarness):
    """verifiers' ``null`` harness (one chat with the model, no shell, no tools) with MCP
    tools refused, so no task or shared tool server can hand the model a way to run the
    program it is asked about. The package exports it, so it is the taskset's default
    harness; the ``bash`` harness would give the model a shell."""

    SUPPORTS_MCP = False
    SUPPORTS_TOOL_INTERCEPTION = False
    EXECUTES_CODE = False
