"""Shared-memory slots for the workers' chunk output (engine/adapters/batch/slots.py): taken and
given back, filled and written out whole, re-mapped when a later run makes them again, and a
batch run's output the same whether its chunks go through slots, chunk files or both."""

from __future__ import annotations

import errno
import io
import shutil

import pytest
from batch_corpus import golden_corpus
from click.testing import CliRunner

from cli import main
from engine import load_policy
from engine.adapters.batch import slots as slot_module
from engine.adapters.batch.slots import InSlot, SlotPool, fill, pack_records
from engine.ops.log.records import Prepared

NOW = "2026-07-01T12:00:00Z"


def test_slots_are_taken_until_none_is_free_and_given_back(tmp_path):
    pool = SlotPool.create(tmp_path, 3, size=8192)
    assert pool is not None
    taken = [pool.take() for _ in range(3)]
    assert sorted(taken) == [0, 1, 2] and pool.take() is None
    pool.release(taken[1])
    assert pool.take() == taken[1]
    pool.close()


def test_a_filled_slot_is_written_out_whole_and_freed(tmp_path):
    pool = SlotPool.create(tmp_path, 2, size=8192)
    assert pool is not None
    slot = pool.take()
    assert slot is not None
    data = bytes(range(256)) * 20
    filled = fill(str(tmp_path), slot, data)
    assert filled == InSlot(slot, len(data))
    assert pool.chunk(filled).records() == []   # none put there
    sink = io.BytesIO()
    pool.chunk(filled).write_to(sink)
    assert sink.getvalue() == data
    assert sorted(pool.take() for _ in range(2)) == [0, 1]   # given back
    assert fill(str(tmp_path), slot, b"x" * 8193) is None    # does not fit: a chunk file
    pool.close()


def test_log_records_follow_the_output_in_the_slot(tmp_path):
    pool = SlotPool.create(tmp_path, 1, size=8192)
    assert pool is not None
    records = [Prepared(*(f"{field}-{n}" for field in Prepared._fields)) for n in (1, 2)]
    blob = pack_records(records)
    filled = fill(str(tmp_path), pool.take(), b"line 1\nline 2\n", blob)  # type: ignore[arg-type]
    assert filled == InSlot(0, 14, len(blob))
    chunk = pool.chunk(filled)
    assert chunk.records() == records
    assert all(type(r) is Prepared for r in chunk.records())
    sink = io.BytesIO()
    chunk.write_to(sink)
    assert sink.getvalue() == b"line 1\nline 2\n"   # the records are not output
    assert fill(str(tmp_path), 0, b"x" * (8192 - len(blob) + 1), blob) is None
    pool.close()


def test_a_slot_made_again_by_a_later_run_is_mapped_again(tmp_path):
    folder = tmp_path / "spool"
    folder.mkdir()
    first = SlotPool.create(folder, 1, size=4096)
    assert first is not None and fill(str(folder), 0, b"first") is not None
    first.close()
    shutil.rmtree(folder)   # the run's spool folder goes; the next run makes it again
    folder.mkdir()
    second = SlotPool.create(folder, 1, size=4096)
    assert second is not None
    filled = fill(str(folder), 0, b"second")   # a stale map would write the old file
    assert filled is not None
    sink = io.BytesIO()
    second.chunk(filled).write_to(sink)
    assert sink.getvalue() == b"second"
    second.close()


def test_a_failed_write_frees_its_slot_and_the_pool_still_closes(tmp_path):
    pool = SlotPool.create(tmp_path, 1, size=4096)
    assert pool is not None
    filled = fill(str(tmp_path), pool.take(), b"abc")  # type: ignore[arg-type]
    assert filled is not None

    class Full:
        def write(self, data):
            self.kept = memoryview(data).cast("B")   # as DirectFile.write holds it
            raise OSError(errno.ENOSPC, "no space left on device")

    sink = Full()
    with pytest.raises(OSError):
        pool.chunk(filled).write_to(sink)
    assert pool.take() == 0
    pool.close()   # a view still held (here by the sink; in the CLI by a traceback)


def test_no_pool_where_the_folder_cannot_hold_one(tmp_path):
    assert SlotPool.create(tmp_path / "missing", 2) is None


def _run(args):
    return CliRunner().invoke(main, args)


@pytest.mark.parametrize("count, size", [(None, None),      # as the command makes them
                                         (1, None),         # most tasks find no free slot
                                         (7, 64 << 10)])    # no chunk fits: all chunk files
def test_batch_output_is_the_same_through_slots_files_or_both(tmp_path, monkeypatch, count,
                                                                size):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(x + b"\n" for x in golden_corpus(load_policy("zmanda"), 3000)))
    here = tmp_path / "here.jsonl"
    assert _run(["batch", "-p", "zmanda", "--now", NOW, str(src), "-o", str(here),
                 "--workers", "1"]).exit_code == 1
    made, written = [], []
    create, chunk = SlotPool.create.__func__, SlotPool.chunk  # type: ignore[attr-defined]

    def counted_create(cls, folder, n, size_=slot_module.SLOT_BYTES):
        pool = create(cls, folder, count or n, size or size_)
        made.append((pool, len(pool._maps) if pool is not None else 0))
        return pool

    def counted_chunk(self, filled):
        written.append(filled)
        return chunk(self, filled)

    monkeypatch.setattr(SlotPool, "create", classmethod(counted_create))
    monkeypatch.setattr(SlotPool, "chunk", counted_chunk)
    out = tmp_path / "out.jsonl"
    assert _run(["batch", "-p", "zmanda", "--now", NOW, str(src), "-o", str(out),
                 "--workers", "2"]).exit_code == 1
    assert out.read_bytes() == here.read_bytes()
    if not made or made[0][0] is None:
        pytest.skip("no shared-memory folder on this machine")
    pool, slots = made[0]
    assert (len(written) > 0) == (size is None)   # slots used unless no chunk fits
    assert sorted(pool._free) == list(range(slots))   # every slot given back


@pytest.mark.parametrize("free, made", [(10 * 4096, 3), (5 * 4096, 2), (3 * 4096, 1),
                                        (4096, None)])
def test_slots_take_at_most_half_the_free_space(tmp_path, monkeypatch, free, made):
    class Vfs:
        f_bavail, f_frsize = free // 512, 512

    monkeypatch.setattr(slot_module.os, "statvfs", lambda path: Vfs)
    pool = SlotPool.create(tmp_path, 3, size=4096)
    assert (None if pool is None else len(pool._maps)) == made
    if pool is not None:
        pool.close()
