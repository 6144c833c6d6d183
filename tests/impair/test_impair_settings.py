"""The impairment settings: the ``--impair`` syntax and its one-line refusals, the profile's
``[impair]`` table, the run options (the command line wins), the retry budget and the dice."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from drready.errors import ProfileError, UsageError
from drready.impairment import (
    MAX_ATTEMPTS,
    Impairment,
    ImpairmentError,
    attempts_under,
    link_impairment,
    parse_impairment,
)
from drready.profile import default_profile, parse_profile
from drready.run.options import RunOptions, impairment_option, resolve_profile, run_options

BATTERY = """
[device]
class = "battery"
topologies = ["gateway"]

[echonet]
address = "simulator"

[ratings]
max_charge_w = 3000
max_discharge_w = 3000
capacity_wh = 9800
"""


# -- the command-line syntax ------------------------------------------------------------------


def test_parse_gives_the_fields_asked_and_defaults_for_the_rest() -> None:
    parsed = parse_impairment("loss=0.05, duplicate=0.01,seed=7")
    assert parsed == Impairment(loss=0.05, duplicate=0.01, seed=7)
    every = parse_impairment(
        "loss=0.1,duplicate=0.2,delay_ms=30,jitter_ms=5,reorder=0.3,tid_corrupt=0.4,"
        "inf_flood_per_s=2,seed=0x10,adapt_retries=false"
    )
    assert every == Impairment(0.1, 0.2, 30.0, 5.0, 0.3, 0.4, 2.0, 16, False)
    assert parse_impairment("none") is None
    assert parse_impairment(" OFF ") is None


def test_to_cli_gives_the_value_back() -> None:
    for value in (
        Impairment(seed=3),
        Impairment(loss=0.05, duplicate=0.01, seed=7),
        Impairment(delay_ms=12.5, jitter_ms=3, inf_flood_per_s=0.5, adapt_retries=False),
    ):
        assert parse_impairment(value.to_cli()) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("los=0.05", "los: expected a field: one of loss, duplicate"),
        ("loss=1.5", "loss: expected a number from 0 to 1 (a probability), got 1.5"),
        ("loss=-0.1", "loss: expected a number from 0 to 1"),
        ("loss=nan", "loss: expected a number from 0 to 1"),
        ("loss=lots", "loss: expected a number from 0 to 1 (a probability), got 'lots'"),
        ("seed=1.5", "seed: expected an integer, got '1.5'"),
        ("delay_ms=-1", "delay_ms: expected a number from 0 to 60000"),
        ("inf_flood_per_s=5000", "inf_flood_per_s: expected a number from 0 to 1000"),
        ("adapt_retries=maybe", "adapt_retries: expected true or false, got 'maybe'"),
        ("loss", "expected field=value pairs separated by commas, or none, got 'loss'"),
        ("loss=0.1,loss=0.2", "loss: expected each field once"),
        (",", "expected field=value pairs separated by commas, or none"),
    ],
)
def test_bad_syntax_names_the_field_and_what_it_expects(text: str, message: str) -> None:
    with pytest.raises(ImpairmentError) as caught:
        parse_impairment(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    with pytest.raises(UsageError, match=r"^--impair: "):
        impairment_option(text)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--impair", "los=0.05"], "drready: --impair: los: expected a field: one of loss"),
        (["--impair", "loss=2"], "drready: --impair: loss: expected a number from 0 to 1"),
        (["--impair", "seed=x"], "drready: --impair: seed: expected an integer, got 'x'"),
    ],
)
def test_the_command_line_refuses_in_one_line_with_status_2(args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "drready.cli", "run", "--simulate", "battery", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith(message), done.stderr
    assert "Traceback" not in done.stderr


def test_the_value_refuses_what_the_syntax_cannot_reach() -> None:
    with pytest.raises(ImpairmentError, match="loss: expected a number from 0 to 1"):
        Impairment(loss=True)
    with pytest.raises(ImpairmentError, match="seed: expected an integer"):
        Impairment(seed=1.0)  # type: ignore[arg-type]
    with pytest.raises(ImpairmentError, match="adapt_retries: expected true or false"):
        Impairment(adapt_retries=1)  # type: ignore[arg-type]


# -- the profile and the run options ----------------------------------------------------------


def test_the_profile_table_sets_it_and_echoes_it() -> None:
    profile = parse_profile(BATTERY + "\n[impair]\nloss = 0.05\nseed = 7\n")
    assert profile.impair == Impairment(loss=0.05, seed=7)
    echoed = profile.to_json()["impair"]
    assert echoed == Impairment(loss=0.05, seed=7).to_json()
    assert parse_profile(BATTERY).impair is None
    assert "impair" not in parse_profile(BATTERY).to_json()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("loss = 1.5", "impair.loss: expected a number ≤ 1, got 1.5"),
        ("los = 0.1", "impair.los: unknown key 'los' (did you mean 'loss'?"),
        ("seed = 1.5", "impair.seed: expected an integer, got 1.5"),
        ("adapt_retries = 1", "impair.adapt_retries: expected true or false, got 1"),
    ],
)
def test_a_bad_profile_table_is_one_line_naming_the_key(table: str, message: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(BATTERY + f"\n[impair]\n{table}\n", Path("lab.toml"))
    assert str(caught.value).startswith("lab.toml: ")
    assert message in str(caught.value)


def _options(profile_path: Path | None, impair: str | None) -> RunOptions:
    return run_options(
        profile_path=profile_path,
        simulate="battery",
        faults=(),
        report_dir="/tmp/unused",
        time_scale=None,
        run_id="x",
        impair=impair,
    )


def test_the_command_line_overrides_the_profile(tmp_path: Path) -> None:
    path = tmp_path / "lab.toml"
    path.write_text(BATTERY + "\n[impair]\nloss = 0.2\nseed = 1\n", encoding="utf-8")
    assert resolve_profile(_options(path, None)).impair == Impairment(loss=0.2, seed=1)
    given = resolve_profile(_options(path, "duplicate=0.01,seed=9"))
    assert given.impair == Impairment(duplicate=0.01, seed=9)
    assert resolve_profile(_options(path, "none")).impair is None
    assert resolve_profile(_options(None, "loss=0.05")).impair == Impairment(loss=0.05)
    assert resolve_profile(_options(None, None)).impair is None


def test_run_options_round_trip_the_impairment() -> None:
    options = _options(None, "loss=0.05,seed=3")
    assert options.impair == Impairment(loss=0.05, seed=3)
    assert RunOptions.from_json(json.loads(json.dumps(options.to_json()))) == options
    assert _options(None, None).to_json()["impair"] is None


def test_the_effective_profile_keeps_it_through_simulation() -> None:
    profile = replace(default_profile("battery"), impair=Impairment(loss=0.1))
    assert profile.simulated().impair == Impairment(loss=0.1)


# -- the retry budget and the dice --------------------------------------------------------------


def test_retries_are_sized_so_a_request_rarely_fails() -> None:
    impairment = Impairment(loss=0.05, duplicate=0.01)
    attempts = impairment.attempts(3)
    assert attempts == 6
    assert impairment.attempt_failure() ** attempts < 1e-6
    assert impairment.attempt_failure() ** (attempts - 1) >= 1e-6
    assert Impairment(loss=0.05).attempts(8) == 8  # never fewer than configured
    assert Impairment(loss=1.0).attempts(3) == MAX_ATTEMPTS
    assert Impairment(loss=0.05, adapt_retries=False).attempts(3) == 3
    assert Impairment(delay_ms=10).attempts(3) == 3  # no loss: nothing to size
    assert attempts_under(None, 3) == 3
    assert attempts_under(Impairment(), 3) == 3
    assert Impairment(tid_corrupt=0.05).attempts(3) == 6  # a corrupted TID loses the reply too


def test_each_link_draws_its_own_reproducible_stream() -> None:
    def draws(impairment: Impairment, name: str) -> list[bool]:
        dice = impairment.link(name)
        return [dice.lost("tx") for _ in range(200)]

    impairment = Impairment(loss=0.3, seed=5)
    assert draws(impairment, "echonet") == draws(impairment, "echonet")
    assert draws(impairment, "echonet") != draws(impairment, "modbus/device")
    assert draws(impairment, "echonet") != draws(Impairment(loss=0.3, seed=6), "echonet")
    # Turning another impairment on leaves the losses of a seed as they were.
    assert draws(impairment, "echonet") == draws(replace(impairment, duplicate=0.5), "echonet")
    assert 30 <= sum(draws(impairment, "echonet")) <= 90


def test_delays_stay_within_the_jitter_and_never_below_zero() -> None:
    dice = Impairment(delay_ms=10, jitter_ms=30, seed=1).link("x")
    delays = [dice.delay_s("tx") for _ in range(500)]
    assert min(delays) == 0.0
    assert max(delays) <= 0.040
    assert Impairment(delay_ms=10).link("x").delay_s("rx") == pytest.approx(0.010)


def test_inactive_settings_give_no_dice() -> None:
    assert link_impairment(None, "x") is None
    assert link_impairment(Impairment(seed=4), "x") is None
    assert link_impairment(Impairment(reorder=0.1), "x") is not None
    assert Impairment(loss=0.05, duplicate=0.01, seed=7).describe() == (
        "loss 5%, duplicate 1%, seed 7"
    )
