"""The self-conformity declaration (自己適合宣言書) of a run, as HTML and PDF, Japanese and English.

``render_html(RUN)`` reads ``RUN/report.json`` (one class, or a combined run whose ``parts`` each
point at a class's own report), each class's evidence log, and builds one page per device: the
identity read from the device beside what the profile declares, the ECHONET Lite version and
release, how the run was made (topology, binding, simulator, faults), the JC-STAR declaration, the
requirement table with each test's evidence records, plots drawn from the evidence, the
digests that tie the declaration to the run, and who signed the bundle (``signatures.json``,
read when the page is made: :mod:`.signatures`). What makes a run no basis for a declaration
(faults injected, an incomplete run, a simulator, an identity mismatch, an expired label) is said
in a box at the top.

Links to evidence are relative to the run directory: write the HTML there (``RUN/…html``).
``render_pdf`` prints the same page with headless Chromium; its links point at the run directory
by absolute ``file:`` URL.

The package, by idea: :mod:`.model` (what the page shows), :mod:`.view` (building it from a run
directory, with :mod:`.reading`, :mod:`.identity`, :mod:`.requirements`, :mod:`.devices`),
:mod:`.htmlpage` (HTML), :mod:`.pdf` (PDF).
"""

from __future__ import annotations

from drready.report.declaration.htmlpage import (
    render_html,
)
from drready.report.declaration.model import (
    JST,
    DeclarationError,
    DeclarationView,
    DeviceView,
    Field,
    IdentityRow,
    Jcstar,
    Notice,
    RequirementRow,
    SignatureRow,
    TestRow,
)
from drready.report.declaration.pdf import (
    BROWSER_ENV,
    BROWSER_NAMES,
    NO_BROWSER,
    PDF_TIMEOUT_S,
    browser_command,
    check_fonts,
    find_browser,
    install_command,
    japanese_fonts_missing,
    render_pdf,
    run_browser,
)
from drready.report.declaration.view import (
    build_view,
)

__all__ = [
    "BROWSER_ENV",
    "BROWSER_NAMES",
    "JST",
    "NO_BROWSER",
    "PDF_TIMEOUT_S",
    "DeclarationError",
    "DeclarationView",
    "DeviceView",
    "Field",
    "IdentityRow",
    "Jcstar",
    "Notice",
    "RequirementRow",
    "SignatureRow",
    "TestRow",
    "browser_command",
    "build_view",
    "check_fonts",
    "find_browser",
    "install_command",
    "japanese_fonts_missing",
    "render_html",
    "render_pdf",
    "run_browser",
]
