"""Tests for engine.loader: YAML policy files and JSON tickets with source locations."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from engine.core.diagnostics import Diagnostic, Location
from engine.load import (
    MAX_DEPTH,
    Document,
    decode_text,
    load_json,
    load_json_file,
    load_yaml,
    load_yaml_file,
    pointer_join,
    read_text,
)

FIXTURES = Path(__file__).parent / "fixtures"
YAML_HAZARDS = FIXTURES / "yaml_hazards"
JSON_INPUTS = FIXTURES / "json_inputs"


def where(diags: list[Diagnostic]) -> list[tuple[str, int | None, int | None]]:
    return [(d.code, d.location.line, d.location.column) for d in diags]


def codes(diags: list[Diagnostic]) -> list[str]:
    return [d.code for d in diags]


def all_pointers(value: object, base: str = "") -> set[str]:
    """Every JSON pointer inside value, computed independently of the loader."""
    out = {base}
    if isinstance(value, dict):
        for key, item in value.items():
            token = key.replace("~", "~0").replace("/", "~1")
            out |= all_pointers(item, f"{base}/{token}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out |= all_pointers(item, f"{base}/{index}")
    return out


def assert_messages_well_formed(diags: list[Diagnostic]) -> None:
    for diag in diags:
        assert "\n" not in diag.message
        assert diag.message[:1] == diag.message[:1].lower(), diag.message
        assert diag.severity == "error"


# --------------------------------------------------------------------------- pointer_join


@pytest.mark.parametrize(
    ("base", "parts", "expected"),
    [
        ("", (), ""),
        ("", ("rules",), "/rules"),
        ("/rules", (0, "when"), "/rules/0/when"),
        ("", ("a/b",), "/a~1b"),
        ("", ("m~n",), "/m~0n"),
        ("", ("~/",), "/~0~1"),
        ("", ("~1",), "/~01"),
        ("/x", ("",), "/x/"),
    ],
)
def test_pointer_join(base: str, parts: tuple, expected: str) -> None:
    assert pointer_join(base, *parts) == expected


# --------------------------------------------------------------------------- YAML: values & marks

POLICY = """\
rules:
  - name: escalate
    when:
      environment: prod
      "path/to": x
      "til~de": z
    then: [assign, page]
owner: ops
"""


def test_yaml_builds_plain_data() -> None:
    doc, diags = load_yaml(POLICY, "policy.yaml")
    assert diags == []
    assert doc is not None
    assert doc.file == "policy.yaml"
    assert doc.data == {
        "rules": [{
            "name": "escalate",
            "when": {"environment": "prod", "path/to": "x", "til~de": "z"},
            "then": ["assign", "page"],
        }],
        "owner": "ops",
    }


def test_yaml_marks_cover_every_value() -> None:
    doc, _ = load_yaml(POLICY, "policy.yaml")
    assert doc is not None
    assert set(doc.marks) == all_pointers(doc.data)


@pytest.mark.parametrize(
    ("pointer", "line", "column"),
    [
        ("", 1, 1),
        ("/rules", 2, 3),
        ("/rules/0", 2, 5),
        ("/rules/0/name", 2, 11),
        ("/rules/0/when", 4, 7),
        ("/rules/0/when/environment", 4, 20),
        ("/rules/0/when/path~1to", 5, 18),
        ("/rules/0/when/til~0de", 6, 17),
        ("/rules/0/then", 7, 11),
        ("/rules/0/then/1", 7, 20),
        ("/owner", 8, 8),
    ],
)
def test_yaml_value_marks(pointer: str, line: int, column: int) -> None:
    doc, _ = load_yaml(POLICY, "policy.yaml")
    assert doc is not None
    assert doc.marks[pointer] == Location("policy.yaml", line, column, pointer)


@pytest.mark.parametrize(
    ("pointer", "line", "column"),
    [
        ("/rules", 1, 1),
        ("/rules/0/name", 2, 5),
        ("/rules/0/when/environment", 4, 7),
        ("/rules/0/when/path~1to", 5, 7),
        ("/rules/0/when/til~0de", 6, 7),
        ("/owner", 8, 1),
    ],
)
def test_yaml_key_marks(pointer: str, line: int, column: int) -> None:
    doc, _ = load_yaml(POLICY, "policy.yaml")
    assert doc is not None
    assert doc.key_marks[pointer] == Location("policy.yaml", line, column, pointer)
    assert doc.locate(pointer, key=True) == doc.key_marks[pointer]


def test_yaml_sequence_items_have_no_key_marks() -> None:
    doc, _ = load_yaml(POLICY, "policy.yaml")
    assert doc is not None
    assert "/rules/0" not in doc.key_marks
    assert "/rules/0/then/0" not in doc.key_marks


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("v:", None),
        ("v: ~", None),
        ("v: null", None),
        ("v: Null", None),
        ("v: NULL", None),
        ("v: true", True),
        ("v: True", True),
        ("v: TRUE", True),
        ("v: false", False),
        ("v: False", False),
        ("v: FALSE", False),
        ("v: 42", 42),
        ("v: -7", -7),
        ("v: +3", 3),
        ("v: 0", 0),
        ("v: 1.5", 1.5),
        ("v: -0.25", -0.25),
        ("v: .5", 0.5),
        ("v: 1e3", 1000.0),
        ("v: 2.5E-2", 0.025),
        ("v: 2026-12-24", "2026-12-24"),
        ("v: 2026-12-24T10:00:00Z", "2026-12-24T10:00:00Z"),
        ("v: hello world", "hello world"),
        ("v: tRuE", "tRuE"),
        ("v: nulls", "nulls"),
        ("v: v1.2.3", "v1.2.3"),
        ("v: '42'", "42"),
        ('v: "true"', "true"),
        ("v: 'yes'", "yes"),
        ('v: "12:30"', "12:30"),
        ("v: '0900'", "0900"),
        ('v: ".inf"', ".inf"),
        ("v: ''", ""),
        ("v: |\n  line one\n  line two\n", "line one\nline two\n"),
        ("v: >-\n  folded\n  text\n", "folded text"),
        ("v: |\n  123\n", "123\n"),
    ],
)
def test_yaml_core_schema_resolution(source: str, expected: object) -> None:
    doc, diags = load_yaml(source, "v.yaml")
    assert diags == []
    assert doc is not None
    value = doc.data["v"]  # type: ignore[index]
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("yes", "yaml_ambiguous_bool"),
        ("No", "yaml_ambiguous_bool"),
        ("ON", "yaml_ambiguous_bool"),
        ("off", "yaml_ambiguous_bool"),
        ("y", "yaml_ambiguous_bool"),
        ("N", "yaml_ambiguous_bool"),
        ("12:30", "yaml_sexagesimal"),
        ("1:30:00", "yaml_sexagesimal"),
        ("09:30", "yaml_sexagesimal"),
        ("-1:30", "yaml_sexagesimal"),
        ("0900", "yaml_leading_zero"),
        ("007", "yaml_leading_zero"),
        ("-01", "yaml_leading_zero"),
        (".inf", "yaml_special_number"),
        ("-.Inf", "yaml_special_number"),
        (".nan", "yaml_special_number"),
        (".NaN", "yaml_special_number"),
        ("0x1F", "yaml_special_number"),
        ("0o17", "yaml_special_number"),
        ("0b101", "yaml_special_number"),
        ("1_000", "yaml_special_number"),
        ("1e999", "yaml_special_number"),
    ],
)
def test_yaml_1_1_coercions_are_errors(value: str, code: str) -> None:
    doc, diags = load_yaml(f"when:\n  v: {value}\n", "p.yaml")
    assert where(diags) == [(code, 2, 6)]
    assert diags[0].location.pointer == "/when/v"
    assert f"`{value}`" in diags[0].message
    assert_messages_well_formed(diags)
    # the document is still returned (it was fully parsed); the value stays text
    assert doc is not None
    assert doc.data == {"when": {"v": value}}
    # quoting the value is the fix
    fixed, fixed_diags = load_yaml(f'when:\n  v: "{value}"\n', "p.yaml")
    assert fixed_diags == []
    assert fixed is not None and fixed.data == {"when": {"v": value}}


def test_sexagesimal_message_suggests_quoting() -> None:
    _, diags = load_yaml("at: 12:30\n", "p.yaml")
    assert diags[0].message == (
        '`12:30` would be read as a number by YAML 1.1 tools; quote it: "12:30"'
    )


def test_ambiguous_bool_as_key() -> None:
    doc, diags = load_yaml("on: push\n", "ci.yaml")
    assert where(diags) == [("yaml_ambiguous_bool", 1, 1)]
    assert doc is not None and doc.data == {"on": "push"}


# --------------------------------------------------------------------------- YAML hazard fixtures

HAZARDS: dict[str, list[tuple[str, int, int]]] = {
    "duplicate_key.yaml": [("yaml_duplicate_key", 5, 7)],
    "yes_no_bool.yaml": [("yaml_ambiguous_bool", 6, 15)],
    "sexagesimal_time.yaml": [("yaml_sexagesimal", 4, 23)],
    "leading_zero_int.yaml": [("yaml_leading_zero", 4, 17)],
    "python_tag.yaml": [("yaml_tag", 3, 11)],
    "custom_tag.yaml": [("yaml_tag", 4, 17)],
    "hex_number.yaml": [("yaml_special_number", 4, 20)],
    "octal_number.yaml": [("yaml_special_number", 4, 20)],
    "infinity.yaml": [("yaml_special_number", 4, 24)],
    "non_string_key.yaml": [("yaml_key_type", 4, 7)],
    "syntax_error.yaml": [("yaml_syntax", 5, 9)],
    "tab_indent.yaml": [("yaml_syntax", 2, 1)],
    "unquoted_colon.yaml": [("yaml_syntax", 4, 18)],
    "multiple_documents.yaml": [("yaml_multiple_documents", 3, 1)],
    "empty.yaml": [("yaml_empty", 1, 1)],
    "comments_only.yaml": [("yaml_empty", 1, 1)],
    # anchors are reported too; building stops at the first alias
    "anchor_merge.yaml": [("yaml_alias", 1, 11), ("yaml_alias", 6, 11)],
    "alias_bomb.yaml": [("yaml_alias", 2, 4), ("yaml_alias", 3, 4), ("yaml_alias", 3, 8)],
}
ABORTING = {"syntax_error.yaml", "tab_indent.yaml", "unquoted_colon.yaml", "empty.yaml",
            "comments_only.yaml", "anchor_merge.yaml", "alias_bomb.yaml"}


def test_every_hazard_fixture_is_covered() -> None:
    assert {p.name for p in YAML_HAZARDS.glob("*.yaml")} == set(HAZARDS)


@pytest.mark.parametrize("name", sorted(HAZARDS))
def test_yaml_hazard_fixture(name: str) -> None:
    path = YAML_HAZARDS / name
    doc, diags = load_yaml_file(path)
    assert where(diags) == HAZARDS[name]
    assert all(d.location.file == str(path) for d in diags)
    assert_messages_well_formed(diags)
    assert (doc is None) == (name in ABORTING)


def test_duplicate_key_names_key_and_first_line() -> None:
    _, diags = load_yaml_file(YAML_HAZARDS / "duplicate_key.yaml")
    (diag,) = diags
    assert "`priority`" in diag.message
    assert "line 4" in diag.message
    assert diag.location.pointer == "/rules/0/when/priority"


def test_duplicate_key_keeps_first_value_and_its_marks() -> None:
    doc, _ = load_yaml("a: 1\nb: 2\na: {x: 3}\n", "d.yaml")
    assert doc is not None
    assert doc.data == {"a": 1, "b": 2}
    assert doc.marks["/a"].line == 1
    assert "/a/x" not in doc.marks


def test_python_tag_constructs_nothing() -> None:
    doc, diags = load_yaml_file(YAML_HAZARDS / "python_tag.yaml")
    assert "`!!python/object/apply:os.system`" in diags[0].message
    assert doc is not None
    assert doc.data == {"rules": [{"name": "innocent-looking", "then": ["echo pwned"]}]}


@pytest.mark.parametrize("source", ["v: !!str 12\n", "v: !!int '12'\n", "v: ! x\n",
                                    "v: !!map {a: 1}\n", "v: !!seq [1]\n"])
def test_any_tag_is_rejected(source: str) -> None:
    _, diags = load_yaml(source, "t.yaml")
    assert where(diags) == [("yaml_tag", 1, 4)]


def test_alias_bomb_is_rejected_without_expansion() -> None:
    doc, diags = load_yaml_file(YAML_HAZARDS / "alias_bomb.yaml")
    assert doc is None
    # building stopped at the very first alias: later lines were never read
    assert sum("alias `*" in d.message for d in diags) == 1
    assert diags[-1].location == Location(str(YAML_HAZARDS / "alias_bomb.yaml"), 3, 8, "/b/0")
    assert "anchors and aliases are not allowed in policy files" in diags[-1].message


def test_huge_alias_bomb_returns_promptly() -> None:
    # 30 levels of 30 aliases: 30**30 nodes if expanded; un-expanded it is a few kilobytes
    lines = ["l0: &l0 [x]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 30) + "]" for i in range(1, 31)]
    doc, diags = load_yaml("\n".join(lines), "bomb.yaml")
    assert doc is None
    assert codes(diags) == ["yaml_alias"] * 3


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1: a\n", [("yaml_key_type", 1, 1)]),
        ("true: a\n", [("yaml_key_type", 1, 1)]),
        ("null: a\n", [("yaml_key_type", 1, 1)]),
        ("1.5: a\n", [("yaml_key_type", 1, 1)]),
        ("?\n: a\n", [("yaml_key_type", 1, 2)]),
        ("[a, b]: c\n", [("yaml_key_type", 1, 1)]),
        ("? {a: 1}\n: c\n", [("yaml_key_type", 1, 3)]),
        ("'1': a\n", []),
    ],
)
def test_yaml_key_types(source: str, expected: list) -> None:
    doc, diags = load_yaml(source, "k.yaml")
    assert where(diags) == expected
    assert_messages_well_formed(diags)
    assert doc is not None


def test_yaml_collects_all_errors_in_one_pass() -> None:
    source = (
        "rules:\n"                      # 1
        "  - name: a\n"                 # 2
        "    name: b\n"                 # 3
        "    when: {open: yes, at: 8:15}\n"   # 4
        "    then: !!str x\n"           # 5
        "    limit: 010\n"              # 6
        "    1: one\n"                  # 7
    )
    doc, diags = load_yaml(source, "many.yaml")
    assert doc is not None
    assert where(diags) == [
        ("yaml_duplicate_key", 3, 5),
        ("yaml_ambiguous_bool", 4, 18),
        ("yaml_sexagesimal", 4, 27),
        ("yaml_tag", 5, 11),
        ("yaml_leading_zero", 6, 12),
        ("yaml_key_type", 7, 5),
    ]


def test_yaml_errors_before_a_syntax_error_are_kept() -> None:
    doc, diags = load_yaml("a: 1\na: 2\nb: [1, 2\n", "s.yaml")
    assert doc is None
    assert codes(diags) == ["yaml_duplicate_key", "yaml_syntax"]


def test_yaml_syntax_error_message_and_hint() -> None:
    _, diags = load_yaml_file(YAML_HAZARDS / "syntax_error.yaml")
    (diag,) = diags
    assert diag.message == "did not find expected ',' or ']'"
    assert diag.hint is not None and "line 4, column 25" in diag.hint


def test_yaml_control_character_location_counts_characters() -> None:
    doc, diags = load_yaml("é: ok\nnote: caf\u00e9 \x07\n", "c.yaml")
    assert doc is None
    assert where(diags) == [("yaml_syntax", 2, 12)]
    assert "U+0007" in diags[0].message


def test_yaml_multiple_documents_keeps_first() -> None:
    doc, diags = load_yaml_file(YAML_HAZARDS / "multiple_documents.yaml")
    assert codes(diags) == ["yaml_multiple_documents"]
    assert doc is not None and doc.data == {"rules": [{"name": "first"}]}


@pytest.mark.parametrize("source", ["", "   \n", "# nothing\n", "---\n", "--- # empty\n"])
def test_yaml_empty(source: str) -> None:
    assert load_yaml(source, "e.yaml") == (
        None, [Diagnostic("yaml_empty", "the file contains no yaml document",
                          location=Location("e.yaml", 1, 1))])


def test_yaml_explicit_document_markers_are_fine() -> None:
    doc, diags = load_yaml("---\na: 1\n...\n", "d.yaml")
    assert diags == [] and doc is not None and doc.data == {"a": 1}


def test_yaml_top_level_scalar_or_list_is_returned() -> None:
    doc, diags = load_yaml("- 1\n- two\n", "l.yaml")
    assert diags == [] and doc is not None and doc.data == [1, "two"]
    doc, diags = load_yaml("null\n", "n.yaml")
    assert diags == [] and doc is not None and doc.data is None


def test_yaml_bom_and_crlf() -> None:
    doc, diags = load_yaml("\ufeffa: 1\r\nb:\r\n  - x\r\n", "w.yaml")
    assert diags == [] and doc is not None
    assert doc.data == {"a": 1, "b": ["x"]}
    assert doc.marks["/b/0"] == Location("w.yaml", 3, 5, "/b/0")


def test_yaml_too_deep() -> None:
    doc, diags = load_yaml("[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5), "deep.yaml")
    assert doc is None
    assert where(diags) == [("yaml_too_deep", 1, MAX_DEPTH + 1)]
    doc, diags = load_yaml("[" * MAX_DEPTH + "]" * MAX_DEPTH, "ok.yaml")
    assert diags == [] and doc is not None


# --------------------------------------------------------------------------- files


def test_missing_file_is_a_diagnostic(tmp_path: Path) -> None:
    for loader in (load_yaml_file, load_json_file):
        doc, diags = loader(tmp_path / "nope.yaml")
        assert doc is None
        assert codes(diags) == ["file_unreadable"]
        assert diags[0].location.file == str(tmp_path / "nope.yaml")


def test_directory_is_a_diagnostic(tmp_path: Path) -> None:
    doc, diags = load_yaml_file(tmp_path)
    assert doc is None and codes(diags) == ["file_unreadable"]


def test_bad_utf8_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("a: 1\nb: caf\u00e9\n".encode("latin-1"))
    doc, diags = load_yaml_file(path)
    assert doc is None
    assert where(diags) == [("file_unreadable", 2, 7)]
    assert "utf-8" in diags[0].message


def test_reader_decodes_bytes_and_cites_the_given_name(tmp_path: Path) -> None:
    assert decode_text(b"\xef\xbb\xbf{}\n", "<stdin>") == ("\ufeff{}\n", [])  # the loaders drop it
    text, diags = decode_text(b'{"a":\n "caf\xe9"}', "<stdin>")
    assert text is None and where(diags) == [("file_unreadable", 2, 6)]
    assert diags[0].location.file == "<stdin>"
    text, diags = read_text(tmp_path / "nope.json", name="nope.json")
    assert text is None and codes(diags) == ["file_unreadable"]
    assert diags[0].location.file == "nope.json" and "`nope.json`" in diags[0].message


def test_file_name_is_kept_as_given(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("a: yes\n", encoding="utf-8")
    doc, diags = load_yaml_file(str(path))
    assert doc is not None and doc.file == str(path)
    assert diags[0].location.file == str(path)


def test_yaml_file_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    doc, diags = load_yaml_file(path)
    assert diags == [] and doc is not None and doc.data == {"a": 1}
    assert doc.marks["/a"] == Location(str(path), 1, 4, "/a")


# --------------------------------------------------------------------------- locate


def test_locate_exact_and_fallback() -> None:
    doc, _ = load_yaml(POLICY, "policy.yaml")
    assert doc is not None
    assert doc.locate("/rules/0/when/environment") == doc.marks["/rules/0/when/environment"]
    # a missing pointer borrows the nearest existing ancestor's line and column
    missing = doc.locate("/rules/0/when/severity/level")
    assert (missing.line, missing.column) == (4, 7)
    assert missing.pointer == "/rules/0/when/severity/level"
    assert missing.file == "policy.yaml"
    assert (doc.locate("/rules/7").line, doc.locate("/rules/7").column) == (2, 3)
    assert (doc.locate("/nope").line, doc.locate("/nope").column) == (1, 1)
    assert doc.locate("") == doc.marks[""]


def test_locate_key() -> None:
    doc, _ = load_yaml(POLICY, "policy.yaml")
    assert doc is not None
    assert doc.locate("/rules/0/when", key=True) == Location("policy.yaml", 3, 5, "/rules/0/when")
    assert doc.locate("/rules/0/when") == Location("policy.yaml", 4, 7, "/rules/0/when")
    # sequence items have no key: the value mark is used
    assert doc.locate("/rules/0", key=True) == doc.marks["/rules/0"]
    # missing key: nearest ancestor value
    assert doc.locate("/rules/0/when/nope", key=True).line == 4


@pytest.mark.parametrize("pointer", ["no-slash", "//", "/rules/x/y/z", "~", "/~9", 3, None])
def test_locate_never_raises(pointer: object) -> None:
    doc, _ = load_yaml(POLICY, "policy.yaml")
    assert doc is not None
    loc = doc.locate(pointer)  # type: ignore[arg-type]
    assert loc.file == "policy.yaml" and loc.line is not None


def test_locate_without_marks() -> None:
    doc = Document(data={}, file="bare.yaml")
    assert doc.locate("/a") == Location(file="bare.yaml", pointer="/a")


def test_document_is_frozen() -> None:
    doc, _ = load_yaml("a: 1\n", "f.yaml")
    assert doc is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        doc.data = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        doc.marks["/b"] = Location()  # type: ignore[index]


# --------------------------------------------------------------------------- JSON

TICKET = '{\n  "id": "T-1",\n  "tags": ["a/b", "c~d"],\n  "meta": {"x/y": {"~z": [1, 2.5]}}\n}'


def test_json_values_and_marks() -> None:
    doc, diags = load_json(TICKET, "t.json")
    assert diags == []
    assert doc is not None
    assert doc.data == json.loads(TICKET)
    assert set(doc.marks) == all_pointers(doc.data)
    assert doc.marks[""] == Location("t.json", 1, 1, "")
    assert doc.marks["/id"] == Location("t.json", 2, 9, "/id")
    assert doc.marks["/tags/1"] == Location("t.json", 3, 19, "/tags/1")
    assert doc.marks["/meta/x~1y/~0z/1"] == Location("t.json", 4, 30, "/meta/x~1y/~0z/1")
    assert doc.key_marks["/meta/x~1y/~0z"] == Location("t.json", 4, 20, "/meta/x~1y/~0z")
    assert doc.key_marks["/meta"] == Location("t.json", 4, 3, "/meta")
    assert doc.locate("/meta/x~1y/missing").line == 4
    assert dict(doc.marks)  # iterable like any mapping


def test_json_valid_ticket_fixture() -> None:
    path = JSON_INPUTS / "valid_ticket.json"
    doc, diags = load_json_file(path)
    assert diags == []
    assert doc is not None
    assert doc.data == json.loads(path.read_text(encoding="utf-8"))
    assert set(doc.marks) == all_pointers(doc.data)
    assert doc.marks["/customer/tags~0legacy/1"].line == 5
    assert doc.marks["/comments/1/body"] == Location(str(path), 11, 31, "/comments/1/body")


@pytest.mark.parametrize(
    "text",
    [
        "0", "-0", "1.5e10", "-2E-3", "123456789012345678901234567890", '""', '"\\ud83d\\ude00"',
        "[]", "{}", " [ ] ", '{"": {"": []}}', '{"a":[{"b":[[],{}]}]}', "\t\r\n null \n",
        '["\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041"]', '"\u2028 unicode é"', "[true,false,null]",
    ],
)
def test_json_values_equal_json_loads(text: str) -> None:
    doc, diags = load_json(text, "v.json")
    assert diags == []
    assert doc is not None
    assert doc.data == json.loads(text)
    assert set(doc.marks) == all_pointers(doc.data)


JSON_CASES: dict[str, list[tuple[str, int, int]]] = {
    "valid_ticket.json": [],
    "bom.json": [],
    "missing_comma.json": [("json_syntax", 4, 3)],
    "trailing_comma.json": [("json_syntax", 3, 32)],
    "unterminated_string.json": [("json_syntax", 3, 30)],
    "empty.json": [("json_syntax", 1, 1)],
    "duplicate_key.json": [("json_duplicate_key", 6, 5)],
    "non_finite.json": [("json_non_finite", 3, 16), ("json_non_finite", 4, 30),
                        ("json_non_finite", 4, 51)],
    "several_problems.json": [("json_duplicate_key", 3, 3), ("json_non_finite", 4, 16),
                              ("json_syntax", 6, 3)],
    "invalid_utf8.json": [("file_unreadable", 3, 18)],
}


def test_every_json_fixture_is_covered() -> None:
    assert {p.name for p in JSON_INPUTS.glob("*.json")} == set(JSON_CASES)


@pytest.mark.parametrize("name", sorted(JSON_CASES))
def test_json_fixture(name: str) -> None:
    path = JSON_INPUTS / name
    doc, diags = load_json_file(path)
    assert where(diags) == JSON_CASES[name]
    assert all(d.location.file == str(path) for d in diags)
    assert_messages_well_formed(diags)
    failed = any(d.code in ("json_syntax", "file_unreadable") for d in diags)
    assert (doc is None) == failed


@pytest.mark.parametrize("name", ["missing_comma.json", "trailing_comma.json",
                                  "unterminated_string.json", "empty.json"])
def test_json_syntax_matches_json_module(name: str) -> None:
    text = (JSON_INPUTS / name).read_text(encoding="utf-8")
    with pytest.raises(json.JSONDecodeError) as caught:
        json.loads(text)
    _, diags = load_json(text, name)
    diag = diags[-1]
    assert diag.code == "json_syntax"
    assert (diag.location.line, diag.location.column) == (caught.value.lineno,
                                                          caught.value.colno)
    assert diag.message.startswith(caught.value.msg[:1].lower() + caught.value.msg[1:12])


def test_json_syntax_pointer_where_known() -> None:
    _, diags = load_json_file(JSON_INPUTS / "trailing_comma.json")
    assert diags[0].location.pointer == "/tags/2"
    assert diags[0].message == "expecting value"


def test_json_duplicate_key_pointer_and_message() -> None:
    _, diags = load_json_file(JSON_INPUTS / "duplicate_key.json")
    (diag,) = diags
    assert diag.location.pointer == "/customer/tier"
    assert "`tier`" in diag.message and "`/customer`" in diag.message
    assert "line 4, column 5" in diag.message


def test_json_duplicate_key_value_matches_json_loads() -> None:
    text = '{"a": {"x": 1, "y": 2}, "b": 0, "a": {"x": 3}}'
    doc, diags = load_json(text, "d.json")
    assert codes(diags) == ["json_duplicate_key"]
    assert doc is not None and doc.data == json.loads(text)
    assert doc.marks["/a"].column == 38
    assert doc.marks["/a/x"].column == 44


def test_json_duplicate_key_with_escaped_name() -> None:
    _, diags = load_json('{"r": {"a/b": 1, "a/b": 2}}', "d.json")
    assert [d.location.pointer for d in diags] == ["/r/a~1b"]


def test_json_non_finite() -> None:
    doc, diags = load_json_file(JSON_INPUTS / "non_finite.json")
    assert [d.location.pointer for d in diags] == ["/age_hours", "/sla/remaining_hours",
                                                   "/sla/budget"]
    assert "`NaN`" in diags[0].message and "`-Infinity`" in diags[1].message
    assert doc is not None
    assert math.isnan(doc.data["age_hours"])  # type: ignore[index]
    assert doc.data["sla"] == {"remaining_hours": -math.inf, "budget": math.inf}  # type: ignore


def test_json_overflowing_number_is_non_finite() -> None:
    _, diags = load_json('{"n": 1e400}', "o.json")
    assert where(diags) == [("json_non_finite", 1, 7)]


def test_json_bom_is_tolerated() -> None:
    doc, diags = load_json('\ufeff{"a": 1}', "b.json")
    assert diags == [] and doc is not None and doc.data == {"a": 1}
    assert doc.marks["/a"] == Location("b.json", 1, 7, "/a")


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('{"a": 1', 1, 8),
        ("[1, 2", 1, 6),
        ("{'a': 1}", 1, 2),
        ("[01]", 1, 3),
        ('{"a": tru}', 1, 7),
        ('{"a" 1}', 1, 6),
        ("[1]]", 1, 4),
        ('"\\x"', 1, 2),
        ("[-]", 1, 2),
        ("[.5]", 1, 2),
        ("nan", 1, 1),
    ],
)
def test_json_syntax_positions(text: str, line: int, column: int) -> None:
    doc, diags = load_json(text, "s.json")
    assert doc is None
    assert where(diags) == [("json_syntax", line, column)]
    assert_messages_well_formed(diags)


def test_json_too_deep() -> None:
    doc, diags = load_json("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "deep.json")
    assert doc is None and codes(diags) == ["json_too_deep"]
    doc, diags = load_json("[" * MAX_DEPTH + "]" * MAX_DEPTH, "ok.json")
    assert diags == [] and doc is not None


def test_json_megabyte_input() -> None:
    tickets = [{"id": f"T-{i}", "subject": f"printer {i} on fire", "tags": ["hw", "urgent"],
                "age_hours": i / 7, "open": i % 2 == 0, "assignee": None} for i in range(8000)]
    text = json.dumps({"tickets": tickets}, indent=2)
    assert len(text) > 1_000_000
    doc, diags = load_json(text, "big.json")
    assert diags == [] and doc is not None
    assert doc.data == json.loads(text)
    assert len(doc.marks) == len(all_pointers(doc.data))
    assert doc.marks["/tickets/7999/assignee"].line == text.count("\n") - 2
