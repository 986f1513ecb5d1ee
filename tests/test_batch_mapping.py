"""`batch --mapping`: helpdesk payloads mapped line by line give the decisions `evaluate
--mapping` gives (golden: the bundled example payloads), in this process, with worker processes
and on Dask; a payload the mapping cannot map is an error record at its line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import ROOT

from cli import main

NOW = "2027-01-15T12:00:00+00:00"
#: (policy, mapping, bundled example payload)
EXAMPLES = [("cloudtalk", "zendesk", "examples/zendesk/cloudtalk-zendesk-staging.json"),
            ("csd-group", "zendesk", "examples/zendesk/csd-group-zendesk-unclassified.json"),
            ("zmanda", "jira", "examples/jira/zmanda-jira-trial.json"),
            ("zmanda", "jira", "examples/jira/zmanda-jira-matrix-override.json")]


def evaluated(policy: str, mapping: str, payload: str) -> dict:
    r = CliRunner().invoke(main, ["evaluate", "-p", policy, "--mapping", mapping, "--now", NOW,
                                  str(ROOT / payload)])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def batch(tmp_path, policy: str, mapping: str, lines: list[bytes], *extra: str):
    src, out = tmp_path / f"{policy}-{mapping}.jsonl", tmp_path / f"{policy}-{mapping}.out"
    src.write_bytes(b"".join(x + b"\n" for x in lines))
    r = CliRunner().invoke(main, ["batch", "-p", policy, "--mapping", mapping, "--now", NOW,
                                  str(src), "-o", str(out), *extra])
    return r, [json.loads(x) for x in out.read_bytes().splitlines()] if out.exists() else []


def payload_line(path: str) -> bytes:
    return json.dumps(json.loads((ROOT / path).read_text("utf-8"))).encode()


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize(("policy", "mapping", "payload"), EXAMPLES)
def test_mapped_payloads_decide_as_evaluate_mapping(tmp_path, policy, mapping, payload, workers):
    line = payload_line(payload)
    r, records = batch(tmp_path, policy, mapping, [line] * 3, "--workers", workers)
    assert r.exit_code == 0, r.output
    assert records == [evaluated(policy, mapping, payload)] * 3


def test_a_payload_the_mapping_cannot_map_is_an_error_record(tmp_path):
    good = payload_line(EXAMPLES[2][2])
    bad = json.dumps({"key": "ZM-9", "fields": {"customfield_10042": {"value": "Nonesuch"}}}
                     ).encode()
    r, records = batch(tmp_path, "zmanda", "jira", [good, bad, b"[1, 2]", good])
    assert r.exit_code == 1, r.output
    assert [x.get("line") for x in records] == [None, 2, 3, None]
    assert records[1]["ticket_id"] == "ZM-9"
    problems = records[1]["problems"]
    assert problems and all(p["file"].endswith("zmanda-jira.jsonl") and p["line"] == 2
                            for p in problems if p.get("pointer"))
    assert any(p["code"].startswith("mapping_") for p in problems), problems
    assert r.stderr.splitlines()[-1].startswith("2 decided, 2 rejected")


def test_an_unknown_mapping_is_a_usage_error(tmp_path):
    r, records = batch(tmp_path, "zmanda", "jiraa", [payload_line(EXAMPLES[2][2])])
    assert r.exit_code == 2 and records == []
    assert "error[unknown_mapping]" in r.stderr and "did you mean" in r.stderr.lower()


def test_the_resume_manifest_names_the_mapping():
    """A partial output written under one mapping is not resumed under another (or none)."""
    from engine.adapters.batch.job import BatchJob, manifest
    from engine.adapters.batch.worker import MappingSource, prepare_policy

    _, source, _ = prepare_policy("cloudtalk")
    job = BatchJob(policy="cloudtalk")
    plain = manifest(job, source, None, 10, "in.jsonl")
    mapped = manifest(job, source, None, 10, "in.jsonl", MappingSource("id: x\n", "m.yaml"))
    other = manifest(job, source, None, 10, "in.jsonl", MappingSource("id: y\n", "m.yaml"))
    assert len({json.dumps(m, sort_keys=True) for m in (plain, mapped, other)}) == 3


@pytest.mark.slow
def test_mapped_payloads_on_a_local_dask_cluster(tmp_path):
    pytest.importorskip("distributed")
    policy, mapping, payload = EXAMPLES[2]
    src = tmp_path / "in.jsonl"
    src.write_bytes((payload_line(payload) + b"\n") * 40)
    r = CliRunner().invoke(main, ["batch", "-p", policy, "--mapping", mapping, "--now", NOW,
                                  str(src), "-o", str(tmp_path / "parts" / "part-*.jsonl"),
                                  "--dask", "local", "--workers", "2",
                                  "--partition-size", "4kB"])
    assert r.exit_code == 0, r.output
    parts = sorted((tmp_path / "parts").iterdir())
    assert len(parts) > 1
    records = [json.loads(x) for p in parts for x in p.read_bytes().splitlines()]
    assert records == [evaluated(policy, mapping, payload)] * 40
