"""Programs shared by several test modules."""

# The running example of the ExecVerify paper: a loop, a branch that changes the loop's
# divisor, and a dead assignment before the return.
PAPER = """def f(nums, k):
    out = []
    for x in nums:
        if x % k == 0:
            out.append(x)
        else:
            k = k + 1
    s = set()
    return out
"""
