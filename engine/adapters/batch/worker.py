"""What every batch process runs: a policy shipped as its source text and digest (or every
effective-dated version of one, each so), compiled once per process, and one chunk of lines
decided by `engine.app.run_batch`.

The same `decide_chunk` runs in the command's own process (`--workers 1`), in each worker of the
process pool and in each Dask partition, so their bytes are the same.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine import app
from engine.adapters.batch.memory import keep_buffers
from engine.check.mapping import PayloadMapping, check_mapping
from engine.compile.compiler import CompiledPolicy
from engine.compile.pipeline import load_policy_text
from engine.compile.versions import PolicyVersions, assemble_versions, load_versions
from engine.core.decision import Decision
from engine.core.diagnostics import Diagnostic, DiagnosticError, Location
from engine.load import load_yaml, read_text
from engine.load.mappings import resolve_mapping
from engine.load.policies import display_path
from engine.ops.batch import BatchResult, run_batch
from engine.ops.jsonl import DecisionEncoder
from engine.ops.log import DecisionLog, LogError
from engine.ops.log.records import Prepared
from engine.run.adapter import ThreadMode
from engine.run.evaluator import MAX_POLICIES, Evaluator

#: gzip level of compressed output (each chunk is one gzip member, so workers compress).
GZIP_LEVEL = 6
_MAX_POLICIES = 4


@dataclass(frozen=True)
class PolicySource:
    """A policy as shipped to a worker: its text, the name its citations use, its digest."""

    text: str
    file: str
    digest: str

    def compile(self) -> CompiledPolicy:
        """Compile the text; the digest must be the one the sender compiled."""
        cp = load_policy_text(self.text, self.file)
        if cp.digest != self.digest:
            raise DiagnosticError([Diagnostic(
                "policy_digest_mismatch", f"policy `{self.file}` compiled to `{cp.digest}`, "
                f"not the `{self.digest}` it was sent as", location=Location(file=self.file),
                hint="the worker runs another version of ticket-policy than the client")])
        return cp


@dataclass(frozen=True)
class VersionSources:
    """Every effective-dated version of a policy as shipped to a worker (each its own
    `PolicySource`) and the version the reference named, if any."""

    id: str
    versions: tuple[PolicySource, ...]
    named: str | None = None

    def compile(self) -> PolicyVersions:
        """Compile every version (digests checked) and order and date them as the sender did."""
        return assemble_versions([s.compile() for s in self.versions], self.named, self.id)


#: What a worker is sent, and what it decides with.
Shipped = PolicySource | VersionSources
Deciding = CompiledPolicy | PolicyVersions


def chosen(deciding: Deciding) -> CompiledPolicy:
    """The version a host uses when no ticket says more (checks the mapping against)."""
    return deciding.chosen if isinstance(deciding, PolicyVersions) else deciding


@dataclass(frozen=True)
class MappingSource:
    """A helpdesk payload mapping as shipped to a worker: its text and the name it is cited by
    (checked against the policy's facts once per process)."""

    text: str
    file: str

    def check(self, cp: CompiledPolicy) -> PayloadMapping:
        doc, diags = load_yaml(self.text, self.file)
        found, more = check_mapping(doc, cp.policy.facts, self.text) if doc is not None \
            else (None, [])
        if found is None:
            raise DiagnosticError([*diags, *more])
        return found


@dataclass(frozen=True)
class ChunkOptions:
    """How each chunk is decided and written."""

    now: datetime | None = None
    fmt: str = "jsonl"
    summary: bool = False
    source_name: str = "<input>"
    gzip: bool = False
    thread: ThreadMode = "caller"
    mapping: MappingSource | None = None
    log: str | None = None      # a decision log: each decided line's record is prepared
    logged_through: int = 0     # a resumed run's: lines up to here are in the log already


class ChunkLogError(Exception):
    """A chunk's log records could not be prepared (picklable, unlike LogError)."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic)
        self.diagnostic = diagnostic


def prepare_policy(policy_ref: str) -> tuple[Deciding | None, Shipped | None,
                                            tuple[Diagnostic, ...]]:
    """What decides (a policy, or its effective-dated versions: a folder or bundled id holding
    several, a dated one, `id@VERSION`), what workers are sent, or the problems (as
    `evaluate` reports them)."""
    texts: dict[str, str] = {}

    def load(path: Path) -> CompiledPolicy:  # the text `evaluate` compiles, kept to send
        name = display_path(path)
        text, unreadable = read_text(path, name)
        if text is None:
            raise DiagnosticError(unreadable)
        cp = load_policy_text(text, name)
        texts[cp.policy.file] = text
        return cp

    try:
        versions = load_versions(str(policy_ref), load)
    except DiagnosticError as exc:
        return None, None, tuple(sorted(exc.diagnostics, key=Diagnostic.sort_key))
    sources = tuple(PolicySource(texts[cp.policy.file], cp.policy.file, cp.digest)
                    for cp in versions.versions)
    only = versions.versions[0]
    if versions.named is None and len(sources) == 1 and only.policy.effective_from is None \
            and only.policy.effective_until is None:  # one undated policy: every line its own
        return only, sources[0], ()
    named = versions.named.version if versions.named is not None else None
    return versions, VersionSources(versions.id, sources, named), ()


def prepare_mapping(mapping_ref: str, cp: CompiledPolicy
                    ) -> tuple[MappingSource | None, tuple[Diagnostic, ...]]:
    """What workers are sent of `--mapping` (a bundled id or a file), or its problems (as
    `evaluate --mapping` reports them)."""
    found, diags = app.mapping_for(mapping_ref, cp)
    if found is None:
        return None, diags
    try:
        text = resolve_mapping(mapping_ref).read_text("utf-8")
    except (DiagnosticError, OSError, UnicodeDecodeError) as exc:  # changed since it was read
        return None, (Diagnostic("file_unreadable", f"cannot read mapping `{mapping_ref}`: "
                                 f"{exc}", location=Location(file=found.file)),)
    return MappingSource(text, found.file), ()


# ---- per process --------------------------------------------------------------------------
_prepared: dict[tuple, tuple[Deciding, Evaluator, DecisionEncoder]] = {}


def prepared(source: Shipped, thread: ThreadMode = "caller"
             ) -> tuple[Deciding, Evaluator, DecisionEncoder]:
    """This process's compiled policy (or versions), evaluator and encoder for `source`
    (built once)."""
    key = (source.digest, source.file, thread) if isinstance(source, PolicySource) else \
        (tuple((s.digest, s.file) for s in source.versions), source.named, thread)
    hit = _prepared.get(key)
    if hit is None:
        if len(_prepared) >= _MAX_POLICIES:
            _, (_, old, _) = _prepared.popitem()
            old.close()
        deciding = source.compile()
        # a decision cache per version: lines alternating between more versions than the
        # default keeps would evict one another's (10 versions: 6x slower)
        most = max(MAX_POLICIES, len(deciding.versions)) \
            if isinstance(deciding, PolicyVersions) else MAX_POLICIES
        hit = _prepared[key] = deciding, Evaluator(thread=thread, max_policies=most), \
            DecisionEncoder()
    return hit


_mappings: dict[tuple[str, str, str], PayloadMapping] = {}


def prepared_mapping(mapping: MappingSource, cp: CompiledPolicy) -> PayloadMapping:
    """This process's checked `mapping` for the policy `cp` (checked once)."""
    key = (mapping.text, mapping.file, cp.digest)
    hit = _mappings.get(key)
    if hit is None:
        if len(_mappings) >= _MAX_POLICIES:
            _mappings.pop(next(iter(_mappings)))
        hit = _mappings[key] = mapping.check(cp)
    return hit


_logs: dict[str, DecisionLog] = {}


def prepared_log(path: str) -> DecisionLog:
    """This process's handle on the decision log at `path` (its key prepares records)."""
    hit = _logs.get(path)
    if hit is None:
        try:
            hit = _logs[path] = DecisionLog.open(path)
        except LogError as exc:
            raise ChunkLogError(exc.diagnostic) from None
    return hit


def init_worker(source: Shipped, options: ChunkOptions) -> None:
    """A pool worker's initializer: compile the policy (and check the mapping) before the
    first chunk arrives; keep chunk-sized buffers in the heap (`memory`)."""
    keep_buffers()
    deciding, _, _ = prepared(source, options.thread)
    if options.mapping is not None:
        prepared_mapping(options.mapping, chosen(deciding))
    if options.log is not None:
        prepared_log(options.log)


class _Pieces(list):
    """A sink that keeps the lines written to it (joined once, not copied per write)."""

    write = list.append


def decide_chunk(source: Shipped, options: ChunkOptions, first_line: int,
                 lines: Sequence[bytes]) -> tuple[bytes, BatchResult, list[Prepared]]:
    """One chunk's output bytes (one gzip member when compressing), its counts, and with
    `options.log` the decided lines' log records, serialised, in order (the caller commits
    them before it writes the bytes; none for a chunk through `options.logged_through`); each
    record names the version that decided its line."""
    deciding, evaluator, encoder = prepared(source, options.thread)
    cp = chosen(deciding)
    mapping = prepared_mapping(options.mapping, cp) if options.mapping is not None else None
    records: list[Prepared] = []
    on_decided = None
    # a chunk a killed run committed but did not write: written now, not logged again (a
    # resumed run cuts the chunks the killed one did, so a chunk is logged whole or not at all)
    if options.log is not None and first_line + len(lines) - 1 > options.logged_through:
        log = prepared_log(options.log)
        by_digest = {v.digest: v for v in deciding.versions} \
            if isinstance(deciding, PolicyVersions) else {cp.digest: cp}
        preparers: dict[str, Callable[[Decision, Mapping], Prepared]] = {}

        def on_decided(decision: Decision, ticket: Mapping) -> None:
            digest = decision.policy_digest
            preparer = preparers.get(digest)
            if preparer is None:
                preparer = preparers[digest] = log.preparer(by_digest[digest])
            records.append(preparer(decision, ticket))

    out = _Pieces()
    try:
        result = run_batch(lines, out, evaluator, policy=deciding, now=options.now,
                           mapping=mapping,
                           source_name=options.source_name, first_line=first_line,
                           fmt=options.fmt, header=first_line == 1, summary=options.summary,
                           encoder=encoder, on_decided=on_decided)
    except LogError as exc:
        raise ChunkLogError(exc.diagnostic) from None
    data = b"".join(out)
    if options.gzip:
        data = gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
    return data, result, records
