"""The constraint vocabulary: the built-in types and the methods under test (as data)."""

from __future__ import annotations

__all__ = ["VOCABULARY", "pairs"]

# Type -> methods under test, as in the ExecVerify constraint vocabulary: 11 types and the 186
# pairs its tables list (the method notes say 176, but their per-type lists add up to 186).
# Kept as data so users can extend it; order is fixed so generation is deterministic.
VOCABULARY: dict[str, tuple[str, ...]] = {
    "dict": ("in", "not in", "==", "dict[key]", "len", "!=", "|", "dict[key] = value", "clear",
             "copy", "fromkeys", "get", "items", "keys", "pop", "popitem", "setdefault",
             "update", "values"),
    "float": ("+", "bool()", "math.ceil()", "divmod", "math.floor()", ">=", ">", "<", "<=", "-",
              "int()", "%", "!=", "round", "as_integer_ratio", "conjugate", "is_integer"),
    "list": ("+", "[index]", "[:]", "[index1:index2]", "[index:]", "[:index2]", "in", "not in",
             "==", ">=", ">", "<=", "<", "*=", "len", "*", "!=", "reversed", "append", "clear",
             "copy", "count", "extend", "index", "insert", "pop", "remove", "reverse", "sort"),
    "set": ("&", "in", "not in", "==", ">=", ">", "&=", "|=", "-=", "^=", "<=", "len", "<", "!=",
            "-", "^", "add", "clear", "copy", "difference", "difference_update", "discard",
            "intersection", "intersection_update", "isdisjoint", "issubset", "issuperset", "pop",
            "remove", "symmetric_difference", "symmetric_difference_update", "union", "update"),
    "str": ("+", "in", "not in", "==", "str.format", "format()", ">=", "[index]", "[:]",
            "[index1:index2]", "[index:]", "[:index2]", ">", "<=", "<", "len()", "*", "!=",
            "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs",
            "find", "format", "format_map", "index", "isalnum", "isalpha", "isascii",
            "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric", "isprintable",
            "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "maketrans",
            "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust",
            "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip",
            "swapcase", "title", "translate", "upper", "zfill"),
    "tuple": ("+", "[index]", "[:]", "[index1:index2]", "[index:]", "[:index2]", "in", "not in",
              "==", ">=", ">", "<=", "<", "len", "*", "!=", "count", "index"),
    "enumerate": ("enumerate",),
    "filter": ("filter",),
    "range": ("range",),
    "zip": ("zip",),
    "reverse": ("reversed",),
}


def pairs() -> list[tuple[str, str]]:
    """All (type, method) pairs in a fixed order.

    Example:
        >>> len(pairs())
        186
    """
    return [(t, m) for t, methods in VOCABULARY.items() for m in methods]
