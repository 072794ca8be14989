"""stepreward's ExecVerify tasks as a verifiers (v1) environment.

``vf-eval stepreward-execverify`` loads :class:`ExecVerifyTaskset` (tasks from ``stepreward
synth`` files or generated on the fly) with :class:`ExecVerifyHarness` (verifiers' tool-less
``null`` chat loop) as its default harness; docs/verifiers.md in the stepreward repository
has the options and a runnable example.
"""

from stepreward_execverify.harness import ExecVerifyHarness
from stepreward_execverify.taskset import (
    ExecVerifyConfig,
    ExecVerifyData,
    ExecVerifyTask,
    ExecVerifyTaskConfig,
    ExecVerifyTaskset,
    kind_metrics,
)

# verifiers' loader takes the one Taskset and the one Harness subclass named here.
__all__ = ["ExecVerifyConfig", "ExecVerifyData", "ExecVerifyHarness", "ExecVerifyTask",
           "ExecVerifyTaskConfig", "ExecVerifyTaskset", "kind_metrics"]
