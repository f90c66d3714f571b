"""lamina's benchmark harness: ``python -m benchmarks`` (or ``make bench``).

It starts its own ``lamina serve`` (a temporary data directory, a free port) and a bare uvicorn
echo server on the same stack, measures both from outside over plain HTTP and boto3, prints a
table and writes ``docs/benchmarks.md``. Standard library plus what lamina already depends on.
"""
