"""``drready simulate servicer``: the DR servicer on its own, for a maker's integration testing."""

from __future__ import annotations

import asyncio
import selectors
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from drready.openadr.standalone import CA_FILE
from drready.openadr.ven import VenClient, VenError, build_report
from tests.helpers import START_TIMEOUT_S, reaped

COMMAND = [sys.executable, "-m", "drready.cli", "simulate", "servicer"]


def _line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        assert selector.select(timeout=START_TIMEOUT_S), "the servicer printed nothing"
    return process.stdout.readline()


@pytest.mark.slow
def test_a_ven_polls_reports_and_its_bad_document_is_shown(tmp_path: Path) -> None:
    options = ["--bind", "127.0.0.1:0", "--cert-dir", str(tmp_path), "--client-secret", "s3"]
    options += ["--dispatch=-1500:600", "--evidence", str(tmp_path / "evidence.jsonl")]
    with reaped([*COMMAND, *options]) as process:
        banner = _line(process)
        assert "DR servicer (OpenADR 3) at https://127.0.0.1:" in banner, banner
        base_url = banner.split(" at ")[1].split(",")[0]

        async def ven() -> list[dict[str, object]]:
            context = ssl.create_default_context(cafile=str(tmp_path / CA_FILE))
            async with VenClient(base_url, "drready-ven", "s3", ssl=context) as client:
                events = await client.events()
                await client.post_report(
                    build_report(events[0]["id"], "drready-ven", "device", {"DEMAND": [0.5]})
                )
                try:
                    await client.request(
                        "POST", "/reports", raw=b"{}", content_type="application/json"
                    )
                except VenError as exc:
                    assert exc.status == 400
                return events

        events = asyncio.run(ven())
        payloads = [e["intervals"][0]["payloads"][0]["type"] for e in events]  # type: ignore[index]
        assert "DRREADY_TELEMETRY" in payloads
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
        # Not communicate(): it reads the pipes' descriptors and would miss what readline()
        # above already buffered (the event line printed right after the banner). The output
        # is a few lines, far below a pipe's buffer, so waiting first cannot block the server.
        assert process.stdout is not None and process.stderr is not None
        out, err = process.stdout.read(), process.stderr.read()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert "event event-" in out and "-1500 W for 600 s" in out
    assert "report from drready-ven" in out and "DEMAND=[0.5]" in out
    assert "schema violation (POST /reports" in out
    assert "1 reports, 1 findings" in out
    assert (tmp_path / "evidence.jsonl").stat().st_size > 0


@pytest.mark.slow
def test_a_bad_option_is_one_line_and_status_2(tmp_path: Path) -> None:
    for options, expected in (
        (["--dispatch", "lots"], "--dispatch: expected W:SECONDS"),
        (["--fault", "slow_ramp"], "--fault: not an option of the servicer"),
        (["--bind", "127.0.0.1:nope"], "--bind"),
    ):
        done = subprocess.run(
            [*COMMAND, *options, "--cert-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 2, (options, done.stderr)
        assert expected in done.stderr and "Traceback" not in done.stderr, done.stderr
