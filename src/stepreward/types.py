"""Shared result and option types of stepreward (pydantic models that round-trip through JSON)."""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

__all__ = [
    "CodeScore",
    "CodeTask",
    "ExecResult",
    "ExecStatus",
    "GradingPolicy",
    "Limits",
    "Question",
    "RewardConfig",
    "Sample",
    "Score",
    "Step",
    "TestCase",
    "TestFailure",
    "TestReport",
    "Trace",
    "TraceException",
    "TraceStatus",
    "Value",
    "Verdict",
]

ExecStatus = Literal["ok", "error", "timeout", "memory", "output_limit", "crashed", "rejected"]


class Limits(BaseModel):
    """Resource limits for one sandboxed execution (frozen and hashable).

    ``timeout_s`` is wall-clock time, enforced by killing the task; CPU time is capped at the
    same number of seconds (rounded up).  ``memory_mb`` is the address space the task may add
    on top of the pre-loaded interpreter (``None``: no limit).  A ``Sandbox.call`` result
    record may hold at most ``max_result_bytes`` and ``max_result_items`` JSON values (checked
    before it is decoded; a plain program's record is capped at 64 KiB).  With
    ``progress_timeout_s`` the task is also killed (``timeout``) when it goes that long
    without reporting progress (``report_progress()``, from a call target).

    Example:
        >>> Limits(timeout_s=1.0, memory_mb=256).timeout_s
        1.0
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_s: float = Field(2.0, gt=0, le=3600)
    memory_mb: int | None = Field(512, ge=16, le=1 << 20)
    max_output_bytes: int = Field(1_000_000, ge=0, le=1 << 30)
    max_result_bytes: int = Field(32 << 20, ge=1024, le=1 << 30)
    max_open_files: int = Field(64, ge=8, le=1 << 16)
    max_processes: int = Field(1, ge=1, le=4096)
    max_code_bytes: int = Field(1_000_000, ge=1, le=1 << 30)
    max_stdin_bytes: int = Field(16 << 20, ge=0, le=1 << 30)
    max_result_items: int = Field(1 << 20, ge=16, le=1 << 30)
    progress_timeout_s: float | None = Field(None, gt=0, le=3600)

    @model_validator(mode="before")
    @classmethod
    def _reject_bools(cls, data: Any) -> Any:
        # bool is an int subclass: Limits(timeout_s=True) is almost certainly a bug.
        if isinstance(data, dict):
            for key, value in data.items():
                if isinstance(value, bool):
                    raise ValueError(f"{key} must be a number, not a bool")
        return data


class ExecResult(BaseModel):
    """What one sandboxed execution did.

    ``status`` is decided by the parent from data the task cannot forge (exit status, signals,
    resource usage, output sizes); the task's own report only refines ``ok`` vs ``error``.
    ``reason`` explains every status other than ``ok``.

    Example:
        >>> r = ExecResult(status="ok", stdout="4\\n")
        >>> r.ok, r.stdout
        (True, '4\\n')
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: ExecStatus
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    error_type: str | None = None
    error_message: str | None = None
    reason: str | None = None
    duration_s: float = 0.0
    cpu_s: float = 0.0
    max_rss_mb: float = 0.0
    exit_code: int | None = None
    signal: str | None = None
    value: Any = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Value(BaseModel):
    """A recorded Python value: its type name, capped repr and canonical literal.

    ``literal`` is the canonical JSON encoding (see :mod:`stepreward.values`) when the object
    is built only from literal types, and ``is_literal`` says whether it is (``literal`` is
    ``None`` both for the value ``None`` and for objects that have no literal form).

    Example:
        >>> v = Value(type_name="list", repr="[1, 2]", literal=[1, 2], is_literal=True)
        >>> v.to_python()
        [1, 2]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type_name: str
    repr: str
    literal: Any = None
    is_literal: bool = False
    truncated: bool = False

    def to_python(self) -> Any:
        """Decode the literal into a fresh object; ValueError if there is none."""
        if not self.is_literal:
            raise ValueError(f"{self.type_name} value {self.repr!r} has no literal form")
        from stepreward.values import from_literal

        return from_literal(self.literal)

    @property
    def askable(self) -> bool:
        """Whether a question may be asked about this value (literal and not truncated)."""
        return self.is_literal and not self.truncated


class Step(BaseModel):
    """One executed statement of user code.

    ``line`` is the statement's first line, ``occurrence`` counts executions of that line
    across the whole run (1-based), ``depth`` is the call depth (0 = the function the call
    entered), ``state_after`` holds the frame's locals once the statement finished, and
    ``changed`` the names among them whose value the statement changed.

    Example:
        >>> Step(line=3, occurrence=1, func="f", depth=0, frame=0).line
        3
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    line: int
    occurrence: int
    func: str
    depth: int
    frame: int
    state_after: dict[str, Value] = Field(default_factory=dict)
    changed: tuple[str, ...] = ()


class TraceException(BaseModel):
    """An exception raised by the traced program (or why it could not start)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    message: str
    line: int | None = None


TraceStatus = Literal["ok", "exception", "error", "timeout", "memory", "crashed", "rejected"]


class Trace(BaseModel):
    """Statement-level record of one call's execution (see :func:`stepreward.trace`).

    ``status``: ``ok`` (the call returned), ``exception`` (it raised; ``exception`` says what,
    and the steps up to it are kept), ``error`` (the source or call could not be compiled or
    set up), or the sandbox status (``timeout``, ``memory``, ``crashed``, ``rejected``) with no
    steps.  ``truncated`` marks a trace cut at the step cap; it then ends early.

    Example:
        >>> t = Trace(source="", call="f()", status="ok")
        >>> t.next_line(1, 1) is None
        True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    call: str
    status: TraceStatus
    result: Value | None = None
    exception: TraceException | None = None
    steps: list[Step] = Field(default_factory=list)
    truncated: bool = False
    truncated_reason: str | None = None
    reason: str | None = None
    stdout: str = ""
    python: str = ""
    duration_s: float = 0.0

    _index: dict[tuple[int, int], int] | None = PrivateAttr(default=None)

    def _positions(self) -> dict[tuple[int, int], int]:
        if self._index is None:
            self._index = {(s.line, s.occurrence): i for i, s in enumerate(self.steps)}
        return self._index

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def executed_lines(self) -> set[int]:
        """First lines of the statements that ran at least once."""
        return {s.line for s in self.steps}

    def occurrences(self, line: int) -> int:
        """How many times the statement starting at ``line`` ran."""
        return sum(1 for s in self.steps if s.line == line)

    def step_at(self, line: int, occurrence: int) -> Step | None:
        """The ``occurrence``-th execution of the statement at ``line``, or None."""
        i = self._positions().get((line, occurrence))
        return None if i is None else self.steps[i]

    def next_line(self, line: int, occurrence: int) -> int | None:
        """Line of the statement that ran right after ``line``'s ``occurrence``-th execution.

        -1 when the program ended right after it (returned or raised); None when that
        execution did not happen, or the trace was truncated right after it.
        """
        i = self._positions().get((line, occurrence))
        if i is None:
            return None
        if i + 1 < len(self.steps):
            return self.steps[i + 1].line
        return None if self.truncated else -1

    def value_after(self, line: int, occurrence: int, var: str) -> Value | None:
        """Value of local ``var`` right after that execution (None if unset or not run)."""
        step = self.step_at(line, occurrence)
        return None if step is None else step.state_after.get(var)


#: A question kind's name: one of ``stepreward.questions.KINDS`` (checked where questions are
#: built and graded, so that a kind registered in one file needs no change here).
QuestionKindName: TypeAlias = str
VerdictStatus = Literal["correct", "wrong", "unparseable", "missing", "unverified"]


class Question(BaseModel):
    """One question about a traced call, with its gold answer.

    ``gold`` is the kind's canonical gold (a literal, a statement text, a bool, ...);
    ``gold_text`` is the answer line that states it in the prompt's format.

    Example:
        >>> q = Question(kind="coverage", text="Does line 3 run?", line=3, gold=True,
        ...              gold_text="yes")
        >>> q.gold_text
        'yes'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: QuestionKindName
    text: str
    line: int | None = None
    occurrence: int | None = None
    var: str | None = None
    gold: Any = None
    gold_text: str = ""
    info: dict[str, Any] = Field(default_factory=dict)


class Verdict(BaseModel):
    """The grade of one answer: ``status`` says why (``unparseable`` is not ``wrong``).

    Example:
        >>> Verdict(correct=True, status="correct").correct
        True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    correct: bool
    status: VerdictStatus
    #: The answer as the grader read it from the completion: one question's text (continuation
    #: lines of a multi-line answer joined with newlines), whatever its status; None when the
    #: answer is missing.
    parsed: str | None = None
    reason: str | None = None
    partial: float = 0.0


ANSWER_OPEN = "<answer>"
ANSWER_CLOSE = "</answer>"


class Sample(BaseModel):
    """A prompt about one traced call, its questions and their gold answers.

    Built by :func:`stepreward.build_sample`; round-trips through :meth:`to_row` and
    :meth:`from_row` (flat, JSON-able, for datasets, parquet and OpenRLHF labels).

    Example:
        >>> s = Sample(id="x", source="", call="f()", prompt="...", questions=[])
        >>> s.answer_text(["1"])
        '<answer>\\n1\\n</answer>'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    source: str
    call: str
    prompt: str
    questions: list[Question]
    entry: str | None = None
    kinds: tuple[str, ...] = ()
    seed: int = 0
    max_per_kind: int = 5
    python: str = ""
    format_version: int = 1

    def gold_answers(self) -> list[str]:
        """The gold answer line of each question, in order."""
        return [q.gold_text for q in self.questions]

    def answer_text(self, answers: list[str]) -> str:
        """A completion carrying ``answers`` (one per question) in the expected format.

        Example:
            >>> Sample(id="x", source="", call="", prompt="", questions=[]).answer_text([])
            '<answer>\\n\\n</answer>'
        """
        for a in answers:
            if "\n" in a:
                raise ValueError(f"an answer must be a single line, got {a!r}")
        return f"{ANSWER_OPEN}\n" + "\n".join(answers) + f"\n{ANSWER_CLOSE}"

    def gold_completion(self) -> str:
        """The completion that answers every question with its gold answer."""
        return self.answer_text(self.gold_answers())

    def to_row(self) -> dict[str, Any]:
        """A flat JSON-able dict: scalar columns plus ``questions`` as JSON text."""
        import json

        return {
            "id": self.id, "prompt": self.prompt, "source": self.source, "call": self.call,
            "entry": self.entry or "", "kinds": list(self.kinds), "seed": self.seed,
            "max_per_kind": self.max_per_kind, "python": self.python,
            "format_version": self.format_version,
            "questions": json.dumps([q.model_dump(mode="json") for q in self.questions],
                                    separators=(",", ":"), ensure_ascii=False),
        }

    @classmethod
    def from_row(cls, row: dict[str, Any] | str) -> Sample:
        """Rebuild a sample from :meth:`to_row` output (or its JSON text); extra keys ignored.

        Example:
            >>> s = Sample(id="x", source="", call="f()", prompt="p", questions=[])
            >>> Sample.from_row(s.to_row()) == s
            True
        """
        import json

        if isinstance(row, str):
            row = json.loads(row)
        if not isinstance(row, dict):
            raise ValueError(f"a sample row must be a dict, got {type(row).__name__}")
        missing = [k for k in ("id", "prompt", "source", "call", "questions") if k not in row]
        if missing:
            raise ValueError(f"not a sample row: missing {', '.join(map(repr, missing))} "
                             "(rows come from Sample.to_row() or `stepreward synth`; a "
                             "dataset row may carry the sample as JSON in its 'label')")
        questions = row.get("questions", [])
        if isinstance(questions, str):
            questions = json.loads(questions)
        if not isinstance(questions, list):
            raise ValueError("a sample row's 'questions' must be a list (or its JSON text)")
        return cls(
            id=row["id"], prompt=row["prompt"], source=row["source"], call=row["call"],
            entry=row.get("entry") or None, kinds=tuple(row.get("kinds") or ()),
            seed=int(row.get("seed", 0)), max_per_kind=int(row.get("max_per_kind", 5)),
            python=row.get("python", ""), format_version=int(row.get("format_version", 1)),
            questions=[Question.model_validate(q) for q in questions])


GradingPolicy = Literal["literal", "execute"]
#: Where answers are read from: ``strict``, the last closed ``<answer>`` block only;
#: ``lenient``, also an ``<answer>`` left open at the end, or else the last fenced block.
Extraction = Literal["strict", "lenient"]


class RewardConfig(BaseModel):
    """How verdicts become a reward (frozen and hashable; presets via :func:`reward_preset`).

    ``reward = scale * ((1 - alpha) * io + alpha * steps) + format_weight * format``, where
    ``io`` is the output (or input) question's correctness and ``steps`` the weighted accuracy
    over the other questions. With ``gate="io"`` the reward is 0 unless the io answer is
    correct. A sample without an io question uses ``steps`` alone, one without step questions
    ``io`` alone. ``state_credit="half"`` gives half a point for the value or the type alone.

    Example:
        >>> RewardConfig(alpha=0.5, scale=2.0).gate
        'io'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    alpha: float = Field(0.5, ge=0.0, le=1.0)
    scale: float = Field(1.0, gt=0.0)
    gate: Literal["io", "none"] = "io"
    state_credit: Literal["all_or_nothing", "half"] = "all_or_nothing"
    kind_weights: tuple[tuple[str, float], ...] = ()
    format_weight: float = Field(0.0, ge=0.0)

    def weight(self, kind: str) -> float:
        for name, w in self.kind_weights:
            if name == kind:
                return w
        return 1.0


class Score(BaseModel):
    """The reward for one completion, with everything that went into it.

    ``verdicts`` has one entry per question, in order; ``components`` holds the accuracy per
    question kind (None for kinds the sample does not ask) and ``format`` (1.0: an answer
    block with one answer per question); ``parse_error`` says why no answer could be read.

    Example:
        >>> Score(reward=0.0, parse_error="no <answer> block").reward
        0.0
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    reward: float
    components: dict[str, float | None] = Field(default_factory=dict)
    verdicts: list[Verdict] = Field(default_factory=list)
    parse_error: str | None = None
    preset: str = "normalized"
    policy: GradingPolicy = "literal"


class TestCase(BaseModel):
    """One unit test: a call (``fn_name(*args, **kwargs)`` compared with ``expected``), a
    stdin/stdout run, or a script that must run to the end.

    ``args``, ``kwargs`` and ``expected`` hold canonical literals (see :mod:`stepreward.values`);
    build call tests with :meth:`call`. ``compare`` is ``equal`` (Python ``==``, floats within
    ``atol``), ``truthy``, ``falsy``, ``abs_lt`` / ``abs_le`` (``abs(got - expected) < atol``
    or ``<= atol``: an absolute tolerance, as an ``assert abs(f(x) - v) < tol`` states it),
    ``isclose`` (``math.isclose(got, expected, rel_tol=rtol, abs_tol=atol)`` exactly), or
    ``allclose`` / ``allclose_nan`` (numpy's ``allclose(got, expected, rtol, atol)``
    elementwise, ``|got - expected| <= atol + rtol * |expected|``, arrays of one shape; NaN
    equal to NaN only in ``allclose_nan``).

    Example:
        >>> TestCase.call("add", (1, 2), 3).expected
        3
    """

    __test__ = False  # not a pytest class
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["call", "io", "script"]
    fn_name: str | None = None
    args: Any = None
    kwargs: Any = None
    expected: Any = None
    compare: Literal["equal", "truthy", "falsy", "abs_lt", "abs_le", "isclose", "allclose",
                     "allclose_nan"] = "equal"
    atol: float = Field(0.0, ge=0.0)
    rtol: float = Field(0.0, ge=0.0)
    stdin: str | None = None
    expected_stdout: str | None = None
    script: str | None = None

    @classmethod
    def call(cls, fn_name: str, args: Any = (), expected: Any = None, *,
             kwargs: dict[str, Any] | None = None, atol: float = 0.0,
             compare: Literal["equal", "truthy", "falsy", "abs_lt", "abs_le", "isclose",
                              "allclose", "allclose_nan"] = "equal",
             rtol: float = 0.0) -> TestCase:
        """A call test from Python values (which must be literal-encodable)."""
        from stepreward.values import NOT_LITERAL, to_literal

        enc_args = to_literal(tuple(args))
        enc_kwargs = to_literal(dict(kwargs or {}))
        enc_expected = to_literal(expected)
        if NOT_LITERAL in (enc_args, enc_kwargs, enc_expected):
            raise ValueError("test arguments and expected values must be literal values")
        return cls(kind="call", fn_name=fn_name, args=enc_args, kwargs=enc_kwargs,
                   expected=enc_expected, atol=atol, compare=compare, rtol=rtol)

    @classmethod
    def io(cls, stdin: str, expected_stdout: str) -> TestCase:
        """A stdin/stdout test."""
        return cls(kind="io", stdin=stdin, expected_stdout=expected_stdout)


class TestFailure(BaseModel):
    """Why one test failed."""

    __test__ = False
    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int
    reason: str
    got: Any = None


class TestReport(BaseModel):
    """Outcome of running code against tests (see :func:`stepreward.run_tests`).

    ``status``: ``ok`` (the tests ran; see ``passed``), ``unparsed`` (no code found),
    ``load_error`` (the code does not load: syntax error, exception at import), ``no_tests``.

    Example:
        >>> TestReport(passed=1, total=2, status="ok").pass_rate
        0.5
    """

    __test__ = False
    model_config = ConfigDict(frozen=True, extra="forbid")

    passed: int = 0
    total: int = 0
    failures: list[TestFailure] = Field(default_factory=list)
    status: Literal["ok", "unparsed", "load_error", "no_tests"] = "ok"
    reason: str | None = None
    duration_s: float = 0.0

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


class CodeScore(BaseModel):
    """A stage-2 reward (:func:`stepreward.code_reward`) with the test report behind it.

    ``reward`` is None for a task without tests (not a code-generation task: TRL reads None as
    "not applicable"); ``parse_error`` says why the reward is 0 when no test could run. It may
    be built positionally, ``CodeScore(reward, report, code, parse_error)``.

    Example:
        >>> CodeScore(0.0, None, None, "no code block found")
        CodeScore(reward=0.0, passed=-, error='no code block found')
        >>> CodeScore(reward=1.0, report=TestReport(passed=2, total=2)).report.pass_rate
        1.0
    """

    model_config = ConfigDict(extra="forbid")

    reward: float | None = None
    report: TestReport | None = None
    code: str | None = None
    parse_error: str | None = None

    def __init__(self, *args: Any, **fields: Any) -> None:
        names = ("reward", "report", "code", "parse_error")
        if len(args) > len(names):
            raise TypeError(f"CodeScore takes at most {len(names)} positional arguments")
        for name, value in zip(names, args, strict=False):
            if name in fields:
                raise TypeError(f"CodeScore got {name!r} twice")
            fields[name] = value
        super().__init__(**fields)

    def __repr__(self) -> str:
        passed = f"{self.report.passed}/{self.report.total}" if self.report else "-"
        return f"CodeScore(reward={self.reward}, passed={passed}, error={self.parse_error!r})"

    __str__ = __repr__


class CodeTask(BaseModel):
    """A code-generation task: a prompt, the entry point, tests, a canonical solution."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_id: str
    prompt: str
    entry_point: str | None = None
    tests: list[TestCase] = Field(default_factory=list)
    canonical_solution: str | None = None
    source: str = ""
    info: dict[str, Any] = Field(default_factory=dict)
