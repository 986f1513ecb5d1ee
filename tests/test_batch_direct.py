"""The batch output's direct-I/O file: the bytes of plain appends, whatever the pieces, and a file
that holds everything given to it after each call (a killed run's partial file)."""

from __future__ import annotations

import errno
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.adapters.batch.direct import BLOCK, STAGE, DirectFile

# pieces around the block and stage sizes, where the staging arithmetic turns
_sizes = st.one_of(st.integers(0, 3 * BLOCK), st.sampled_from(
    [BLOCK - 1, BLOCK, BLOCK + 1, STAGE - 1, STAGE, STAGE + 1, 2 * STAGE + BLOCK - 3]))


def _piece(n: int, k: int) -> bytes:
    return bytes((k * 31 + i) % 251 for i in range(min(n, 4096))) * (n // 4096 + 1)


@settings(max_examples=40, deadline=None)
@given(plan=st.lists(st.tuples(st.booleans(), _sizes), max_size=6), resume_at=st.none() |
       st.integers(0, 3 * BLOCK))
def test_the_file_holds_every_byte_given_after_each_call(tmp_path_factory, plan, resume_at):
    folder = tmp_path_factory.mktemp("direct")
    path, chunk = folder / "out", folder / "chunk"
    expected = b""
    if resume_at is not None:   # --resume: an existing partial file, continued after its end
        expected = _piece(resume_at, 99)[:resume_at]
        path.write_bytes(expected)
    f = DirectFile(path, append=resume_at is not None)
    try:
        for k, (from_file, n) in enumerate(plan):
            data = _piece(n, k)[:n]
            if from_file:
                chunk.write_bytes(data)
                f.append_file(chunk)
            else:
                f.write(data)
            expected += data
            assert f.size == len(expected)
            assert path.read_bytes() == expected   # read by another descriptor, as a resume would
        f.sync()
    finally:
        f.close()
    assert path.read_bytes() == expected


def test_direct_writes_are_used_where_the_file_system_has_them(tmp_path):
    try:   # can this folder's file system take O_DIRECT at all?
        os.close(os.open(tmp_path / "probe", os.O_WRONLY | os.O_CREAT | os.O_DIRECT))
    except (OSError, AttributeError):
        pytest.skip("no direct I/O on this file system")
    f = DirectFile(tmp_path / "out")
    try:
        f.write(b"x" * (3 * BLOCK + 5))
        assert f.direct is not None
        with open(f"/proc/self/fdinfo/{f.direct}") as info:   # the kernel's own flags
            flags = int(next(x for x in info if x.startswith("flags:")).split()[1], 8)
        assert flags & os.O_DIRECT
    finally:
        f.close()
    assert (tmp_path / "out").read_bytes() == b"x" * (3 * BLOCK + 5)


def test_a_refused_direct_write_falls_back_to_plain_writes(tmp_path, monkeypatch):
    f = DirectFile(tmp_path / "out")
    if f.direct is None:
        f.close()
        pytest.skip("no direct I/O on this file system")
    real = os.pwrite

    def refuse(fd, data, offset):
        if fd == f.direct:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", refuse)
    try:
        f.write(b"a" * (2 * BLOCK + 7))
        assert f.direct is None
        f.write(b"b" * BLOCK)
    finally:
        f.close()
    assert (tmp_path / "out").read_bytes() == b"a" * (2 * BLOCK + 7) + b"b" * BLOCK


def test_other_write_errors_are_raised(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    (tmp_path / "out").symlink_to("/dev/full")
    f = DirectFile(tmp_path / "out")
    try:
        assert f.direct is None   # not a regular file
        with pytest.raises(OSError) as err:
            f.write(b"x" * 10)
        assert err.value.errno == errno.ENOSPC
    finally:
        f.close()
