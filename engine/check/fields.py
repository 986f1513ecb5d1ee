"""Ticket keys a decision does not use: which it ignored, and which look like a misspelt fact.

A ticket may carry any field; fields the decision does not read are accepted but listed
(`Decision.ignored_fields`), except those the policy declares under `ignore_fields`. A key that
is not a fact but is one edit (insertion, deletion, substitution, swap of neighbours) away from
an absent fact, or differs from it only in case or separators (`Requested-Priority`), is a
near miss: a warning with "did you mean", an error in strict mode.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from engine.core.diagnostics import Diagnostic, Location, Severity, pointer_join
from engine.core.facts import FactSpec

_SEPARATORS = str.maketrans("", "", "_-. ")


def fold(name: str) -> str:
    """`name` without case and separators: `Requested-Priority` -> `requestedpriority`."""
    return name.lower().translate(_SEPARATORS)


def one_edit(a: str, b: str) -> bool:
    """Whether `a` and `b` differ by exactly one insertion, deletion, substitution, or swap of
    two neighbouring characters."""
    if a == b:
        return False
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la > lb:
        a, b, la, lb = b, a, lb, la
    i = 0
    while i < la and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1:] == b[i + 1:]:
            return True  # substitution
        return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2:] == b[i + 2:]
    return a[i:] == b[i + 1:]  # b is a with one character inserted


def near_miss(key: str, candidates: Iterable[str]) -> str | None:
    """The candidate `key` most likely misspells, or None: equal up to case and separators
    first, then one edit away, then one edit away up to case and separators."""
    options = sorted(set(candidates))
    folded = fold(key)
    for test in (lambda c: fold(c) == folded, lambda c: one_edit(key, c),
                 lambda c: one_edit(folded, fold(c))):
        for c in options:
            if c != key and test(c):
                return c
    return None


def check_ignore_fields(fields: Iterable[str], facts: Mapping[str, FactSpec]
                        ) -> list[tuple[int, tuple[str, str, str, Severity]]]:
    """Problems of a policy's `ignore_fields`: (index, (code, message, hint, severity))."""
    paths = [p for p, f in facts.items() if not f.derived]
    parents = {p.rsplit(".", i)[0] for p in paths for i in range(1, p.count(".") + 1)}
    out: list[tuple[int, tuple[str, str, str, Severity]]] = []
    for i, path in enumerate(fields):
        head = path.rpartition(".")[0]
        if path in parents:
            out.append((i, ("fact_ignored_parent", f"`{path}` holds facts and cannot be ignored "
                            "as a whole", f"list its other fields, e.g. `{path}.name`", "error")))
        elif head and head not in parents:
            top = path
            while top.rpartition(".")[0] not in ("", *parents):
                top = top.rpartition(".")[0]
            out.append((i, ("fact_ignored_nested", f"`{path}` is inside `{top}`, which is not "
                            "a fact: keys are listed from there", f"list `{top}` instead",
                            "error")))
        elif path not in facts and (guess := near_miss(path, paths)) is not None:
            out.append((i, ("fact_ignored_misspelt", f"`{path}` in `ignore_fields` is one slip "
                            f"away from fact `{guess}`: tickets misspelling `{guess}` that way "
                            "would be ignored silently", f"did you mean `{guess}`? list it only "
                            "if tickets really carry this field", "warning")))
    return out


class FieldScan:
    """Which keys of a (valid) ticket a policy's decision ignores, and the near misses.

    `facts`: every catalogued fact path; `read`: the paths the decision depends on;
    `declared`: the policy's `ignore_fields`.
    """

    def __init__(self, facts: Iterable[str], read: Iterable[str], declared: Iterable[str] = ()):
        self.facts = frozenset(facts)
        self.declared = frozenset(declared)
        read = set(read) | {"id"}
        self.parents: set[str] = set()
        self.children: dict[str, set[str]] = {"": set()}   # prefix -> catalogued names
        for path in self.facts:
            parts = path.split(".")
            for depth in range(len(parts)):
                prefix = ".".join(parts[:depth])
                self.children.setdefault(prefix, set()).add(parts[depth])
                if depth:
                    self.parents.add(prefix)
        # names under each prefix a ticket may hold without being listed, and among them the
        # objects to look into
        self.quiet: dict[str, frozenset[str]] = {}
        self.deeper: dict[str, tuple[str, ...]] = {}
        for prefix in {"", *self.parents}:
            names = set()
            for path in (*read, *self.declared, *self.parents):
                head, _, name = path.rpartition(".")
                if head == prefix:
                    names.add(name)
            self.quiet[prefix] = frozenset(names)
            self.deeper[prefix] = tuple(sorted(
                n for n in names if (f"{prefix}.{n}" if prefix else n) in self.parents))

    def ignored(self, ticket: Mapping) -> tuple[str, ...]:
        """The keys (dotted paths below catalogued objects) the decision does not read."""
        out: list[str] = []
        quiet = self.quiet
        if not ticket.keys() <= quiet[""]:
            out += (k for k in ticket.keys() - quiet[""] if k not in self.declared)
        for name in self.deeper[""]:  # `customer`, `contract`: checked here, the common case
            node = ticket.get(name)
            if node is None or node.__class__ is dict and node.keys() <= quiet[name] \
                    and not self.deeper[name]:
                continue
            self._below(node, name, out)
        return tuple(sorted(out)) if out else ()

    def _below(self, node: object, prefix: str, out: list[str]) -> None:
        if node.__class__ is not dict and not isinstance(node, Mapping):
            return
        quiet = self.quiet[prefix]
        if not node.keys() <= quiet:  # the common case, a clean ticket, stops here
            for key in node.keys() - quiet:
                path = f"{prefix}.{key}" if prefix else key
                if path not in self.declared:
                    out.append(path)
        for name in self.deeper[prefix]:
            child = node.get(name)
            if child is not None:
                self._below(child, f"{prefix}.{name}" if prefix else name, out)

    def near_misses(self, ticket: Mapping, ignored: Iterable[str]) -> list[tuple[str, str]]:
        """(ignored key, the absent fact it likely misspells) for keys that are not facts."""
        found = []
        for path in ignored:
            if path in self.facts or path in self.parents:
                continue
            prefix, _, key = path.rpartition(".")
            if prefix and prefix not in self.parents:
                prefix, key = "", path  # a top-level key with dots in its name
            node = _mapping_at(ticket, prefix)
            guess = near_miss(key, [n for n in self.children.get(prefix, ()) if n not in node])
            if guess is not None:
                found.append((path, f"{prefix}.{guess}" if prefix else guess))
            elif not prefix:  # `customer_segment`, `customer.segmnt` written flat
                flat = [p for p in self.facts if "." in p and not _present(ticket, p)]
                guess = near_miss(key, flat)
                if guess is not None:
                    found.append((path, guess))
        return found

    def diagnostics(self, ticket: Mapping, ignored: Iterable[str], strict: bool
                    ) -> list[Diagnostic]:
        """The near misses as `ticket_unknown_field` warnings (errors when `strict`)."""
        out = []
        for path, guess in self.near_misses(ticket, ignored):
            prefix, _, key = path.rpartition(".")
            parts = (*prefix.split("."), key) if prefix in self.parents else (path,)
            hint = f"did you mean `{guess}`?"
            if "." in guess and parts == (path,):
                hint = f"did you mean `{guess}`, written nested: `{_nested(guess)}`?"
            message = f"unknown field `{path}`" + ("" if strict else " is ignored")
            out.append(Diagnostic("ticket_unknown_field", message,
                                  "error" if strict else "warning",
                                  Location(pointer=pointer_join("", *parts)), hint=hint))
        return out


def _mapping_at(ticket: Mapping, prefix: str) -> Mapping:
    """The object at a dotted prefix (the ticket for `""`), or an empty one."""
    node: object = ticket
    for part in prefix.split(".") if prefix else ():
        node = node.get(part) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def _present(ticket: Mapping, path: str) -> bool:
    *parents, leaf = path.split(".")
    return leaf in _mapping_at(ticket, ".".join(parents))


def _nested(path: str) -> str:
    *parents, leaf = path.split(".")
    return "".join(f'{{"{p}": ' for p in parents) + f'{{"{leaf}": …}}' + "}" * len(parents)
