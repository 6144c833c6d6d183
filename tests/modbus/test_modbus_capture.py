"""A Modbus run's capture: tshark's Modbus/TCP dissector reads ``modbus.pcapng`` of the evidence
bundle, and the function codes and register addresses it decodes are those of the evidence."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: Its fixtures run whole suites as processes: not in the fast part (-m "not slow").
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
MODBUS_PROFILE = REPO / "drready" / "profile" / "builtin" / "battery-modbus.toml"


@pytest.fixture(scope="module")
def modbus_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("modbus") / "run"
    command = [sys.executable, "-m", "drready.cli", "run", "--simulate", "battery"]
    command += ["--profile", str(MODBUS_PROFILE), "--report-dir", str(run), "--", "-q"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:]
    return run


def _requests(run: Path) -> list[tuple[int, int]]:
    """(function code, first register) of every Modbus request in the evidence, in order."""
    found = []
    for line in (run / "evidence.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["channel"] != "modbus" or record["kind"] != "tx" or not record["data_hex"]:
            continue
        adu = bytes.fromhex(record["data_hex"])
        # MBAP header (7 bytes), then the function code and the starting address.
        found.append((adu[7], int.from_bytes(adu[8:10], "big")))
    return found


def test_tshark_decodes_the_function_codes_and_registers(modbus_run: Path) -> None:
    tshark = shutil.which("tshark")
    assert tshark, "tshark is missing: install it (Debian: apt install tshark; .ci/system-tools)"
    command = [tshark, "-r", str(modbus_run / "modbus.pcapng"), "-Y", "tcp.dstport == 502"]
    fields = subprocess.run(
        [*command, "-T", "fields", "-e", "modbus.func_code", "-e", "modbus.reference_num"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.splitlines()
    decoded = [tuple(int(v) for v in line.split("\t")) for line in fields if line.strip()]
    expected = _requests(modbus_run)
    assert len(expected) > 100
    assert decoded == expected
    codes = {code for code, _ in expected}
    assert codes <= {3, 16} and codes == {3, 16}  # read holding registers, write multiple


def test_the_modbus_bundle_verifies_and_names_a_changed_packet(
    modbus_run: Path, tmp_path: Path
) -> None:
    from drready.cli import main

    copy = tmp_path / "run"
    shutil.copytree(modbus_run, copy)
    assert main(["verify", str(copy)]) == 0
    capture = copy / "modbus.pcapng"
    data = bytearray(capture.read_bytes())
    data[len(data) // 2] ^= 0x01
    capture.write_bytes(bytes(data))
    assert main(["verify", str(copy)]) == 1
