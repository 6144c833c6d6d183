"""Where the run's JC-STAR list comes from: ``--jcstar-list``, else ``[jcstar] list_file``
(relative to the profile), and how the profile names the device as the list does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from drready.errors import ProfileError, UsageError
from drready.model import DeviceClass
from drready.profile import default_profile, load_profile
from drready.run.options import RunOptions, jcstar_list, run_options

ROOT = Path(__file__).resolve().parents[2]
LIST = ROOT / "fixtures" / "jcstar"
BUILTIN = ROOT / "drready" / "profile" / "builtin" / "battery.toml"


def _profile(tmp_path: Path, extra: str) -> Path:
    text = BUILTIN.read_text(encoding="utf-8").replace(
        "valid_until = 2099-12-31", "valid_until = 2099-12-31\n" + extra
    )
    path = tmp_path / "profiles" / "battery.toml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    return path


def test_list_file_is_relative_to_the_profile_and_the_option_overrides_it(tmp_path: Path) -> None:
    shutil.copy(LIST / "list.csv", tmp_path / "profiles-list.csv")
    path = _profile(tmp_path, 'list_file = "../profiles-list.csv"\nmodel = "DRR-BAT-SIM"')
    profile = load_profile(path)
    assert profile.jcstar_list_file() == path.parent / "../profiles-list.csv"
    assert profile.jcstar_identity() == (
        "架空電機株式会社",
        "Reference storage battery",
        "DRR-BAT-SIM",
    )
    options = run_options(
        profile_path=path, simulate=None, faults=(), report_dir=None, time_scale=None, run_id="x"
    )
    from_profile = jcstar_list(options, profile)
    assert from_profile is not None and from_profile.source.name == "profiles-list.csv"
    given = run_options(
        profile_path=path,
        simulate=None,
        faults=(),
        report_dir=None,
        time_scale=None,
        run_id="x",
        jcstar_list=LIST / "list.xlsx",
    )
    from_option = jcstar_list(given, profile)
    assert from_option is not None and from_option.source.name == "list.xlsx"
    assert RunOptions.from_json(given.to_json()) == given


def test_no_list_means_none_and_a_missing_file_is_one_line(tmp_path: Path) -> None:
    profile = default_profile(DeviceClass.BATTERY)
    options = run_options(
        profile_path=None,
        simulate="battery",
        faults=(),
        report_dir=None,
        time_scale=None,
        run_id="x",
    )
    assert jcstar_list(options, profile) is None
    missing = run_options(
        profile_path=None,
        simulate="battery",
        faults=(),
        report_dir=None,
        time_scale=None,
        run_id="x",
        jcstar_list=tmp_path / "gone.xlsx",
    )
    with pytest.raises(UsageError, match=r"^--jcstar-list: .*gone\.xlsx: no such file"):
        jcstar_list(missing, profile)
    path = _profile(tmp_path, 'list_file = "gone.csv"')
    with pytest.raises(UsageError, match=r"jcstar\.list_file: .*gone\.csv: no such file"):
        jcstar_list(options, load_profile(path))


@pytest.mark.parametrize("extra", ["model = 3", 'list_file = ""'])
def test_the_profile_schema_checks_the_new_keys(tmp_path: Path, extra: str) -> None:
    with pytest.raises(ProfileError) as caught:
        load_profile(_profile(tmp_path, extra))
    assert f"jcstar.{extra.split()[0]}" in str(caught.value)
