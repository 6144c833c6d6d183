"""Check a declared JC-STAR label against IPA's list: a pure function of the list and the
declaration, used by the run's *-3.1 verdict and by bulk review of bundles."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from drready.jcstar.entries import JcStarEntry, JcStarList, normalise

__all__ = ["Declaration", "JcStarCheck", "check_declaration", "declared_in"]


@dataclass(frozen=True)
class JcStarCheck:
    """The outcome: passed or not, the reason in one sentence, the row it rests on (None when
    the label is not listed for this maker and product), and the cause as one word: listed,
    no-maker, absent, other-product, expired or lower-level."""

    passed: bool
    reason: str
    entry: JcStarEntry | None = None
    cause: str = "listed"


@dataclass(frozen=True)
class Declaration:
    """A declared label and how the device appears on IPA's list, as a profile states them."""

    label: str
    level: int
    maker: str | None
    product: str | None
    model: str | None

    def check(self, jcstar_list: JcStarList, on: date) -> JcStarCheck:
        return check_declaration(
            jcstar_list,
            label=self.label,
            level=self.level,
            maker=self.maker,
            product=self.product,
            model=self.model,
            on=on,
        )


def declared_in(profile: Mapping[str, Any]) -> Declaration | None:
    """The declaration in a profile as JSON (``report.json``'s ``profile``, a bundle's
    ``profile.json``), for checking runs after the fact: product and model default to
    ``device.name`` and ``device.product_code`` as :meth:`Profile.jcstar_identity` does. None
    when the profile has no ``jcstar`` table."""
    jcstar = profile.get("jcstar")
    if not isinstance(jcstar, Mapping) or not jcstar.get("label"):
        return None
    device = profile.get("device")
    device = device if isinstance(device, Mapping) else {}

    def text(value: Any) -> str | None:
        return str(value) if value else None

    level = jcstar.get("level")
    return Declaration(
        label=str(jcstar["label"]),
        level=level if isinstance(level, int) else 0,
        maker=text(jcstar.get("maker")),
        product=text(jcstar.get("product") or device.get("name")),
        model=text(jcstar.get("model") or device.get("product_code")),
    )


def check_declaration(
    jcstar_list: JcStarList,
    *,
    label: str,
    level: int,
    maker: str | None,
    product: str | None,
    model: str | None,
    on: date,
) -> JcStarCheck:
    """Whether the declared ``label`` is on ``jcstar_list`` for this ``maker`` and product, at
    ★1 or higher and at least at the declared ``level``, and valid on the day ``on``.

    Names, labels and model numbers are compared after NFKC, case folding and removing spaces
    (:func:`~drready.jcstar.entries.normalise`). The maker must equal the row's maker (事業者名).
    The product is the row's when the declared ``model`` is one of the row's model numbers (a
    cell may list several); when the row has no model number or none is declared, when the
    declared ``product`` name equals the row's. One label usually covers several rows (models):
    among the rows for this maker and product, the one valid on ``on`` at the highest level
    decides. The reason names what failed: absent, another maker or product, expired, or a
    lower level than declared."""
    listed = f"IPA's list dated {jcstar_list.list_date} ({jcstar_list.source.name})"
    declared = _describe(maker, product, model)
    if maker is None or not maker.strip():
        return JcStarCheck(
            False,
            f"the profile names no maker ([jcstar] maker, as on IPA's list) to find label "
            f"{label} on {listed}",
            cause="no-maker",
        )
    rows = jcstar_list.with_label(label)
    if not rows:
        return JcStarCheck(False, f"label {label} is not on {listed}", cause="absent")
    mine = [e for e in rows if _same_maker(e, maker) and _same_product(e, product, model)]
    if not mine:
        return JcStarCheck(
            False,
            f"label {label} is listed for {_others(rows)}, not for {declared} ({listed})",
            cause="other-product",
        )
    entry = max(mine, key=lambda e: (e.valid_until >= on, e.level, e.valid_until))
    # The cause first: a terminal's table shows only the start of a reason.
    row = f"{entry.describe()}, ★{entry.level}, valid until {entry.valid_until}"
    if entry.valid_until < on:
        return JcStarCheck(
            False,
            f"label {label} expired on {entry.valid_until}, before the run on {on}, per {listed}: "
            f"{row}",
            entry,
            "expired",
        )
    if entry.level < max(level, 1):
        return JcStarCheck(
            False,
            f"label {label} is listed at ★{entry.level}, lower than the declared ★{level}, on "
            f"{listed}: {row}",
            entry,
            "lower-level",
        )
    return JcStarCheck(True, f"label {label} is on {listed}, valid on {on}: {row}", entry)


def _same_maker(entry: JcStarEntry, maker: str) -> bool:
    return normalise(entry.maker) == normalise(maker)


def _same_product(entry: JcStarEntry, product: str | None, model: str | None) -> bool:
    models = entry.models()
    if model and models:
        return normalise(model) in models
    return bool(product) and normalise(entry.product) == normalise(product or "")


def _describe(maker: str | None, product: str | None, model: str | None) -> str:
    text = f"maker {maker or '(none)'} product {product or '(none)'}"
    return text + (f" (model {model})" if model else "")


def _others(rows: Sequence[JcStarEntry]) -> str:
    """The rows a label is listed for, the first three named."""
    named = "; ".join(e.describe() for e in rows[:3])
    return named + (f" and {len(rows) - 3} more" if len(rows) > 3 else "")
