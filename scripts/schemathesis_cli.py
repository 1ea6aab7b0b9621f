"""Runs the schemathesis command line with one workaround for the Python it runs on.

CPython 3.11.7's `ast.parse` can raise `SystemError: AST constructor recursion depth mismatch`
(CPython gh-106905, fixed in later 3.11 releases). Hypothesis calls `ast.parse` only to describe
a lambda in a strategy's repr; when that crashes, schemathesis reports a "Runtime Error" for the
operation although nothing was sent to the API. Such a lambda is described here as
`lambda: <unknown>` — what hypothesis itself answers when it cannot read a lambda's source — and
every check runs as before.
"""

import inspect
import sys

from hypothesis.internal import lambda_sources

_describe = lambda_sources._lambda_description


def _describe_or_unknown(f, *args, **kwargs):
    try:
        return _describe(f, *args, **kwargs)
    except SystemError:
        try:
            params = str(inspect.signature(f))[1:-1]
        except (TypeError, ValueError):
            params = ""
        return f"lambda {params}: <unknown>" if params else "lambda: <unknown>"


lambda_sources._lambda_description = _describe_or_unknown

import schemathesis.cli  # noqa: E402  (after the patch, which must come first)

sys.exit(schemathesis.cli.schemathesis())
