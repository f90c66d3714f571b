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
