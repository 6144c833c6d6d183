"""The PDF on a fresh machine: without Chromium (or Japanese fonts) ``drready report --format
pdf`` says, in one line, the one command that installs what is missing on this machine."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from drready.report.declaration import DeclarationError, pdf

#: Bound on one drready process here.
CLI_TIMEOUT_S = 60


def _bare_environment(tmp_path: Path) -> dict[str, str]:
    """This environment with a PATH of one empty folder and no DRREADY_CHROMIUM."""
    empty = tmp_path / "bin"
    empty.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != pdf.BROWSER_ENV}
    env["PATH"] = str(empty)
    return env


def test_report_pdf_without_chromium_prints_the_one_install_command(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "drready.cli", "report", str(run_dir), "--format", "pdf"],
        env=_bare_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    prefix = "drready: PDF needs Chromium (none on PATH, DRREADY_CHROMIUM unset); install it with: "
    assert lines[0].startswith(prefix), lines[0]
    command = shlex.split(lines[0].removeprefix(prefix))
    if command[0] == "sudo":
        command = command[1:]
    # A command this machine has, asking for Chromium.
    assert pdf._system_which(command[0]) is not None, command
    assert "chromium" in command
    if pdf._system_which("apt-get") is not None and "ubuntu" not in pdf._os_release().get("ID", ""):
        assert command[:3] == ["apt-get", "install", "-y"], command
    assert not (run_dir / "declaration.pdf").exists()


@pytest.mark.parametrize(
    ("platform", "found", "release", "root", "expected"),
    [
        ("linux", {"apt-get", "sudo"}, {"ID": "debian"}, True, "apt-get install -y chromium"),
        (
            "linux",
            {"apt-get", "sudo"},
            {"ID": "debian"},
            False,
            "sudo apt-get install -y chromium",
        ),
        ("linux", {"apt-get"}, {"ID": "debian"}, False, "apt-get install -y chromium"),
        (
            "linux",
            {"apt-get", "snap", "sudo"},
            {"ID": "ubuntu", "ID_LIKE": "debian"},
            False,
            "sudo snap install chromium",
        ),
        ("linux", {"dnf", "sudo"}, {"ID": "fedora"}, False, "sudo dnf install -y chromium"),
        (
            "linux",
            {"pacman"},
            {"ID": "arch"},
            True,
            "pacman -S --needed --noconfirm chromium",
        ),
        ("linux", {"apk"}, {"ID": "alpine"}, True, "apk add chromium"),
        ("linux", set(), {}, True, pdf.MANUAL_INSTALL),
        ("darwin", {"brew"}, {}, False, "brew install --cask chromium"),
        ("darwin", set(), {}, False, pdf.MANUAL_INSTALL),
    ],
)
def test_the_install_command_follows_the_package_manager(
    monkeypatch: pytest.MonkeyPatch,
    platform: str,
    found: set[str],
    release: dict[str, str],
    root: bool,
    expected: str,
) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(
        pdf, "_system_which", lambda name: f"/usr/bin/{name}" if name in found else None
    )
    monkeypatch.setattr(pdf.shutil, "which", lambda *_a, **_k: None)
    monkeypatch.setattr(pdf, "_os_release", lambda: release)
    monkeypatch.setattr(pdf.os, "geteuid", lambda: 0 if root else 1000)
    assert pdf.install_command(fonts=False) == expected


def test_the_install_command_adds_japanese_fonts_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(pdf, "_system_which", lambda name: "/usr/bin/x" if name == "dnf" else None)
    monkeypatch.setattr(pdf, "_os_release", lambda: {"ID": "fedora"})
    monkeypatch.setattr(pdf.os, "geteuid", lambda: 0)
    assert pdf.install_command() == "dnf install -y chromium google-noto-sans-cjk-fonts"
    assert pdf.install_command(browser=False) == "dnf install -y google-noto-sans-cjk-fonts"


def _fake_fc_list(tmp_path: Path, output: str) -> None:
    script = tmp_path / "bin" / "fc-list"
    script.parent.mkdir(exist_ok=True)
    script.write_text(f"#!/bin/sh\nprintf '{output}'\n", encoding="utf-8")
    script.chmod(0o755)


def test_no_japanese_font_is_one_error_naming_the_font_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    _fake_fc_list(tmp_path, "")
    assert pdf.japanese_fonts_missing()
    monkeypatch.setattr(pdf, "install_command", lambda **kw: f"install {kw}")
    with pytest.raises(DeclarationError) as error:
        pdf.check_fonts()
    assert str(error.value) == (
        "PDF needs a Japanese font for the declaration's Japanese text (fc-list :lang=ja finds "
        "none); install it with: install {'browser': False, 'fonts': True}"
    )


def test_a_japanese_font_is_enough(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    _fake_fc_list(tmp_path, "Noto Sans CJK JP\\n")
    assert not pdf.japanese_fonts_missing()
    pdf.check_fonts()
