"""Opening a DUT over the ECHONET Lite Web API: a maker's cloud that is not the built-in simulator
(the reference cloud run on its own loop, real time), the one-line errors a user can cause, and
``drready run`` with the built-in webapi profile."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from drready.simulators.maker_cloud import InMemoryBackend, MakerCloud, MakerCloudConfig

from drready.profile import Profile, default_profile
from drready.run.session import SessionError, open_dut

SECRET = "s3cret-for-tests-only"
_ROOT = Path(__file__).resolve().parents[2]


class CloudThread:
    """The reference cloud on a loop of its own thread: an external cloud for the harness."""

    def __init__(self, cloud: MakerCloud) -> None:
        self.cloud = cloud
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> CloudThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.cloud.start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: Any) -> None:
        asyncio.run_coroutine_threadsafe(self.cloud.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def _battery() -> InMemoryBackend:
    return InMemoryBackend(
        0x027D,
        {
            "operationStatus": True,
            "operationMode": "standby",
            "protocol": {"type": "ECHONET_Lite", "version": "Rel.R"},
            "serialNumber": "SN-0001",
            "productCode": "DRR-BAT-SIM",
            "manufacturer": {"code": "0xFFFFFF"},
        },
    )


@pytest.fixture(scope="module")
def external() -> Iterator[CloudThread]:
    config = MakerCloudConfig(client_id="drready", client_secret=SECRET)
    with CloudThread(MakerCloud({"home-battery": _battery()}, config)) as running:
        yield running


def _profile(tmp_path: Path, running: CloudThread | None, **webapi: Any) -> Profile:
    profile = default_profile("battery", "webapi")
    assert profile.webapi is not None
    settings: dict[str, Any] = {"client_secret": SECRET, "request_timeout_s": 2.0}
    if running is not None:
        assert running.cloud.url is not None and running.cloud.ca is not None
        ca_file = tmp_path / "ca.pem"
        running.cloud.ca.cert_pem.write_to_path(str(ca_file))
        settings |= {"base_url": running.cloud.url, "ca_file": str(ca_file)}
    settings |= webapi
    return replace(profile, webapi=replace(profile.webapi, **settings))


def test_an_external_cloud_is_found_and_read(tmp_path: Path, external: CloudThread) -> None:
    dut = open_dut(_profile(tmp_path, external))
    try:
        assert dut.binding.transport.device_id == "home-battery"  # type: ignore[attr-defined]
        assert not dut.virtual_time
        assert dut.read_mode() == "standby"
        assert dut.identity().serial_number == "SN-0001"
        assert dut.node_version() == "ECHONET_Lite Rel.R"
        assert dut.structured_data().findings == ()
    finally:
        dut.close()


def _one_line_error(profile: Profile) -> str:
    with pytest.raises(SessionError) as caught:
        open_dut(profile).close()
    text = str(caught.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_wrong_credentials_at_start(tmp_path: Path, external: CloudThread) -> None:
    text = _one_line_error(_profile(tmp_path, external, client_secret="wrong"))
    assert "refused the client credentials" in text and "401" in text


def test_untrusted_certificate(tmp_path: Path, external: CloudThread) -> None:
    profile = _profile(tmp_path, external)
    assert profile.webapi is not None
    text = _one_line_error(replace(profile, webapi=replace(profile.webapi, ca_file=None)))
    assert "cannot reach the maker's cloud" in text and "certificate" in text.lower()


def test_nothing_listening(tmp_path: Path) -> None:
    text = _one_line_error(_profile(tmp_path, None, base_url="https://127.0.0.1:9"))
    assert "cannot reach the maker's cloud at https://127.0.0.1:9" in text


def test_unknown_device_and_bad_ca_file(tmp_path: Path, external: CloudThread) -> None:
    text = _one_line_error(_profile(tmp_path, external, device_id="nobody"))
    assert "nobody" in text and "404" in text
    missing = _profile(tmp_path, external, ca_file=str(tmp_path / "missing.pem"))
    assert "webapi.ca_file" in _one_line_error(missing)


def test_faults_need_the_simulator(tmp_path: Path, external: CloudThread) -> None:
    with pytest.raises(SessionError, match="simulator"):
        open_dut(_profile(tmp_path, external), faults=["webapi_plain_http"])


@pytest.mark.slow
def test_drready_run_with_the_webapi_profile_passes(tmp_path: Path) -> None:
    profile = _ROOT / "drready" / "profile" / "builtin" / "battery-webapi.toml"
    command = [sys.executable, "-m", "drready.cli", "run", "--simulate", "battery"]
    command += ["--profile", str(profile), "--report-dir", str(tmp_path / "run")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    report = json.loads((tmp_path / "run" / "report.json").read_text(encoding="utf-8"))
    verdicts = {r["id"]: r["verdict"] for r in report["requirements"]}
    assert report["topology"] == "server" and "Web API" in report["binding"]
    failing = {k: v for k, v in verdicts.items() if v not in ("pass", "declared", "not-tested")}
    assert failing == {}, verdicts
    for requirement in ("BAT-1.2", "BAT-2.7", "BAT-ID", "BAT-3.2", "BAT-3.3"):
        assert verdicts[requirement] == "pass", verdicts
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
