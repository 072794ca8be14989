"""Programs the sandbox benchmarks run, in a module that imports nothing (ab_sandbox.py loads
it before choosing which stepreward to import)."""

BIG = (
    "def f(n):\n"
    "    total = 0\n"
    "    for i in range(n):\n"
    "        if i % 3 == 0:\n"
    "            total += i\n"
    "        else:\n"
    "            total -= 1\n"
    "    return total\n"
    "assert f(500) == sum(i for i in range(500) if i % 3 == 0) - sum(\n"
    "    1 for i in range(500) if i % 3)\n"
)  # about 2,000 line executions
