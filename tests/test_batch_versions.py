"""`batch` over a policy's effective-dated versions: each line is decided by the version in force
at its `submitted_at` (or the one `id@VERSION` names) and equals `evaluate`'s decision byte for
byte; a line no version is in force for is an error record with `version_not_in_force`; worker
processes and Dask give the same bytes; `--log` records each line's own version; `--resume`
refuses a partial file written under another version set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from versions_support import version_text, versioned_folder

from cli import main
from engine import Evaluator, app
from engine.adapters.batch.job import BatchJob, manifest
from engine.adapters.batch.worker import PolicySource, VersionSources, prepare_policy
from engine.core.decision import Decision
from engine.ops.log.query import LogReader, Search

NOW = "2026-12-01T12:00:00+00:00"
#: (submitted_at, the version that decides it; None: rejected, with the code)
TICKETS = [
    ("2026-03-02T09:30:00+01:00", "2026.1"),
    ("2026-06-30T23:59:59+02:00", "2026.1"),      # the last second of 2026.1
    ("2026-07-01T00:00:00+02:00", "2026.2"),      # the first of 2026.2
    ("2025-12-31T23:59:59+01:00", "version_not_in_force"),
    ("2026-08-02T09:30:00+02:00", "2026.2"),
    ("yesterday", "ticket_timestamp"),
    ("2026-02-01T09:00:00Z", "2026.1"),
]


def _lines() -> list[str]:
    return [json.dumps({"id": f"T-{i}", "submitted_at": at, "environment": "production"})
            for i, (at, _) in enumerate(TICKETS, 1)]


@pytest.fixture
def folder(tmp_path):
    return versioned_folder(tmp_path)


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("".join(x + "\n" for x in _lines()), "utf-8")
    return path


def batch(*args) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["batch", *map(str, args)])
    return r.exit_code, r.stderr


def _with_policy_yaml(folder: Path) -> Path:
    """The same versions with the latest as the folder's `policy.yaml` (which `batch` once
    decided every line with)."""
    latest = folder / "versions" / "2026.2.yaml"
    (folder / "policy.yaml").write_text(latest.read_text("utf-8"), "utf-8")
    latest.unlink()
    app.clear_policy_cache()
    return folder


def _evaluate_each(ref: str, lines: list[str], source: str, mapping: str | None = None) -> list:
    """What `evaluate -p REF` gives each line: its canonical decision, or its diagnostics as
    JSON without the file and line (a batch record places them on its own line)."""
    out: list[bytes | list[dict]] = []
    for text in lines:
        r = app.decide(ref, text, source_name=source, now_text=NOW, mapping=mapping)
        if r.decision is not None:
            out.append(r.decision.canonical().encode("utf-8"))
        else:
            out.append([{k: v for k, v in d.to_json().items() if k not in ("file", "line")}
                        for d in r.diagnostics])
    return out


@pytest.mark.parametrize("ref", ["folder", "policy.yaml", "named", "file"])
def test_each_line_is_the_decision_evaluate_gives(folder, corpus, tmp_path, ref):
    policy = {"folder": folder, "policy.yaml": folder, "named": f"{folder}@2026.1",
              "file": folder / "versions" / "2026.2.yaml"}[ref]
    if ref == "policy.yaml":
        _with_policy_yaml(folder)
    out = tmp_path / "out.jsonl"
    code, err = batch("-p", policy, "--now", NOW, corpus, "-o", out, "--workers", "1")
    assert code == 1, err
    got = out.read_bytes().splitlines()
    assert len(got) == len(TICKETS)
    expected = _evaluate_each(str(policy), _lines(), str(corpus))
    for n, (line, want) in enumerate(zip(got, expected, strict=True), 1):
        if isinstance(want, bytes):
            assert line == want, n
            continue
        record = json.loads(line)
        assert record["line"] == n and record["ticket_id"] == f"T-{n}"
        assert [p["line"] for p in record["problems"]] == [n] * len(want)
        assert [{k: v for k, v in p.items() if k not in ("file", "line")}
                for p in record["problems"]] == want, n


MAPPING = """\
id: mini-payload
title: A payload with its own names
facts:
  id: {from: key, required: true}
  submitted_at: {from: created, convert: timestamp, required: true}
  environment: {from: env}
"""


def test_mapped_payloads_are_decided_by_their_version(folder, tmp_path):
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING, "utf-8")
    payloads = [json.dumps({"key": f"T-{i}", "created": at, "env": "production"})
                for i, (at, _) in enumerate(TICKETS, 1)]
    src, out = tmp_path / "p.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(x + "\n" for x in payloads), "utf-8")
    code, err = batch("-p", folder, "--mapping", mapping, "--now", NOW, src, "-o", out,
                      "--workers", "1")
    assert code == 1, err
    expected = _evaluate_each(str(folder), payloads, str(src), str(mapping))
    for line, want in zip(out.read_bytes().splitlines(), expected, strict=True):
        if isinstance(want, bytes):
            assert line == want
        else:
            assert [{k: v for k, v in p.items() if k not in ("file", "line")}
                    for p in json.loads(line)["problems"]] == want


def test_the_version_in_force_decides_each_line(folder, corpus, tmp_path):
    out = tmp_path / "out.jsonl"
    code, err = batch("-p", folder, corpus, "-o", out, "--workers", "1")
    assert (code, err.split(",")[0]) == (1, "5 decided"), err
    for line, (_, want) in zip(out.read_bytes().splitlines(), TICKETS, strict=True):
        record = json.loads(line)
        if want.startswith("20"):
            assert record["policy"]["version"] == want
            assert record["priority"] == {"2026.1": "P1", "2026.2": "P2"}[want]
        else:
            assert [p["code"] for p in record["problems"]] == [want]
            assert record["problems"][0]["pointer"] == "/submitted_at"


def test_a_named_version_decides_every_line(folder, corpus, tmp_path):
    out = tmp_path / "out.jsonl"
    code, err = batch("-p", f"{folder}@2026.2", corpus, "-o", out, "--workers", "1")
    assert code == 1, err
    records = [json.loads(x) for x in out.read_bytes().splitlines()]
    assert [r.get("policy", {}).get("version") for r in records] == \
        ["2026.2"] * 5 + [None] + ["2026.2"]    # only the bad `submitted_at` is rejected


def test_an_unknown_version_is_a_policy_error(folder, corpus):
    code, err = batch("-p", f"{folder}@2027.1", corpus)
    assert code == 2 and "error[unknown_version]" in err and "2026.1, 2026.2" in err


def test_run_batch_takes_the_versions(folder):
    versions, _ = app.policy_versions(str(folder))
    assert versions is not None
    out: list[bytes] = []

    class Sink:
        write = out.append

    lines = _lines()
    result = app.run_batch(lines, Sink(), Evaluator(), policy=versions, summary=True)
    assert (result.decided, result.rejected) == (5, 2)
    assert result.summary is not None
    decided = [Decision.from_json(json.loads(x)) for x in out if not x.startswith(b'{"line"')]
    assert [d.policy_version for d in decided] == ["2026.1", "2026.1", "2026.2", "2026.2",
                                                   "2026.1"]


def test_log_records_each_lines_version(folder, corpus, tmp_path):
    out, log = tmp_path / "out.jsonl", tmp_path / "d.db"
    code, err = batch("-p", folder, "--now", NOW, corpus, "-o", out, "--log", log,
                      "--workers", "1")
    assert code == 1, err
    with LogReader(log) as reader:
        records = list(reader.search(Search()))
    want = {f"T-{i}": v for i, (_, v) in enumerate(TICKETS, 1) if v.startswith("20")}
    assert {r.record["ticket_id"]: r.record["policy"]["version"] for r in records} == want
    ends = {r.record["policy"]["version"]: r.record["policy"]["effective_until"]
            for r in records}
    assert ends == {"2026.1": "2026-07-01T00:00:00+02:00", "2026.2": None}
    written = [x for x in out.read_bytes().splitlines() if not x.startswith(b'{"line"')]
    assert [json.loads(x) for x in written] == [r.decision_json for r in records]
    for verb in ("log verify", "replay"):   # each record replays under its own version
        r = CliRunner().invoke(main, [*verb.split(), str(log)])
        assert r.exit_code == 0, r.output


def _partial(folder: Path, corpus: Path, out: Path) -> None:
    """A killed run's files: the manifest of `batch -p FOLDER` and its first line."""
    _, source, _ = prepare_policy(str(folder))
    assert isinstance(source, VersionSources)
    job = BatchJob(policy=str(folder), input=str(corpus), output=str(out))
    Path(f"{out}.partial.json").write_text(json.dumps(manifest(
        job, source, None, corpus.stat().st_size, str(corpus)), indent=1, sort_keys=True) + "\n")
    whole = out.with_name("whole.jsonl")
    assert batch("-p", folder, corpus, "-o", whole, "--workers", "1")[0] == 1
    Path(f"{out}.partial").write_bytes(whole.read_bytes().splitlines(keepends=True)[0])


def test_resume_continues_under_the_same_versions(folder, corpus, tmp_path):
    out = tmp_path / "out.jsonl"
    _partial(folder, corpus, out)
    code, err = batch("-p", folder, corpus, "-o", out, "--resume", "--workers", "1")
    assert code == 1, err
    assert out.read_bytes() == (tmp_path / "whole.jsonl").read_bytes()


@pytest.mark.parametrize("change", ["edited", "added"])
def test_resume_refuses_a_changed_version_set(folder, corpus, tmp_path, change):
    out = tmp_path / "out.jsonl"
    _partial(folder, corpus, out)
    if change == "edited":
        (folder / "versions" / "2026.2.yaml").write_text(
            version_text("2026.2", "P3", "2026-07-01T00:00:00+02:00"), "utf-8")
    else:
        (folder / "versions" / "2027.1.yaml").write_text(
            version_text("2027.1", "P3", "2027-01-01T00:00:00+01:00"), "utf-8")
    app.clear_policy_cache()
    code, err = batch("-p", folder, corpus, "-o", out, "--resume", "--workers", "1")
    assert code == 2 and "error[resume_mismatch]" in err and "policy" in err, err
    assert not out.exists()


def test_one_undated_policy_keeps_its_manifest(tmp_path):
    cp, source, _ = prepare_policy("cloudtalk")
    assert cp is not None and isinstance(source, PolicySource)
    job = BatchJob(policy="cloudtalk")
    assert manifest(job, source, None, 0, "in")["policy"] == {"file": source.file,
                                                               "digest": source.digest}


@pytest.mark.slow
def test_workers_and_dask_give_the_same_bytes(folder, tmp_path):
    corpus = tmp_path / "many.jsonl"
    lines = _lines() * 400    # several chunks
    corpus.write_text("".join(x + "\n" for x in lines), "utf-8")
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert batch("-p", folder, "--now", NOW, corpus, "-o", one, "--workers", "1")[0] == 1
    assert batch("-p", folder, "--now", NOW, corpus, "-o", two, "--workers", "2")[0] == 1
    assert one.read_bytes() == two.read_bytes()
    log = tmp_path / "d.db"
    logged = tmp_path / "logged.jsonl"
    assert batch("-p", folder, "--now", NOW, corpus, "-o", logged, "--workers", "2",
                 "--log", log)[0] == 1
    assert logged.read_bytes() == one.read_bytes()
    with LogReader(log) as reader:
        versions = [r.record["policy"]["version"] for r in reader.search(Search())]
    assert versions == [v for _, v in TICKETS if v.startswith("20")] * 400
    pytest.importorskip("distributed")
    parts = tmp_path / "parts"
    code, err = batch("-p", folder, "--now", NOW, corpus, "-o", f"{parts}/part-*.jsonl",
                      "--dask", "local", "--workers", "2", "--partition-size", "64KiB")
    assert code == 1, err
    found = sorted(parts.glob("part-*.jsonl"))
    assert len(found) > 1
    assert b"".join(p.read_bytes() for p in found) == one.read_bytes()
