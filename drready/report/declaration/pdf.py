"""The declaration as PDF, printed by headless Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from drready.report.declaration.htmlpage import render_html
from drready.report.declaration.model import DeclarationError

#: The environment variable naming the browser to print with.
BROWSER_ENV = "DRREADY_CHROMIUM"


#: Browsers looked for on PATH, in order.
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


NO_BROWSER = "PDF needs Chromium: install it (Debian: apt install chromium) or set DRREADY_CHROMIUM"


#: How long Chromium may take to print, seconds.
PDF_TIMEOUT_S = 120.0


def find_browser() -> str:
    """The Chromium to print with: ``$DRREADY_CHROMIUM``, else the first one on PATH."""
    chosen = os.environ.get(BROWSER_ENV, "").strip()
    if chosen:
        found = shutil.which(chosen)
        if found is None:
            raise DeclarationError(f"{BROWSER_ENV}={chosen}: not an executable; {NO_BROWSER}")
        return found
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    raise DeclarationError(NO_BROWSER)


def browser_command(browser: str, profile_dir: Path) -> list[str]:
    """Headless Chromium, isolated: a fresh profile, nothing fetched, nothing synced."""
    return [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--mute-audio",
        f"--user-data-dir={profile_dir}",
    ]


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """End the browser we started and every helper process it started (its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def run_browser(
    arguments: Sequence[str], workdir: Path, *, timeout_s: float = PDF_TIMEOUT_S
) -> tuple[int, str]:
    """Run headless Chromium with ``arguments`` (after the isolation flags); its exit status and
    the last lines it wrote. Killed, with every process it started, after ``timeout_s``."""
    browser = find_browser()
    profile_dir = workdir / "profile"
    profile_dir.mkdir(exist_ok=True)
    log_path = workdir / "browser.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*browser_command(browser, profile_dir), *arguments],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        try:
            status = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.wait()
            raise DeclarationError(
                f"{browser}: did not finish within {timeout_s:.0f} s (killed)"
            ) from None
        finally:
            _kill_group(process)
    tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
    return status, " | ".join(tail)


def render_pdf(run_dir: Path, out: Path, *, timeout_s: float = PDF_TIMEOUT_S) -> Path:
    """Print the declaration of ``run_dir`` to ``out`` (PDF, A4) with headless Chromium."""
    run_dir = Path(run_dir)
    out = Path(out)
    find_browser()  # before rendering: say at once when there is nothing to print with
    html = render_html(run_dir, base_href=run_dir.resolve().as_uri() + "/")
    with tempfile.TemporaryDirectory(prefix="drready-pdf-") as tmp:
        workdir = Path(tmp)
        page = workdir / "declaration.html"
        page.write_text(html, encoding="utf-8")
        printed = workdir / "declaration.pdf"
        status, tail = run_browser(
            [
                f"--print-to-pdf={printed}",
                "--no-pdf-header-footer",
                "--print-to-pdf-no-header",
                page.as_uri(),
            ],
            workdir,
            timeout_s=timeout_s,
        )
        try:
            head = printed.read_bytes()[:5]
        except OSError:
            head = b""
        if head != b"%PDF-":
            detail = f": {tail}" if tail else ""
            raise DeclarationError(
                f"{out}: Chromium (exit {status}) did not print the declaration{detail}"
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        staged = out.with_name(f".{out.name}.tmp")
        shutil.copyfile(printed, staged)
        os.replace(staged, out)
    return out
