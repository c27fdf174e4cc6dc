"""Immediate feedback in the assignment notebooks, after Kaggle's learntools: ``q1.check()``, ``q1.hint()``.

An assignment notebook binds its namespace once, then checks each answer where it is written::

    from datathon.checks import bind
    from datathon.challenges.sirene.checks.a1 import q1, q2, q3, q4, q5
    bind(globals())        # the checks read your functions from this notebook

    def clean(text): ...
    q1.check()             # ✓ q1 correct: ...   or   ✗ q1 incorrect: clean('Café') returned ...
    q1.hint()              # 💡 q1 hint: ...

Each call prints one line, with one of three verdicts:

- **correct**: every property and worked example the check knows holds;
- **not attempted**: the function is not defined yet, still raises ``NotImplementedError`` (what
  nbgrader leaves in a student's copy) or returns ``None``;
- **incorrect**: every example that fails (up to :data:`MAX_MISTAKES`), each with the input, what
  came back and what was expected, and why.

A check never raises: a mistake in a student's function is a verdict, not a traceback, so that
"Run all" goes on. Checks verify properties and small worked examples written for them; they hold
no solution code, and the graded tests (visible and hidden, in the notebook) use other examples.
``bind`` is optional: without it, a check reads the globals of the code that called it (the
notebook's, when called from a cell).
"""
from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CORRECT", "NOT_ATTEMPTED", "INCORRECT", "HINT", "SOLUTION", "Feedback", "Question", "Incorrect",
           "NotAttempted", "Literal", "bind", "unbind", "call", "expect", "approx", "show", "student_code"]

CORRECT = "correct"
NOT_ATTEMPTED = "not attempted"
INCORRECT = "incorrect"
HINT = "hint"
SOLUTION = "solution"
_MARKS = {CORRECT: "✓", NOT_ATTEMPTED: "○", INCORRECT: "✗", HINT: "💡", SOLUTION: "📖"}
#: Most failing examples one verdict lists (the others are counted): enough to see a pattern.
MAX_MISTAKES = 3
#: Longest rendering of one value inside a feedback line.
MAX_REPR = 70

_bound: dict[str, Any] | None = None
#: The mistakes of the check running now: :func:`expect` adds to it instead of stopping the check.
_mistakes: list[str] | None = None


def bind(namespace: Mapping[str, Any]) -> None:
    """Make every check read the student's objects from ``namespace`` (pass ``globals()``)."""
    global _bound
    _bound = namespace  # type: ignore[assignment]  # kept by reference: later definitions are seen


def unbind() -> None:
    """Forget the bound namespace: checks read their caller's globals again."""
    global _bound
    _bound = None


class NotAttempted(Exception):
    """The answer is not there yet; the message says what is missing."""


class Incorrect(Exception):
    """The answer is wrong; the message names the failing example and why."""


@dataclass(frozen=True)
class Feedback:
    """One verdict: ``status`` is :data:`CORRECT`, :data:`NOT_ATTEMPTED`, :data:`INCORRECT` or :data:`HINT`."""

    question: str
    status: str
    message: str

    @property
    def line(self) -> str:
        """The one line printed in the notebook."""
        text = " ".join(self.message.split())  # one line, whatever the message held
        return f"{_MARKS[self.status]} {self.question} {self.status}: {text}"

    def __str__(self) -> str:
        return self.line


class Literal(str):
    """Text shown as it is in a call (``Literal("candidates")``), not quoted: for arguments too long to show."""

    def __repr__(self) -> str:
        return str(self)


def show(value: Any) -> str:
    """A short, one-line ``repr`` of a value for a feedback line."""
    text = repr(value)
    if callable(value) and hasattr(value, "__name__"):  # not its address
        text = value.__name__
    elif isinstance(value, float):
        text = f"{value:.4g}"
    text = " ".join(text.split())
    return text if len(text) <= MAX_REPR else text[: MAX_REPR - 1] + "…"


def call(function: Callable, *args: Any, none_ok: bool = False, **kwargs: Any) -> Any:
    """Call a student's function: ``NotImplementedError`` or a ``None`` result is :class:`NotAttempted`,
    any other exception is :class:`Incorrect`, naming the call. ``none_ok`` lets ``None`` through
    (for examples where ``None`` is a wrong answer rather than a missing one)."""
    shown = _call_repr(function, args, kwargs)
    try:
        result = function(*args, **kwargs)
    except NotImplementedError:
        raise NotAttempted(f"{_name(function)}() still raises NotImplementedError: write its body, run the cell, "
                           "then check again") from None
    except Exception as err:  # noqa: BLE001 - any failure of the student's code is a verdict
        raise Incorrect(f"{shown} raised {type(err).__name__}: {err}") from None
    if result is None and not none_ok:
        raise NotAttempted(f"{shown} returned None: is a `return` missing?")
    return result


def expect(ok: bool, function: Callable, args: Sequence[Any], got: Any, wanted: str,
           kwargs: Mapping[str, Any] | None = None) -> None:
    """Unless ``ok``, a mistake '<call> returned <got>, expected <wanted>': recorded when a check is
    running (so that it goes on to the next example), raised as :class:`Incorrect` otherwise."""
    if ok:
        return
    message = f"{_call_repr(function, tuple(args), dict(kwargs or {}))} returned {show(got)}, expected {wanted}"
    if _mistakes is not None:
        _mistakes.append(message)
        return
    if not ok:
        raise Incorrect(f"{_call_repr(function, tuple(args), dict(kwargs or {}))} returned {show(got)}, "
                        f"expected {wanted}")


def approx(a: Any, b: float, tolerance: float = 1e-9) -> bool:
    """Is ``a`` a real number within ``tolerance`` of ``b``?"""
    try:
        return isinstance(a, (int, float)) and not isinstance(a, bool) and math.isclose(
            float(a), b, rel_tol=tolerance, abs_tol=tolerance)
    except TypeError:
        return False


def _name(function: Callable) -> str:
    return getattr(function, "__name__", "the function")


def _call_repr(function: Callable, args: tuple, kwargs: dict) -> str:
    parts = [show(a) for a in args] + [f"{k}={show(v)}" for k, v in kwargs.items()]
    return f"{_name(function)}({', '.join(parts)})"


class _Named:
    """A student's function under the name the notebook gave it (a lambda shows as ``clean``, not ``<lambda>``)."""

    def __init__(self, name: str, function: Callable):
        self.__name__ = name
        self._function = function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._function(*args, **kwargs)


class Question:
    """One question of an assignment: the names it checks, how, and a hint.

    ``verify(objects)`` receives the student's objects by name (in the order of ``names``), raises
    :class:`NotAttempted` or :class:`Incorrect` (directly or through :func:`call` and
    :func:`expect`), and returns the message of a correct answer.
    """

    def __init__(self, label: str, names: Sequence[str], verify: Callable[..., str], hint: str,
                 solution: str | None = None):
        self.label = label
        self.names = tuple(names)
        self._verify = verify
        self._hint = hint
        self._solution = solution

    def __repr__(self) -> str:
        return f"<{self.label}: checks {', '.join(self.names)}; call .check() or .hint()>"

    def feedback(self, namespace: Mapping[str, Any] | None = None) -> Feedback:
        """The verdict on the objects found in ``namespace`` (default: the bound one)."""
        global _mistakes
        if namespace is None:
            namespace = _bound if _bound is not None else {}
        _mistakes = []
        try:
            return self._verdict(namespace)
        finally:
            _mistakes = None

    def _verdict(self, namespace: Mapping[str, Any]) -> Feedback:
        try:
            missing = [n for n in self.names if n not in namespace]
            if missing:
                raise NotAttempted(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not defined: "
                                   "run the cell that defines it, then check again")
            objects = [namespace[n] for n in self.names]
            not_callable = [n for n, o in zip(self.names, objects) if not callable(o)]
            if not_callable:
                raise Incorrect(f"{', '.join(not_callable)} should be a function, "
                                f"not {type(objects[self.names.index(not_callable[0])]).__name__}")
            named = [_Named(n, o) for n, o in zip(self.names, objects)]
            message = self._verify(*named)
            if _mistakes:
                return self._incorrect()
            return Feedback(self.label, CORRECT, message)
        except NotAttempted as err:
            if _mistakes:  # an answer that fails some examples is attempted, whatever the next one did
                return self._incorrect()
            return Feedback(self.label, NOT_ATTEMPTED, str(err))
        except Incorrect as err:
            return self._incorrect(str(err))
        except Exception as err:  # noqa: BLE001 - a check must never stop the notebook
            if _mistakes:  # the check tripped on an answer already found wrong: the mistakes say why
                return self._incorrect()
            return Feedback(self.label, INCORRECT, f"checking failed with {type(err).__name__}: {err}")

    def _incorrect(self, last: str | None = None) -> Feedback:
        """Every recorded mistake (and ``last``, the one that stopped the check), the first few in full."""
        mistakes = [*(_mistakes or []), *([last] if last else [])]
        shown = mistakes[:MAX_MISTAKES]
        more = len(mistakes) - len(shown)
        text = (f"{len(mistakes)} examples fail: " if len(mistakes) > 1 else "") + "; ".join(
            f"({i}) {m}" if len(mistakes) > 1 else m for i, m in enumerate(shown, 1))
        return Feedback(self.label, INCORRECT, text + (f"; and {more} more" if more else ""))

    def check(self, namespace: Mapping[str, Any] | None = None) -> None:
        """Print one line: correct, not attempted, or what is wrong and why."""
        if namespace is None and _bound is None:
            caller = inspect.currentframe().f_back  # type: ignore[union-attr]
            namespace = caller.f_globals if caller is not None else {}
        print(self.feedback(namespace).line)

    def hint(self) -> None:
        """Print one line that points the way without giving the answer."""
        print(self.hint_feedback().line)

    def hint_feedback(self) -> Feedback:
        return Feedback(self.label, HINT, self._hint)

    def solution(self) -> None:
        """Print a worked solution, kept here rather than in the student's notebook (exercises only)."""
        if self._solution is None:
            print(Feedback(self.label, SOLUTION, "this question is graded: its solution is not given").line)
            return
        print(f"{_MARKS[SOLUTION]} {self.label} solution:\n{self._solution.strip()}")


class student_code:
    """``with student_code("q5"):`` around a locked cell that runs a student's functions.

    What the student's code raises becomes one readable line instead of a traceback, and the cell
    ends there, so that "Run all" goes on: ``NotImplementedError`` (a question not answered yet)
    and a ``NameError`` (an earlier answer missing) say "not attempted"; any other exception raised
    *inside a function the notebook defined* names the function, the line and the error. An
    exception from the kit's own code is not the student's: it propagates as usual.
    """

    def __init__(self, label: str):
        self.label = label

    def __enter__(self) -> "student_code":
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        if error is None:
            return False
        if isinstance(error, (NotImplementedError, NameError)):
            why = ("an answer above still raises NotImplementedError" if isinstance(error, NotImplementedError)
                   else f"{error} (answer the earlier questions first)")
            print(Feedback(self.label, NOT_ATTEMPTED, f"this cell did not run: {why}").line)
            return True
        where = _notebook_frame(traceback)
        if where is None:
            return False
        print(Feedback(self.label, INCORRECT, f"your {where[0]}() raised {type(error).__name__} at its line "
                       f"{where[1]}: {error}; fix it above, run its cell, then this one").line)
        return True


def _notebook_frame(traceback) -> tuple[str, int] | None:
    """(function, line within it) of the last frame of ``traceback`` that runs code defined in a notebook cell."""
    found = None
    while traceback is not None:
        code = traceback.tb_frame.f_code
        if _in_notebook(code.co_filename) and code.co_name != "<module>":
            found = (code.co_name, traceback.tb_lineno - code.co_firstlineno)
        traceback = traceback.tb_next
    return found


def _in_notebook(filename: str) -> bool:
    # IPython names a cell's code "<ipython-input-…>" (old) or ".../ipykernel_<pid>/<hash>.py" (ipykernel 6+).
    return filename.startswith("<ipython-input") or "ipykernel_" in filename
