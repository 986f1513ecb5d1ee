"""`ticket-policy batch` and `ticket-policy report` through click and a real subprocess: exit
codes, the summary line, formats, gzip, stdin, workers, atomic output and bad options."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest
from batch_corpus import golden_corpus
from click.testing import CliRunner
from conftest import ROOT

from cli import main
from engine import load_policy

CORPUS = golden_corpus(load_policy("cloudtalk"), 300)


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(x + b"\n" for x in CORPUS))
    return path


def cli(*args, input=None):
    return CliRunner().invoke(main, ["batch", "-p", "cloudtalk", *map(str, args)], input=input)


def test_batch_writes_one_line_per_input_line(corpus, tmp_path):
    out = tmp_path / "out.jsonl"
    r = cli(corpus, "-o", out, "--workers", "1")
    decided = sum(1 for x in out.read_bytes().splitlines() if not x.startswith(b'{"line":'))
    rejected = len(CORPUS) - decided
    assert r.exit_code == 1                       # some lines were rejected
    assert out.read_bytes().count(b"\n") == len(CORPUS)
    assert r.stderr.splitlines()[-1].startswith(f"{decided} decided, {rejected} rejected, ")
    assert r.stderr.splitlines()[-1].endswith(" s")
    assert not (tmp_path / "out.jsonl.partial").exists()
    assert not (tmp_path / "out.jsonl.partial.json").exists()


def test_all_decided_exits_0(tmp_path):
    good = [x for x in CORPUS if b'"B-' in x and b"NaN" not in x][:5]
    r = cli("-", input=b"".join(x + b"\n" for x in good[:1]))
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["ticket_id"].startswith("B-")
    assert r.stderr.startswith("1 decided, 0 rejected, ")


def test_stdout_and_stdin(corpus):
    r = cli("-", input=corpus.read_bytes())
    assert r.stdout.count("\n") == len(CORPUS)
    assert "rejected" in r.stderr


def test_workers_give_the_same_bytes(corpus, tmp_path):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert cli(corpus, "-o", one, "--workers", "1").exit_code == 1
    assert cli(corpus, "-o", two, "--workers", "2").exit_code == 1
    assert one.read_bytes() == two.read_bytes()


def test_gzip_in_and_out(corpus, tmp_path):
    gz_in = tmp_path / "in.jsonl.gz"
    gz_in.write_bytes(gzip.compress(corpus.read_bytes()))
    plain, packed = tmp_path / "plain.jsonl", tmp_path / "packed.jsonl.gz"
    assert cli(gz_in, "-o", plain, "--workers", "1").exit_code == 1
    assert cli(gz_in, "-o", packed, "--workers", "2").exit_code == 1
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    again = tmp_path / "again.jsonl.gz"
    assert cli(gz_in, "-o", again, "--workers", "1").exit_code == 1
    assert again.read_bytes() == packed.read_bytes()   # chunks are members: same bytes


def test_csv_format(corpus, tmp_path):
    out = tmp_path / "out.csv"
    assert cli(corpus, "-o", out, "--format", "csv").exit_code == 1
    rows = out.read_text("utf-8").splitlines()
    assert rows[0] == "line,id,priority,requested,plan,due_at,status,rules_fired,problems"
    assert len(rows) == len(CORPUS) + 1


def test_empty_input(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    for name, expect in [("e.jsonl", b""), ("e.csv", None), ("e.jsonl.gz", b"")]:
        out = tmp_path / name
        fmt = "csv" if name.endswith("csv") else "jsonl"
        r = cli(empty, "-o", out, "--format", fmt)
        assert r.exit_code == 0 and r.stderr.startswith("0 decided, 0 rejected")
        data = out.read_bytes()
        data = gzip.decompress(data) if name.endswith(".gz") else data
        assert data == (expect if expect is not None else b"line,id,priority,requested,plan,"
                        b"due_at,status,rules_fired,problems\n")


def test_summary_and_report_agree(corpus, tmp_path):
    out = tmp_path / "out.jsonl"
    r = cli(corpus, "-o", out, "--summary", "--summary-format", "json", "--now",
            "2026-07-01T12:00:00Z")
    summary = json.loads(r.stdout)
    assert summary["lines"] == len(CORPUS)
    rep = CliRunner().invoke(main, ["report", str(out), "--format", "json"])
    assert rep.exit_code == 0 and json.loads(rep.stdout) == summary
    text = CliRunner().invoke(main, ["report", str(out)])
    assert "sla by plan and priority" in text.stdout
    md = CliRunner().invoke(main, ["report", str(out), "--format", "markdown"])
    assert "## reclassifications by rule" in md.stdout


def test_summary_goes_to_stderr_when_records_go_to_stdout(corpus):
    r = cli(corpus, "--summary")
    assert "decisions by priority" in r.stderr and "decisions by priority" not in r.stdout


def test_report_of_several_files_and_gzip(corpus, tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl.gz"
    cli(corpus, "-o", a)
    cli(corpus, "-o", b)
    rep = CliRunner().invoke(main, ["report", str(a), str(b), "--format", "json"])
    assert json.loads(rep.stdout)["lines"] == 2 * len(CORPUS)


def test_report_of_something_else(tmp_path):
    junk = tmp_path / "junk.jsonl"
    junk.write_text('{"a": 1}\n')
    rep = CliRunner().invoke(main, ["report", str(junk)])
    assert rep.exit_code == 2 and "error[bad_record]" in rep.stderr
    rep = CliRunner().invoke(main, ["report", str(tmp_path / "missing.jsonl")])
    assert rep.exit_code == 2 and "error[input_unreadable]" in rep.stderr


def test_report_exiting_2_prints_no_summary(corpus, tmp_path):
    good, junk = tmp_path / "good.jsonl", tmp_path / "junk.jsonl"
    cli(corpus, "-o", good)
    junk.write_text('{"a": 1}\n')
    rep = CliRunner().invoke(main, ["report", str(good), str(junk)])
    assert rep.exit_code == 2 and rep.stdout == "" and "error[bad_record]" in rep.stderr


def test_report_of_batch_csv_output_says_it_reads_json_lines(corpus, tmp_path):
    out = tmp_path / "w.csv"
    cli(corpus, "-o", out, "--format", "csv")
    rep = CliRunner().invoke(main, ["report", str(out)])
    assert rep.exit_code == 2 and rep.stdout == ""
    [line] = rep.stderr.splitlines()             # one diagnostic, not one per line
    assert "error[bad_record]" in line and "batch csv output" in line
    assert "; hint: run batch with --format jsonl, or with --summary" in line


def test_output_that_is_the_input_is_refused(corpus, tmp_path):
    before = corpus.read_bytes()
    link = tmp_path / "link.jsonl"
    link.symlink_to(corpus)
    for out in (corpus, link, tmp_path / "." / "in.jsonl"):
        r = cli(corpus, "-o", out)
        assert r.exit_code == 2 and r.stdout == "", r.stderr
        assert "error[bad_output]" in r.stderr and "is the input" in r.stderr
        assert r.stderr.count("\n") == 1 and "; hint: write the output to another file" in \
            r.stderr and "Traceback" not in r.stderr
    assert corpus.read_bytes() == before
    assert not (tmp_path / "in.jsonl.partial").exists()


@pytest.mark.parametrize(("args", "code", "text"), [
    (["--mapping", "nonesuch"], "unknown_mapping", "no mapping `nonesuch`"),
    (["--resume"], "bad_resume", "--resume needs an output file"),
    (["--now", "tomorrow"], "bad_now", "--now"),
    (["--dask", "local"], "bad_output", "--dask writes partitioned output"),
    (["--partition-size", "lots", "-o", "x.jsonl"], "bad_size", "is not a size"),
])
def test_bad_options_exit_2(corpus, args, code, text):
    r = cli(corpus, *args)
    assert r.exit_code == 2 and r.stdout == ""
    assert f"error[{code}]" in r.stderr and text in r.stderr
    assert "Traceback" not in r.stderr


def test_unknown_policy_and_missing_input(tmp_path):
    r = CliRunner().invoke(main, ["batch", "-p", "nope", "x.jsonl"])
    assert r.exit_code == 2 and "error[unknown_policy]" in r.stderr
    r = cli(tmp_path / "missing.jsonl", "-o", tmp_path / "o.jsonl")
    assert r.exit_code == 2 and "error[input_unreadable]" in r.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_a_special_file_is_written_not_replaced(corpus):
    r = cli(corpus, "-o", "/dev/null")
    assert r.exit_code == 1
    import os
    import stat

    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    r = cli(corpus, "-o", "/dev/null", "--resume")
    assert r.exit_code == 2 and "error[bad_resume]" in r.stderr


def test_a_folder_is_not_an_output(corpus, tmp_path):
    r = cli(corpus, "-o", tmp_path)
    assert r.exit_code == 2 and "is a folder" in r.stderr


def test_real_subprocess(corpus, tmp_path):
    out = tmp_path / "out.jsonl"
    p = subprocess.run([sys.executable, str(ROOT / "cli.py"), "batch", "-p", "cloudtalk",
                        str(corpus), "-o", str(out), "--workers", "2"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert p.returncode == 1, p.stderr
    assert p.stderr.strip().splitlines()[-1].split(",")[1].strip().endswith("rejected")
    assert out.read_bytes().count(b"\n") == len(CORPUS)
    assert "\r" not in p.stderr   # no progress bar when stderr is not a terminal


def test_example_corpus_from_the_readme():
    p = subprocess.run([sys.executable, str(ROOT / "cli.py"), "batch", "-p", "cloudtalk",
                        "examples/corpus.jsonl", "--format", "csv", "--workers", "1"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert p.returncode == 1
    assert p.stdout.startswith("line,id,priority")
    assert len(p.stdout.splitlines()) == len((ROOT / "examples/corpus.jsonl").read_text()
                                             .splitlines()) + 1


def test_the_readme_summary_example_prints_what_the_readme_shows(tmp_path):
    """The README's `batch ... --summary` example, run as written: its counts and table rows."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("$ ticket-policy batch -p cloudtalk examples/corpus.jsonl --now ", 1)[1]
    command, shown = block.split("\n", 1)
    shown = shown.split("\n$ ", 1)[0]
    args = ["batch", "-p", "cloudtalk", str(ROOT / "examples/corpus.jsonl"), "--now",
            *command.split()]
    args[args.index("-o") + 1] = str(tmp_path / "out.jsonl")
    p = subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True,
                       text=True, timeout=300, cwd=tmp_path)
    printed = (p.stdout + p.stderr).splitlines()
    for line in shown.splitlines():
        if line.strip() in ("…", "") or line.endswith(" s"):
            continue   # elided rows and the time the run took
        assert line in printed, f"the README shows {line!r}; the command printed:\n" + \
            "\n".join(printed)
