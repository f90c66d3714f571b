"""The command line and variables each runtime family starts with (pool/commands.py)."""

from __future__ import annotations

from pathlib import Path

from lamina.pool.commands import command_for
from lamina.runtimes import Runtime
from lamina.sandbox import View

VIEW = View(
    interpreter="/usr/bin/node",
    task_root="/var/task",
    runtime_dir="/var/runtime",
    sdk_dir=None,
    pycache_dir=None,
    opt_dir="/opt",
)
NODE20 = Runtime("nodejs20.x", Path("/usr/bin/node"))


def test_node_starts_with_aws_options_and_a_heap_sized_from_memory():
    command = command_for(NODE20, VIEW, 1024)

    assert command.argv == (
        "/usr/bin/node",
        "--expose-gc",
        "--max-http-header-size=81920",
        "--max-semi-space-size=51",
        "--max-old-space-size=921",
        "/var/runtime/node/bootstrap.js",
    )
    assert command.preloadable is False


def test_node_options_that_size_the_heap_replace_lambdas_sizes():
    command = command_for(NODE20, VIEW, 1024, {"NODE_OPTIONS": "--max_old_space_size=64"})

    assert not any("space-size" in arg for arg in command.argv)


def test_node_path_lists_layers_runtime_and_task_as_aws_does():
    command = command_for(NODE20, VIEW, 128)

    assert command.env == {
        "NODE_PATH": "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:"
        "/var/runtime/node_modules:/var/runtime:/var/task"
    }
