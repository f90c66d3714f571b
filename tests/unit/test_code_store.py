"""CodeStore: packages stored once by content, unpacked safely, never outside their folder."""

from __future__ import annotations

import hashlib
import io
import stat
import zipfile
from pathlib import Path

import pytest

from lamina.artifacts import CodeStore, InvalidZipError


def make_zip(entries: dict[str, bytes], modes: dict[str, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            if modes and name in modes:
                info.external_attr = modes[name] << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def test_put_stores_the_zip_under_its_sha256_and_unpacks_it(tmp_path: Path):
    store = CodeStore(tmp_path)
    data = make_zip({"handler.py": b"x = 1\n", "pkg/mod.py": b"y = 2\n"})

    artifact = store.put(data)

    assert artifact.sha256_hex == hashlib.sha256(data).hexdigest()
    assert artifact.size == len(data)
    assert store.zip_path(artifact.sha256_hex).read_bytes() == data
    assert (store.tree_path(artifact.sha256_hex) / "pkg" / "mod.py").read_bytes() == b"y = 2\n"


def test_identical_packages_are_stored_once(tmp_path: Path):
    store = CodeStore(tmp_path)
    data = make_zip({"a.py": b"1"})

    first, second = store.put(data), store.put(data)

    assert first == second
    assert store.stored() == [first.sha256_hex]


def test_executable_bits_survive_unpacking_and_files_are_read_only(tmp_path: Path):
    store = CodeStore(tmp_path)
    data = make_zip(
        {"bootstrap": b"#!/bin/sh\n", "data.txt": b"d"},
        {"bootstrap": stat.S_IFREG | 0o755, "data.txt": stat.S_IFREG | 0o644},
    )

    tree = store.tree_path(store.put(data).sha256_hex)

    assert (tree / "bootstrap").stat().st_mode & 0o777 == 0o555
    assert (tree / "data.txt").stat().st_mode & 0o777 == 0o444


@pytest.mark.parametrize(
    "name", ["../escape.py", "a/../../escape.py", "/etc/passwd", "\\windows\\evil", "C:evil"]
)
def test_entries_escaping_the_code_folder_are_refused(tmp_path: Path, name: str):
    store = CodeStore(tmp_path)

    with pytest.raises(InvalidZipError):
        store.put(make_zip({name: b"x"}))

    assert store.stored() == []
    assert not (tmp_path.parent / "escape.py").exists()


def test_symbolic_links_are_refused(tmp_path: Path):
    store = CodeStore(tmp_path)
    data = make_zip({"link": b"/etc/passwd"}, {"link": stat.S_IFLNK | 0o777})

    with pytest.raises(InvalidZipError, match="symbolic link"):
        store.put(data)


def test_bytes_that_are_not_a_zip_are_refused(tmp_path: Path):
    with pytest.raises(InvalidZipError):
        CodeStore(tmp_path).put(b"definitely not a zip")


def test_declared_unzipped_size_over_the_limit_is_refused(tmp_path: Path):
    store = CodeStore(tmp_path, max_unzipped_bytes=1000)

    with pytest.raises(InvalidZipError, match="Unzipped size must be smaller than 1000 bytes"):
        store.put(make_zip({"big.bin": b"\0" * 2000}))


def test_a_zip_lying_about_its_sizes_is_stopped_while_unpacking(tmp_path: Path):
    store = CodeStore(tmp_path, max_unzipped_bytes=1000)
    data = bytearray(make_zip({"bomb.bin": b"\0" * 5000}))
    # Rewrite the sizes in the central directory to claim 10 bytes.
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")

    with pytest.raises(InvalidZipError):
        store.put(bytes(data))

    assert store.stored() == []


def test_remove_deletes_the_zip_and_its_tree(tmp_path: Path):
    store = CodeStore(tmp_path)
    sha = store.put(make_zip({"a/b.py": b"1"})).sha256_hex

    store.remove(sha)

    assert not store.zip_path(sha).exists()
    assert not store.tree_path(sha).exists()


def test_remove_also_deletes_bytecode_compiled_from_the_tree(tmp_path: Path):
    store = CodeStore(tmp_path / "code", pycache_root=tmp_path / "pycache")
    sha = store.put(make_zip({"m.py": b"1"})).sha256_hex
    compiled = tmp_path / "pycache" / sha / "var" / "task"
    compiled.mkdir(parents=True)
    (compiled / "m.cpython-312.pyc").write_bytes(b"pyc")

    store.remove(sha)

    assert not (tmp_path / "pycache" / sha).exists()


def test_merge_lays_layers_over_each_other_in_order(tmp_path: Path):
    store = CodeStore(tmp_path)
    first = store.put(
        make_zip({"shared.txt": b"first", "only_first.txt": b"1", "clash": b"a file", "d/x": b"x"})
    )
    second = store.put(make_zip({"shared.txt": b"second", "clash/inner.txt": b"now a folder"}))
    third = store.put(make_zip({"d": b"a file replacing a folder"}))

    merged = store.merge([first.sha256_hex, second.sha256_hex, third.sha256_hex])

    assert (merged / "shared.txt").read_text() == "second"
    assert (merged / "only_first.txt").read_text() == "1"
    assert (merged / "clash" / "inner.txt").read_text() == "now a folder"
    assert (merged / "d").read_text() == "a file replacing a folder"
    assert stat.S_IMODE(merged.stat().st_mode) == 0o555


def test_merged_layers_outlive_the_removal_of_a_layer(tmp_path: Path):
    store = CodeStore(tmp_path)
    layer = store.put(make_zip({"kept.txt": b"kept"}))
    merged = store.merge([layer.sha256_hex])

    store.remove(layer.sha256_hex)

    assert (merged / "kept.txt").read_text() == "kept"
    assert store.merge([layer.sha256_hex]) == merged


def test_unzipped_size_is_read_from_the_stored_zip(tmp_path: Path):
    store = CodeStore(tmp_path)
    artifact = store.put(make_zip({"a.txt": b"12345", "b/c.txt": b"678"}))

    assert store.unzipped_size(artifact.sha256_hex) == 8 == artifact.unzipped_size
