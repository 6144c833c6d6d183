"""What a declaration shows: the values its template renders, and its error."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta, timezone

from drready.report import plots

#: A JC-STAR label is a Japanese label: its last valid day is a day in Japan.
JST = timezone(timedelta(hours=9), "JST")


VERDICT_LABELS = {
    "pass": ("適合", "pass"),
    "fail": ("不適合", "FAIL"),
    "inconclusive": ("判定不能", "INCONCLUSIVE"),
    "not-applicable": ("対象外", "not applicable"),
    "not-tested": ("未試験", "not tested"),
    "declared": ("自己申告", "declared"),
}


OUTCOME_LABELS = {
    "passed": ("合格", "passed"),
    "failed": ("不合格", "FAILED"),
    "error": ("エラー", "ERROR"),
    "skipped": ("スキップ", "skipped"),
    "not-applicable": ("対象外", "not applicable"),
    "inconclusive": ("判定不能", "INCONCLUSIVE"),
}

#: Outcomes whose message and last frames the requirement table shows under the test.
EXPLAINED_OUTCOMES = ("failed", "error", "inconclusive")


#: Most frames of a failed test shown under it (the report keeps the last ones before the failure).
MAX_FRAMES = 6


class DeclarationError(Exception):
    """A declaration cannot be made: one line, naming the file or what is missing."""


# -- the view the template shows ------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """A box: ``danger`` (not a declaration / something is wrong), ``warn`` or ``info``."""

    level: str
    ja: str
    en: str


@dataclass(frozen=True)
class IdentityRow:
    label_ja: str
    label_en: str
    source: str  # where it was read: the EPC
    read: str | None
    declared: str | None
    #: match | mismatch | not-read | not-declared
    status: str


@dataclass(frozen=True)
class Field:
    label_ja: str
    label_en: str
    value: str
    flagged: bool = False
    #: A digest: printed small, in a fixed-width font.
    digest: bool = False


@dataclass(frozen=True)
class TestRow:
    nodeid: str
    name: str
    outcome: str
    outcome_ja: str
    outcome_en: str
    message: str
    records: str
    href: str | None
    frames: list[str]
    #: Of an inconclusive test: the requirement whose failure made it impossible, when known.
    cause: str | None = None


@dataclass(frozen=True)
class RequirementRow:
    id: str
    title_ja: str
    title_en: str
    verdict: str
    verdict_ja: str
    verdict_en: str
    reason: str
    tests: list[TestRow]


@dataclass(frozen=True)
class Jcstar:
    declared: bool
    label: str
    level: str
    valid_until: str
    status_ja: str
    status_en: str
    flagged: bool
    #: IPA's list the label was checked against (name, date, digest); empty when declared only.
    checked_ja: str = ""
    checked_en: str = ""


@dataclass
class DeviceView:
    device_class: str
    name_ja: str
    name_en: str
    class_code: str
    profile_name: str
    report_path: str | None
    notices: list[Notice] = field(default_factory=list)
    identity: list[IdentityRow] = field(default_factory=list)
    conditions: list[Field] = field(default_factory=list)
    jcstar: Jcstar | None = None
    requirements: list[RequirementRow] = field(default_factory=list)
    summary: list[tuple[str, str, str, int]] = field(default_factory=list)
    plot: plots.Plot | None = None
    plot_note_ja: str = ""
    plot_note_en: str = ""
    digests: list[Field] = field(default_factory=list)
    protocol_line: str = ""


@dataclass(frozen=True)
class SignatureRow:
    """One signature of the bundle (``signatures.json``), as checked when the page was made."""

    number: int
    role_ja: str
    role_en: str
    name: str
    algorithm: str
    signed_at: str
    key_sha256: str
    certificate_sha256: str
    certificate_subject: str
    status_ja: str
    status_en: str
    flagged: bool


@dataclass
class DeclarationView:
    run_id: str
    harness_version: str
    combined: bool
    notices: list[Notice]
    policy_notes: list[dict[str, str]]
    protocol_lines: list[str]
    run_fields: list[Field]
    summary: list[tuple[str, str, str, int]]
    devices: list[DeviceView]
    banner: str
    base_href: str | None
    #: The bundle's signatures, read when the page is made (signing comes after the run).
    signatures: list[SignatureRow] = field(default_factory=list)
