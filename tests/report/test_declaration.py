"""The self-conformity declaration: HTML and PDF of real runs, opened in a real browser.

The runs are real ``drready run`` processes (a battery, every class combined, and a water heater
with a fault), made once for the module. Chromium (Debian: ``chromium``) and poppler-utils
(``pdftoppm``, ``pdftotext``) are required: without them these tests fail, they do not skip.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from drready.catalog import (
    POLICY_PLAIN_ECHONET_LITE_EN,
    POLICY_PLAIN_ECHONET_LITE_JA,
)
from drready.report import declaration, plots
from drready.report.declaration import DeclarationError, render_html, render_pdf

#: Its fixtures run whole suites as processes: not in the fast part (-m "not slow").
pytestmark = pytest.mark.slow

#: Bound on each run (they take a few seconds on two cores, run side by side).
RUN_TIMEOUT_S = 180
#: Bound on one browser or poppler command here.
TOOL_TIMEOUT_S = 120
INSTALL_HINT = "Debian: apt install chromium poppler-utils fonts-noto-cjk"

RUNS = {
    "battery": ("run", "--simulate", "battery"),
    "all": ("run", "--binding", "echonet"),  # one part per class: the gateway run
    "fault": ("run", "--fault", "hp_heats_early"),
}
EXIT_STATUS = {"battery": 0, "all": 0, "fault": 1}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three real runs, side by side: a battery, every class (combined), a faulty heat pump."""
    base = tmp_path_factory.mktemp("declaration-runs")
    processes = {}
    for name, arguments in RUNS.items():
        log = (base / f"{name}.log").open("w")
        command = [
            sys.executable,
            "-m",
            "drready.cli",
            *arguments,
            "--report-dir",
            str(base / name),
        ]
        processes[name] = (
            subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=base),
            log,
        )
    try:
        for name, (process, log) in processes.items():
            status = process.wait(timeout=RUN_TIMEOUT_S)
            log.close()
            output = (base / f"{name}.log").read_text(encoding="utf-8")
            assert status == EXIT_STATUS[name], f"drready {' '.join(RUNS[name])}: {output[-2000:]}"
    finally:
        for process, log in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()
    return {name: base / name for name in RUNS}


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not on PATH: these tests need it; {INSTALL_HINT}")
    return found


@pytest.fixture
def browser() -> str:
    try:
        return declaration.find_browser()
    except DeclarationError as exc:
        pytest.fail(f"{exc}; {INSTALL_HINT}")


def _report(run_dir: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    return document


def _copy_run(source: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    for name in ("report.json", "evidence.jsonl"):
        shutil.copyfile(source / name, target / name)
    return target


def _edit_report(run_dir: Path, **changes: Any) -> None:
    document = _report(run_dir)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = document
        for key in parents:
            node = node[key]
        node[last] = value
    (run_dir / "report.json").write_text(json.dumps(document, ensure_ascii=False), "utf-8")


def _requirement_rows(html: str, device_class: str) -> dict[str, str]:
    """Requirement ID -> verdict, from the rows of the class's requirement table."""
    pattern = rf'<tr class="verdict-([a-z-]+)" id="{device_class}-([A-Z]+-[0-9.ID]+)">'
    return {rid: verdict for verdict, rid in re.findall(pattern, html)}


# -- HTML ---------------------------------------------------------------------------------------


def test_html_has_every_requirement_verdict_and_evidence_range(runs: dict[str, Path]) -> None:
    report = _report(runs["battery"])
    html = render_html(runs["battery"])

    expected = {r["id"]: r["verdict"] for r in report["requirements"]}
    assert _requirement_rows(html, "battery") == expected
    assert '<table class="requirements">' in html
    for requirement in report["requirements"]:
        assert str(escape(requirement["title_en"])) in html
        for test in requirement["tests"]:
            first, last = test["evidence"]
            if last - first > 1:
                assert f"records {first}–{last - 1}" in html
    assert '<a href="evidence.jsonl">evidence.jsonl</a>' in html
    assert html.count("<svg") == 1
    assert "DR target vs measured power, and state of charge" in html
    # Identity: the device's values beside the profile's, each checked.
    identity = report["device"]["identity"]
    assert identity["serial_number"] in html
    assert html.count('class="identity-match"') >= 5
    assert "identity-mismatch" not in html
    # Simulated, not faulty, complete.
    assert "The device under test was a simulator" in html
    assert "FAULTS WERE INJECTED" not in html
    assert "INCOMPLETE" not in html


def test_policy_box_near_the_top_says_echonet_lite_alone_is_not_jcstar(
    runs: dict[str, Path],
) -> None:
    html = render_html(runs["battery"])
    box = html.index('<div class="box policy"')
    assert box < html.index('<section class="device"')
    section = html[box : html.index("</div>", html.index("</ul>", box))]
    assert str(escape(POLICY_PLAIN_ECHONET_LITE_JA)) in section
    assert str(escape(POLICY_PLAIN_ECHONET_LITE_EN)) in section
    assert "ECHONET Lite Version 1.14, Appendix Release R" in section
    assert "JC-STAR" in section


def test_combined_run_has_one_section_per_class_in_order(runs: dict[str, Path]) -> None:
    report = _report(runs["all"])
    html = render_html(runs["all"])

    positions = [
        html.index(f'<section class="device" id="device-{cls}">')
        for cls in report["device_classes"]
    ]
    assert positions == sorted(positions)
    assert report["device_classes"] == ["battery", "heatpump", "hybrid"]
    for part in report["parts"]:
        cls = part["device_class"]
        own = _report(runs["all"] / cls)
        assert _requirement_rows(html, cls) == {r["id"]: r["verdict"] for r in own["requirements"]}
        assert f'<a href="{cls}/evidence.jsonl">' in html
    assert html.count("<svg") == 3
    assert "night_heating" in html and "JST" in html


def test_faulty_run_says_loudly_it_is_no_declaration(runs: dict[str, Path]) -> None:
    report = _report(runs["fault"])
    html = render_html(runs["fault"])

    assert (
        "FAULTS WERE INJECTED (hp_heats_early): this is NOT a declaration of a real device" in html
    )
    assert "NOT A BASIS FOR A DECLARATION" in html
    failed = [r for r in report["requirements"] if r["verdict"] == "fail"]
    assert [r["id"] for r in failed] == ["HP-2.3"]
    assert _requirement_rows(html, "heatpump")["HP-2.3"] == "fail"
    for test in failed[0]["tests"]:
        if test["outcome"] == "failed":
            assert str(escape(test["message"])) in html
    assert "Requirements FAILED: HP-2.3" in html
    # The fault is visible in the plot's data: heating before the requested start.
    assert html.count("<svg") == 1


def test_identity_mismatch_is_flagged(runs: dict[str, Path], tmp_path: Path) -> None:
    run = _copy_run(runs["battery"], tmp_path / "run")
    _edit_report(run, device__identity__serial_number="OTHER0000001")
    html = render_html(run)

    rows = re.findall(r'<tr class="identity-([a-z-]+)[^"]*">\s*<td>([^<]+)<span', html)
    status = {label.strip(): state for state, label in rows}
    assert status["製造番号"] == "mismatch"
    # The profile writes 0xFFFFFF, the device reports FFFFFF: the same code.
    assert status["製造事業者コード"] == "match"
    assert status["商品コード"] == "match"
    assert (
        "What the device reports does NOT MATCH the profile&#39;s declaration: serial number"
        in html
    )
    assert "OTHER0000001" in html
    assert "SIM0000001" in html  # what the profile declared, beside it


def test_expired_or_low_jcstar_is_flagged(runs: dict[str, Path], tmp_path: Path) -> None:
    run = _copy_run(runs["battery"], tmp_path / "expired")
    _edit_report(run, profile__jcstar__valid_until="2020-03-31")
    html = render_html(run)
    assert "JC-STAR: EXPIRED (valid until 2020-03-31; run on" in html
    assert re.search(r'<tr class="flagged">\s*<td class="mono">SIMULATOR-NOT-A-LABEL', html)

    low = _copy_run(runs["battery"], tmp_path / "low")
    _edit_report(low, profile__jcstar__level=0)
    assert "level below ★1" in render_html(low)

    valid = render_html(runs["battery"])
    assert "valid on the run&#39;s date" in valid
    assert "EXPIRED" not in valid


def test_incomplete_run_is_no_basis_for_a_declaration(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    run = _copy_run(runs["battery"], tmp_path / "run")
    _edit_report(run, complete=False)
    html = render_html(run)
    assert "The run is INCOMPLETE (complete: false): it is not a basis for a declaration." in html
    assert "試験は完了していません" in html


def test_a_class_without_report_is_said_plainly(runs: dict[str, Path], tmp_path: Path) -> None:
    run = tmp_path / "all"
    shutil.copytree(runs["all"], run)
    document = _report(run)
    document["parts"][1].update(report=None, complete=False, problem="it left no report")
    document["complete"] = False
    (run / "report.json").write_text(json.dumps(document, ensure_ascii=False), "utf-8")

    html = render_html(run)
    assert "This class&#39;s run left NO REPORT (it left no report)" in html
    assert set(_requirement_rows(html, "heatpump")) == {
        r["id"] for r in document["requirements"] if r["id"].startswith("HP-")
    }
    assert html.count("<svg") == 2


def test_digests_from_the_report_or_computed(runs: dict[str, Path], tmp_path: Path) -> None:
    report = _report(runs["battery"])
    html = render_html(runs["battery"])
    for name, value in report.get("digests", {}).items():
        assert value in html, name
    assert report["evidence"]["head_digest"] in html
    assert hashlib.sha256((runs["battery"] / "report.json").read_bytes()).hexdigest() in html
    assert "intact: " in html

    # A report without digests: the evidence head from the report, the profile's computed.
    older = _copy_run(runs["battery"], tmp_path / "older")
    document = _report(older)
    document.pop("digests", None)
    (older / "report.json").write_text(json.dumps(document, ensure_ascii=False), "utf-8")
    html = render_html(older)
    canonical = json.dumps(
        report["profile"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert f"{hashlib.sha256(canonical.encode()).hexdigest()} (computed here" in html
    assert report["evidence"]["head_digest"] in html
    assert "not recorded in this report" in html  # the suites' digest

    given = _copy_run(runs["battery"], tmp_path / "given")
    digests = {"suites": "a" * 64, "profile": "b" * 64, "evidence": "c" * 64}
    _edit_report(given, digests=digests)
    html = render_html(given)
    assert all(value in html for value in digests.values())
    assert "computed here" not in html


def test_tampered_evidence_is_flagged(runs: dict[str, Path], tmp_path: Path) -> None:
    run = _copy_run(runs["battery"], tmp_path / "run")
    lines = (run / "evidence.jsonl").read_text(encoding="utf-8").splitlines()
    lines[10] = lines[10].replace('"summary":"', '"summary":"(edited) ', 1)
    (run / "evidence.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    html = render_html(run)
    assert "BROKEN at record 11" in html


def test_missing_or_invalid_report_is_one_line_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(DeclarationError) as missing:
        render_html(tmp_path)
    assert str(tmp_path / "report.json") in str(missing.value)

    (tmp_path / "report.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DeclarationError) as broken:
        render_html(tmp_path)
    assert str(tmp_path / "report.json") in str(broken.value)
    assert "not valid JSON" in str(broken.value)

    (tmp_path / "report.json").write_text('{"schema_version": 1}', encoding="utf-8")
    with pytest.raises(DeclarationError) as invalid:
        render_html(tmp_path)
    assert "not a valid drready report" in str(invalid.value)
    for error in (missing.value, broken.value, invalid.value):
        assert "\n" not in str(error)


# -- plots: the timelines read from the notes --------------------------------------------------


def _note(seq: int, time: float, summary: str, **values: Any) -> dict[str, Any]:
    return {"seq": seq, "time": time, "kind": "note", "summary": summary, "values": values}


def test_battery_target_ends_at_duration_own_mode_or_next_request() -> None:
    records = [
        _note(0, 0.0, "DR request -1500 W for 600 s", target_w=-1500.0, duration_s=600.0),
        _note(1, 0.0, "DR request accepted: Set_Res"),
        _note(2, 1000.0, "DR request +1000 W for 3600 s", target_w=1000.0, duration_s=3600.0),
        _note(3, 1000.0, "DR request accepted: Set_Res"),
        _note(4, 1500.0, "own mode set to auto"),
        _note(5, 2000.0, "DR request +3000 W for 60 s", target_w=3000.0, duration_s=60.0),
        _note(6, 2000.0, "DR request refused: SetC_SNA"),
        _note(7, 3000.0, "DR request -500 W for None s", target_w=-500.0, duration_s=None),
        _note(8, 3000.0, "DR request accepted: Set_Res"),
        _note(9, 3500.0, "communication cut: the harness sends nothing"),
    ]
    segments = plots.battery_targets(records)
    assert [(s.start, s.end, s.target_w) for s in segments] == [
        (0.0, 600.0, -1500.0),
        (1000.0, 1500.0, 1000.0),
        (3000.0, 3500.0, -500.0),
    ]


def test_water_heater_starts_follow_local_time_and_replacement() -> None:
    # 2027-04-01 00:00:02 UTC is 09:00:02 in Japan.
    t0 = 1806537602.0
    records = [
        _note(0, t0, "DR request: heating start 13:00", start_s=46800),
        _note(1, t0, "DR request accepted: Set_Res"),
        _note(2, t0, "DR request: heating start 15:00", start_s=54000),
        _note(3, t0, "DR request accepted: Set_Res"),
        _note(4, t0, "DR request: heating start 09:00", start_s=32400),
        _note(5, t0, "DR request refused: SETC_SNA"),
    ]
    starts = plots.planned_starts(records)
    midnight_jst = t0 - 9 * 3600 - 2
    assert [(s.start - midnight_jst, s.accepted, s.superseded) for s in starts] == [
        (13 * 3600, True, True),
        (15 * 3600, True, False),
        (24 * 3600 + 9 * 3600, False, False),  # 09:00 has passed: the next day's
    ]
    nights = plots.night_periods({"night_heating": ["23:00", "07:00"]}, t0, t0 + 86400)
    assert [(a - midnight_jst, b - midnight_jst) for a, b in nights] == [(23 * 3600, 31 * 3600)]


def test_decimate_keeps_peaks_and_bounds_points() -> None:
    t = [float(i) for i in range(100_000)]
    y = [0.0] * 100_000
    y[54_321] = 5000.0
    thin = plots.decimate(t, y, 1000)
    assert len(thin.t) <= 1001
    assert max(thin.y) == 5000.0
    assert thin.t[-1] == t[-1]


# -- a real browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def combined_html(runs: dict[str, Path]) -> Iterator[Path]:
    page = runs["all"] / "declaration.html"
    page.write_text(render_html(runs["all"]), encoding="utf-8")
    yield page


def test_chromium_parses_the_page_with_table_and_svg(
    combined_html: Path, browser: str, tmp_path: Path
) -> None:
    profile = tmp_path / "profile"
    command = [*declaration.browser_command(browser, profile), "--dump-dom", combined_html.as_uri()]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, start_new_session=True
    )
    dom = done.stdout
    assert done.returncode == 0, done.stderr[-2000:]
    assert dom.count('<table class="requirements">') == 3
    assert dom.count("<svg") >= 3
    report = _report(combined_html.parent)
    assert dom.count('<tr class="verdict-') == len(report["requirements"])


def test_pdf_prints_pages_with_ids_and_jcstar(
    runs: dict[str, Path], browser: str, tmp_path: Path
) -> None:
    pdftoppm, pdftotext = _tool("pdftoppm"), _tool("pdftotext")
    out = render_pdf(runs["all"], tmp_path / "out" / "declaration.pdf")
    assert out == tmp_path / "out" / "declaration.pdf"
    assert out.read_bytes()[:5] == b"%PDF-"

    subprocess.run(
        [pdftoppm, "-png", "-r", "40", str(out), str(tmp_path / "page")],
        check=True,
        timeout=TOOL_TIMEOUT_S,
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 4  # the cover and a page per device at least
    # A blank A4 page at 40 dpi is about 1 kB; every page here has text on it.
    assert all(page.stat().st_size > 4000 for page in pages), [p.stat().st_size for p in pages]

    text = subprocess.run(
        [pdftotext, "-layout", str(out), "-"],
        check=True,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
    ).stdout
    for requirement in _report(runs["all"])["requirements"]:
        assert requirement["id"] in text
    assert "JC-STAR" in text
    assert "自己適合宣言書" in text  # Japanese text is real text, with fonts


def test_missing_browser_is_one_clear_error(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv(declaration.BROWSER_ENV, raising=False)
    out = tmp_path / "declaration.pdf"
    with pytest.raises(DeclarationError) as error:
        render_pdf(runs["battery"], out)
    assert str(error.value).startswith(
        "PDF needs Chromium (none on PATH, DRREADY_CHROMIUM unset); install it with: "
    )
    assert not out.exists()

    monkeypatch.setenv(declaration.BROWSER_ENV, str(tmp_path / "no-such-chromium"))
    with pytest.raises(DeclarationError, match=r"DRREADY_CHROMIUM=.*no-such-chromium"):
        render_pdf(runs["battery"], out)
    assert not out.exists()


def _fake_browser(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "fake-chromium"
    script.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    script.chmod(0o755)
    return script


def test_a_browser_that_hangs_is_killed(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(declaration.BROWSER_ENV, str(_fake_browser(tmp_path, "sleep 60")))
    with pytest.raises(DeclarationError, match="did not finish within 1 s"):
        render_pdf(runs["battery"], tmp_path / "declaration.pdf", timeout_s=1.0)
    assert not (tmp_path / "declaration.pdf").exists()


def test_a_browser_that_prints_nothing_is_an_error(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _fake_browser(tmp_path, "echo 'cannot open display' >&2; exit 3")
    monkeypatch.setenv(declaration.BROWSER_ENV, str(script))
    out = tmp_path / "declaration.pdf"
    with pytest.raises(DeclarationError) as error:
        render_pdf(runs["battery"], out)
    assert str(error.value) == (
        f"{out}: Chromium (exit 3) did not print the declaration: cannot open display"
    )
    assert not out.exists()
