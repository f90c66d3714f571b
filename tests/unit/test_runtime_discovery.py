"""Runtime discovery: AWS runtime ids map to interpreters found as files, overrides first."""

from __future__ import annotations

from pathlib import Path

from lamina.runtimes import discover


def fake_interpreter(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_interpreters_on_the_path_are_found(tmp_path: Path):
    exe = fake_interpreter(tmp_path / "bin", "python3.10")

    catalog = discover(environ={"PATH": str(tmp_path / "bin"), "PYENV_ROOT": str(tmp_path / "no")})

    runtime = catalog.get("python3.10")
    assert runtime is not None and runtime.interpreter == exe.resolve()


def test_pyenv_shims_are_skipped_for_real_pyenv_interpreters(tmp_path: Path):
    fake_interpreter(tmp_path / "pyenv" / "shims", "python3.11")
    real = fake_interpreter(tmp_path / "pyenv" / "versions" / "3.11.9" / "bin", "python3.11")
    fake_interpreter(tmp_path / "pyenv" / "versions" / "3.11.2" / "bin", "python3.11")

    catalog = discover(
        environ={"PATH": str(tmp_path / "pyenv" / "shims"), "PYENV_ROOT": str(tmp_path / "pyenv")}
    )

    runtime = catalog.get("python3.11")
    assert runtime is not None and runtime.interpreter == real.resolve()


def test_an_override_pins_the_interpreter(tmp_path: Path):
    pinned = fake_interpreter(tmp_path / "custom", "my-python")

    catalog = discover({"python3.12": str(pinned)}, environ={"PATH": ""})

    runtime = catalog.get("python3.12")
    assert runtime is not None and runtime.interpreter == pinned


def test_non_executable_files_are_not_interpreters(tmp_path: Path):
    exe = fake_interpreter(tmp_path / "bin", "python3.13")
    exe.chmod(0o644)

    catalog = discover(environ={"PATH": str(tmp_path / "bin"), "PYENV_ROOT": str(tmp_path)})

    runtime = catalog.get("python3.13")
    assert runtime is None or runtime.interpreter != exe.resolve()


def fake_node(prefix: Path, major: int, name: str = "node") -> Path:
    """A node installation as official builds lay it out: bin/node and its headers."""
    exe = fake_interpreter(prefix / "bin", name)
    include = prefix / "include" / "node"
    include.mkdir(parents=True, exist_ok=True)
    (include / "node_version.h").write_text(
        f"#define NODE_MAJOR_VERSION {major}\n#define NODE_MINOR_VERSION 1\n"
    )
    return exe


def node_environ(tmp_path: Path, *bins: Path) -> dict[str, str]:
    return {"PATH": ":".join(str(b) for b in bins), "NVM_DIR": str(tmp_path / "no-nvm")}


def test_a_node_serves_only_the_runtime_of_its_major_version(tmp_path: Path):
    exe = fake_node(tmp_path / "node21", 21)
    fake_node(tmp_path / "node22", 22)

    catalog = discover(environ=node_environ(tmp_path, exe.parent, tmp_path / "node22" / "bin"))

    runtime = catalog.get("nodejs22.x")
    assert runtime is not None and runtime.family == "nodejs"
    assert runtime.interpreter == (tmp_path / "node22" / "bin" / "node").resolve()


def test_the_first_node_of_a_major_version_on_the_path_wins(tmp_path: Path):
    first = fake_node(tmp_path / "a", 18)
    second = fake_node(tmp_path / "b", 18)

    catalog = discover(environ=node_environ(tmp_path, first.parent, second.parent))

    runtime = catalog.get("nodejs18.x")
    assert runtime is not None and runtime.interpreter == first.resolve()


def test_nodes_named_by_their_version_are_found(tmp_path: Path):
    exe = fake_interpreter(tmp_path / "bin", "node22")

    catalog = discover(environ=node_environ(tmp_path, exe.parent))

    runtime = catalog.get("nodejs22.x")
    assert runtime is not None and runtime.interpreter == exe.resolve()


def test_nvm_installations_are_found_newest_first(tmp_path: Path):
    versions = tmp_path / "nvm" / "versions" / "node"
    fake_node(versions / "v22.3.0", 22)
    newest = fake_node(versions / "v22.11.0", 22)

    catalog = discover(environ={"PATH": "", "NVM_DIR": str(tmp_path / "nvm")})

    runtime = catalog.get("nodejs22.x")
    assert runtime is not None and runtime.interpreter == newest.resolve()


def test_a_node_override_pins_the_binary(tmp_path: Path):
    pinned = fake_interpreter(tmp_path / "custom", "my-node")

    catalog = discover({"nodejs18.x": str(pinned)}, environ=node_environ(tmp_path))

    runtime = catalog.get("nodejs18.x")
    assert runtime is not None and runtime.interpreter == pinned
