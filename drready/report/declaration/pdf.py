"""The declaration as PDF, printed by headless Chromium.

Chromium stays the renderer: the declaration is an HTML page (Japanese and English, inline SVG
plots) that a reader may also open in a browser, and only a browser prints that page as it shows
it. The pure-Python PDF libraries would need a second layout of the whole declaration; WeasyPrint
needs the OS's Pango anyway; Playwright downloads its own browser build, which an offline
machine cannot. Where Chromium (or the Japanese fonts it draws the page with) is missing, the
error names the one command that installs it with this machine's package manager.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from drready.report.declaration.htmlpage import render_html
from drready.report.declaration.model import DeclarationError

#: The environment variable naming the browser to print with.
BROWSER_ENV = "DRREADY_CHROMIUM"


#: Browsers looked for on PATH, in order.
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


NO_BROWSER = "PDF needs Chromium (none on PATH, DRREADY_CHROMIUM unset)"


#: Where package managers live, besides PATH: the hint must name one even when PATH is bare.
SYSTEM_BIN = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


#: Each package manager's install command, and its packages for Chromium and for Japanese fonts.
#: Ubuntu's apt package "chromium-browser" is a shim for the snap, so Ubuntu gets the snap.
PACKAGE_MANAGERS: tuple[tuple[str, str, str, str], ...] = (
    ("apt-get", "apt-get install -y", "chromium", "fonts-noto-cjk"),
    ("dnf", "dnf install -y", "chromium", "google-noto-sans-cjk-fonts"),
    ("yum", "yum install -y", "chromium", "google-noto-sans-cjk-fonts"),
    ("zypper", "zypper install -y", "chromium", "noto-sans-cjk-fonts"),
    ("pacman", "pacman -S --needed --noconfirm", "chromium", "noto-fonts-cjk"),
    ("apk", "apk add", "chromium", "font-noto-cjk"),
)


#: What a machine with no known package manager is told.
MANUAL_INSTALL = "install Chromium or Google Chrome and set DRREADY_CHROMIUM to its executable"


#: How long Chromium may take to print, seconds.
PDF_TIMEOUT_S = 120.0


#: How long fontconfig may take to list the Japanese fonts, seconds.
FONT_TIMEOUT_S = 30.0


def _system_which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(SYSTEM_BIN))


def _os_release() -> dict[str, str]:
    try:
        text = Path("/etc/os-release").read_text(encoding="utf-8")
    except OSError:
        return {}
    fields = {}
    for line in text.splitlines():
        key, found, value = line.partition("=")
        if found:
            fields[key.strip()] = value.strip().strip("\"'")
    return fields


def install_command(*, browser: bool = True, fonts: bool = True) -> str:
    """The one command that installs Chromium (``browser``) and Japanese fonts (``fonts``) with
    this machine's package manager, as it must be typed here (``sudo`` unless root); without a
    known package manager, what to do by hand."""
    if sys.platform == "darwin":
        brew = _system_which("brew") or shutil.which("brew", path="/opt/homebrew/bin")
        if brew is None:
            return MANUAL_INSTALL
        # macOS has Japanese fonts of its own.
        return "brew install --cask chromium" if browser else ""
    sudo = "" if os.geteuid() == 0 or _system_which("sudo") is None else "sudo "
    release = _os_release()
    family = f"{release.get('ID', '')} {release.get('ID_LIKE', '')}".split()
    if browser and "ubuntu" in family and _system_which("snap") is not None:
        fonts_too = f" && {sudo}apt-get install -y fonts-noto-cjk" if fonts else ""
        return f"{sudo}snap install chromium{fonts_too}"
    for manager, command, chromium, cjk_fonts in PACKAGE_MANAGERS:
        if _system_which(manager) is None:
            continue
        packages = [p for p, wanted in ((chromium, browser), (cjk_fonts, fonts)) if wanted]
        return f"{sudo}{command} {' '.join(packages)}"
    return MANUAL_INSTALL


def japanese_fonts_missing() -> bool:
    """True when fontconfig is here and knows no font with Japanese glyphs: Chromium would
    print the Japanese half of the declaration as empty boxes. False where fontconfig is not
    (macOS, Windows: their own fonts cover Japanese)."""
    fc_list = _system_which("fc-list")
    if fc_list is None:
        return False
    try:
        listed = subprocess.run(
            [fc_list, ":lang=ja", "family"],
            capture_output=True,
            text=True,
            timeout=FONT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return listed.returncode == 0 and not listed.stdout.strip()


def _not_installed(what: str, *, browser: bool) -> DeclarationError:
    fonts = japanese_fonts_missing()
    command = install_command(browser=browser, fonts=fonts)
    if command == MANUAL_INSTALL:
        return DeclarationError(f"{what}; {command}")
    return DeclarationError(f"{what}; install it with: {command}")


def find_browser() -> str:
    """The Chromium to print with: ``$DRREADY_CHROMIUM``, else the first one on PATH."""
    chosen = os.environ.get(BROWSER_ENV, "").strip()
    if chosen:
        found = shutil.which(chosen)
        if found is None:
            raise DeclarationError(
                f"{BROWSER_ENV}={chosen}: not an executable (unset it to look on PATH)"
            )
        return found
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    raise _not_installed(NO_BROWSER, browser=True)


def check_fonts() -> None:
    """DeclarationError naming the install command when no Japanese font is installed."""
    if japanese_fonts_missing():
        raise _not_installed(
            "PDF needs a Japanese font for the declaration's Japanese text (fc-list :lang=ja "
            "finds none)",
            browser=False,
        )


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
    check_fonts()
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
