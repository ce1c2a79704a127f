"""Text from data reaches the terminal shown, never obeyed: ids, class names, file and column
names are printed with their control characters escaped and are never read as rich markup,
while JSON and per-row CSV output carry them verbatim."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cecli.cli import main
from cecli.render import safe_text

TITLE = "\x1b]0;pwned\x07"
"""An escape sequence that retitles the terminal window."""
CLEAR = "\x1b[2J"
"""An escape sequence that clears the screen."""
LINK = "[link=https://evil.example]click[/link]"
BLINK = "[blink]b[/blink]"
BAD_TAG = "[/x]"
"""A closing tag with no opening one: rich raises MarkupError when it reads it as markup."""

HAZARDS = [
    pytest.param(f"{TITLE}a", "\\x1b]0;pwned\\x07a", id="title"),
    pytest.param(f"{CLEAR}a", "\\x1b[2Ja", id="clear"),
    pytest.param(LINK, LINK, id="link"),
    pytest.param(BLINK, BLINK, id="blink"),
    pytest.param(BAD_TAG, BAD_TAG, id="bad-tag"),
    pytest.param("\u202eevil\x9b\x7f", "\\u202eevil\\x9b\\x7f", id="bidi-c1-del"),
    pytest.param(":cat:", ":cat:", id="emoji-code"),
]
"""Text that a terminal or rich would act on, and how it must appear instead (escapes spelled
out by hand); none holds a comma or a space, so each can also be a --classes name."""

IDS = [f"{TITLE}a", LINK, BLINK, BAD_TAG, "\u202eevil\x9b\x7f\tline\nbreak"]
"""One id per worst row (a summary lists five)."""

SGR = re.compile(r"\x1b\[[0-9;]*m")
"""Select Graphic Rendition: the colour and bold codes rich writes when styling is on."""


def _unsafe_characters(text: str) -> list[str]:
    """Characters a terminal would act on: C0 controls but the line feed, DEL, C1 controls and
    the bidi controls."""
    return [
        character
        for character in text
        if (ord(character) < 0x20 and character != "\n")
        or 0x7F <= ord(character) <= 0x9F
        or 0x202A <= ord(character) <= 0x202E
        or 0x2066 <= ord(character) <= 0x2069
    ]


def _assert_terminal_safe(text: str, *, styled: bool) -> str:
    """Check ``text`` for anything but styling; return it with the styling removed."""
    assert "\x1b]" not in text, "an operating system command (title, hyperlink) was written"
    plain = SGR.sub("", text)
    assert _unsafe_characters(plain) == []
    assert "Traceback" not in text
    if not styled:
        assert plain == text
    return plain


@pytest.fixture(params=[False, True], ids=["plain", "styled"])
def styled(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Run each case as piped text and as a colour terminal, where markup would take effect."""
    on = bool(request.param)
    if on:
        monkeypatch.setenv("TTY_COMPATIBLE", "1")
        monkeypatch.setenv("FORCE_COLOR", "1")
    return on


def _run(args: list[str], capsys: pytest.CaptureFixture[str], styled: bool) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    if styled and captured.out:
        assert SGR.search(captured.out), "styling was not on"
    out = _assert_terminal_safe(captured.out, styled=styled)
    err = _assert_terminal_safe(captured.err, styled=False)
    return code, out, err


def _write_ids(path: Path, ids: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "label", "p0", "p1"])
        for row, identifier in enumerate(ids):
            # Each row a different loss, so the worst rows are all of them.
            p = 0.05 * (row + 1)
            writer.writerow([identifier, 0, p, 1 - p])


def test_safe_text_spells_out_what_a_terminal_would_obey() -> None:
    assert safe_text("setosa, Ünïcødé 花 ½ \\ [b]") == "setosa, Ünïcødé 花 ½ \\ [b]"
    assert safe_text("\x00\x07\x1b\x7f\x80\x9b\x9f") == "\\x00\\x07\\x1b\\x7f\\x80\\x9b\\x9f"
    assert safe_text("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert safe_text("\u202e\u2066\u200b\ufeff\u2028") == "\\u202e\\u2066\\u200b\\ufeff\\u2028"
    assert safe_text("\udcff") == "\\udcff"  # an undecodable byte of a file name
    assert safe_text("\U000e0001") == "\\U000e0001"
    assert safe_text("👩\u200d💻") == "👩\u200d💻"  # the joiner some emoji and scripts need


@pytest.mark.parametrize(("identifier", "shown"), HAZARDS)
def test_worst_rows_show_ids_as_typed(
    identifier: str,
    shown: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    styled: bool,
) -> None:
    path = tmp_path / "ids.csv"
    _write_ids(path, ["plain-id", identifier])
    code, out, err = _run(["ce", "--csv", str(path), "--id-col", "id"], capsys, styled)
    assert code == 0, err
    assert "Worst rows" in out
    assert shown in out
    assert "plain-id" in out


def test_ids_with_tabs_line_breaks_and_backslashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], styled: bool
) -> None:
    path = tmp_path / "ids.csv"
    _write_ids(path, ["a\tb\nc\r", "d\\", "\\[bold]e"])
    code, out, err = _run(["ce", "--csv", str(path), "--id-col", "id"], capsys, styled)
    assert code == 0, err
    for shown in ("a\\tb\\nc\\r", "d\\", "\\[bold]e"):
        assert shown in out


@pytest.mark.parametrize(("name", "shown"), HAZARDS)
@pytest.mark.parametrize(
    "args",
    [
        ["ce", "1", "0.2,0.5,0.3"],
        ["multilabel", "1,0,1", "0.2,0.5,0.3"],
        ["grad", "1", "0.2,0.5,0.3"],
        ["focal", "1", "0.2,0.5,0.3"],
        ["smooth", "1", "0.2,0.5,0.3"],
        ["kl", "0.2,0.5,0.3", "0.3,0.3,0.4"],
    ],
    ids=lambda args: args[0],
)
def test_class_names_in_term_tables(
    args: list[str], name: str, shown: str, capsys: pytest.CaptureFixture[str], styled: bool
) -> None:
    code, out, err = _run([*args, "--classes", f"first,{name},last"], capsys, styled)
    assert code == 0, err
    assert shown in out
    assert "first" in out
    assert "last" in out


@pytest.mark.parametrize(("name", "shown"), HAZARDS)
def test_class_names_in_explain(
    name: str, shown: str, capsys: pytest.CaptureFixture[str], styled: bool
) -> None:
    args = ["ce", "1", "0.2,0.5,0.3", "--classes", f"first,{name},last", "--explain"]
    code, out, err = _run(args, capsys, styled)
    assert code == 0, err
    sentence = next(line for line in out.splitlines() if line.startswith("→ "))
    assert f"the model gives {shown} p = 0.5, " in sentence


@pytest.mark.parametrize(
    ("command", "sentence"),
    [("ce", "→ mRNA contributes most: "), ("kl", ". mRNA differs most (p = 0.5, q = 0.1).")],
)
def test_a_class_name_starting_a_sentence_keeps_its_case(
    command: str, sentence: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [command, "0.5,0.5", "0.1,0.9", "--classes", "mRNA,DNA", "--explain"]
    code, out, err = _run(args, capsys, False)
    assert code == 0, err
    assert sentence in out
    assert "Mrna" not in out


@pytest.mark.parametrize(("name", "shown"), HAZARDS)
def test_class_names_in_the_gradient_explanation(
    name: str, shown: str, capsys: pytest.CaptureFixture[str], styled: bool
) -> None:
    # The true class's logit goes up most; the most probable other class's goes down most.
    names = f"{CLEAR}up,{name},last"
    args = ["grad", "0", "0.1,3,0.2", "--logits", "--classes", names, "--explain"]
    code, out, err = _run(args, capsys, styled)
    assert code == 0, err
    words = " ".join(out.split())  # the sentence may wrap
    assert "\\x1b[2Jup's logit goes up most" in words
    assert f"{shown}'s goes down most" in words


@pytest.mark.parametrize(("name", "shown"), HAZARDS)
def test_class_names_side_by_side(
    name: str, shown: str, capsys: pytest.CaptureFixture[str], styled: bool
) -> None:
    args = ["ce", "1", "0.2,0.5,0.3", "--vs", "0.3,0.3,0.4", "--classes", f"first,{name},last"]
    code, out, err = _run([*args, "--explain"], capsys, styled)
    assert code == 0, err
    assert "A and B side by side" in out
    assert shown in out
    assert "→ A has the lower loss" in out


def test_the_tour_is_unchanged_by_escaping(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["tour", "2"], capsys, False)
    assert code == 0
    assert "2/11 · Three flowers, one softmax each" in out
    assert "→ Mean: (0.5621 + 0.5447 + 0.6539) / 3 = 0.5869 nats." in out
    assert "versicolor" in out


def test_a_file_name_in_an_error_is_one_escaped_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / f"{TITLE}x\ny.csv"
    code, out, err = _run(["ce", "--csv", str(missing)], capsys, False)
    assert code == 2
    assert out == ""
    assert err.startswith("cecli: error: ")
    assert err.count("\n") == 1
    assert "\\x1b]0;pwned\\x07x\\ny.csv" in err


def test_a_file_name_in_the_summary_and_its_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], styled: bool
) -> None:
    path = tmp_path / f"{TITLE}\u202eb\n.csv"
    path.write_text("label,p0,p1\n0,0.2,0.8\nx,0.5,0.5\n", encoding="utf-8")
    code, out, err = _run(["ce", "--csv", str(path), "--skip-invalid"], capsys, styled)
    assert code == 0, err
    assert "\\x1b]0;pwned\\x07\\u202eb\\n.csv: 1 rows scored (ce)" in out
    warnings = err.splitlines()
    assert warnings[0] == "cecli: warning: skipped 1 invalid row(s) (--skip-invalid):"
    assert warnings[1].startswith("  ")
    assert "\\x1b]0;pwned\\x07\\u202eb\\n.csv:3:1: " in warnings[1]
    assert len(warnings) == 2


def test_a_column_name_in_an_error_is_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "columns.csv"
    path.write_text(f'label,p0,p1,"{CLEAR}{TITLE}\n{BAD_TAG}"\n0,0.2,0.8,1\n', encoding="utf-8")
    code, out, err = _run(["ce", "--csv", str(path), "--id-col", "nope"], capsys, False)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert f"(columns: label, p0, p1, \\x1b[2J\\x1b]0;pwned\\x07\\n{BAD_TAG})" in err


def test_an_unknown_option_with_an_escape_is_one_escaped_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(["ce", "0", "0.5,0.5", f"--{CLEAR}x"], capsys, False)
    assert code == 2
    assert err == "cecli: error: no such option: --\\x1b[2Jx\n"
    assert out == ""


def test_ids_round_trip_verbatim_through_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ids.csv"
    _write_ids(path, IDS)
    assert main(["ce", "--csv", str(path), "--id-col", "id", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert sorted(row["id"] for row in document["worst"]) == sorted(IDS)


def test_ids_round_trip_verbatim_through_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ids.csv"
    _write_ids(path, IDS)
    assert main(["ce", "--csv", str(path), "--id-col", "id", "--reduction", "none", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["id"] for line in lines] == IDS


def test_ids_round_trip_verbatim_through_the_per_row_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, written = tmp_path / "ids.csv", tmp_path / "rows.csv"
    _write_ids(source, IDS)
    args = ["ce", "--csv", str(source), "--id-col", "id", "--reduction", "none"]
    assert main([*args, "--output", str(written)]) == 0
    capsys.readouterr()
    with written.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["id"] for row in rows] == IDS


def test_class_names_round_trip_verbatim_through_json(capsys: pytest.CaptureFixture[str]) -> None:
    names = [f"{TITLE}a", BAD_TAG, LINK, "z"]
    args = ["ce", "1", "0.2,0.5,0.2,0.1", "--classes", ",".join(names), "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["class_names"] == names


@pytest.mark.skipif(shutil.which("cecli") is None, reason="the cecli script is not installed")
def test_installed_command_on_a_colour_terminal(tmp_path: Path) -> None:
    path = tmp_path / f"{TITLE}.csv"
    _write_ids(path, IDS)
    environment = {**os.environ, "TTY_COMPATIBLE": "1", "FORCE_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run(
        ["cecli", "ce", "--csv", str(path), "--id-col", "id"],
        capture_output=True,
        env=environment,
        check=False,
    )
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, err
    assert "\x1b[" in out  # styled
    plain = _assert_terminal_safe(out, styled=True)
    assert "\\x1b]0;pwned\\x07.csv" in plain
    shown = ["\\x1b]0;pwned\\x07a", LINK, BLINK, BAD_TAG, "\\u202eevil\\x9b\\x7f\\tline\\nbreak"]
    for identifier in shown:
        assert identifier in plain
