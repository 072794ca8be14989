"""Old spellings of public arguments: still accepted, with a DeprecationWarning naming the new."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["keyword_only", "warn_renamed"]

F = TypeVar("F", bound=Callable[..., Any])


def warn_renamed(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated in favour of ``new`` (seen at the caller's line).

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as seen:
        ...     warnings.simplefilter("always")
        ...     warn_renamed("score(reward=)", "score(preset=)", stacklevel=2)
        >>> str(seen[0].message)
        'score(reward=) is deprecated: use score(preset=)'
    """
    warnings.warn(f"{old} is deprecated: use {new}", DeprecationWarning, stacklevel=stacklevel)


def keyword_only(*names: str) -> Callable[[F], F]:
    """Make ``names`` keyword-only, still accepting them positionally with a DeprecationWarning.

    The decorated function declares ``names`` after ``*``; a call that passes extra positional
    arguments has them bound to ``names`` in order, as the old signature did.

    Example:
        >>> import warnings
        >>> @keyword_only("seed")
        ... def pick(items, *, seed=0):
        ...     return items[seed % len(items)]
        >>> pick("abc", seed=1)
        'b'
        >>> with warnings.catch_warnings(record=True) as seen:
        ...     warnings.simplefilter("always")
        ...     pick("abc", 2)
        'c'
        >>> str(seen[0].message)
        'passing seed positionally to pick() is deprecated: use pick(..., seed=...)'
    """
    def decorate(func: F) -> F:
        code = func.__code__
        positional = code.co_argcount

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if len(args) > positional:
                extra = args[positional:]
                if len(extra) > len(names):
                    raise TypeError(f"{func.__name__}() takes at most "
                                    f"{positional + len(names)} positional arguments "
                                    f"({len(args)} given)")
                for name, value in zip(names, extra, strict=False):
                    if name in kwargs:
                        raise TypeError(f"{func.__name__}() got multiple values for {name!r}")
                    kwargs[name] = value
                used = names[:len(extra)]
                warnings.warn(f"passing {', '.join(used)} positionally to {func.__name__}() "
                              f"is deprecated: use {func.__name__}(..., "
                              f"{', '.join(n + '=...' for n in used)})", DeprecationWarning,
                              stacklevel=2)
                args = args[:positional]
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
