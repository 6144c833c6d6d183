"""The evidence bundle of a run: what a third party needs to check it, and proof it is untouched.

At the end of a single-class run (also an interrupted one), once ``report.json`` and
``evidence.jsonl`` are final, :func:`write_bundle` adds to the run directory:

``trace.pcapng``
    Every ECHONET Lite datagram of the evidence (channel ``echonet``, kinds ``tx`` and ``rx``), in
    order, as a UDP packet between the harness's own socket (``local_address``) and the record's
    peer: link type ``LINKTYPE_RAW`` (101), IPv4 or IPv6 and UDP headers synthesised with valid
    checksums, microsecond timestamps from the record's time (the run's clock, so virtual in
    simulated runs), the direction as ``epb_flags`` and a comment ``evidence seq N; test ID``.
    Wireshark and tshark open it as is (``frame.comment contains "seq 42;"`` finds a record).
``http.har``
    HAR 1.2 of the HTTP exchanges (channel ``http``), credentials redacted (see below).
``measurements.jsonl``
    One line per measurement record: ``{"seq", "time", "channel", "test", "values"}``.
``profile.json``
    ``report["profile"]``, credentials redacted, as canonical JSON (sorted keys, no whitespace,
    UTF-8).
``manifest.json`` (written last, atomically)
    The SHA-256 and size of every other file under the run directory (subdirectories
    included; nothing is exempt, not even ``.DS_Store``), the evidence record count and chain
    head (equal to ``report["evidence"]``), how the chain is computed, the bundle format and its
    version, and ``manifest_sha256``: the SHA-256 of the manifest's own canonical JSON without
    that field, so an edit of the manifest that does not recompute it is seen too.

Files added later, such as a rendered declaration: whatever writes them into the run directory
then calls :func:`write_manifest`, which first verifies the bundle and refuses
(:class:`BundleError`) if anything but an addition is wrong, then lists the new files with the
time they were added under ``added_after_run``. A file added after the run may later be replaced
or removed the same way (a declaration rendered again); a file of the run itself may not.

A combined run's directory gets :func:`write_combined_manifest`: its own files (the combined
``report.json``, and every file of a class's directory that has no bundle of its own, e.g. a
class's run that was killed) plus, per class directory with a bundle, the digest of that
directory's ``manifest.json``.

:func:`verify_bundle` returns the problems found, the first one first, each a line naming the
file (``battery/evidence.jsonl: record 42 (line 43) altered: ...``); an empty list means the
bundle is as written. Besides every file's digest, it checks on its own, so that an edit that
also fixes the manifest is still found: the evidence's hash chain record by record, its head and
count against the manifest and ``report.json``; that the trace holds exactly the evidence's
datagrams (payload, time, addresses, order); that the measurements, the HAR and the profile are
what the evidence and the report give. Anyone able to rewrite the whole chain, the report and
the manifest consistently is not detected by the bundle alone: publish or keep
:func:`manifest_sha256` (or the evidence head) out of the run directory for that.

Credentials never reach a bundle file: the HAR's headers, query strings and bodies and
``profile.json`` are redacted (:mod:`drready.evidence.redact`), and every file of the bundle is
scanned with :func:`drready.evidence.redact.find_secrets` (the evidence's non-ECHONET payloads
decoded as well) before anything is written; a hit makes :func:`write_bundle` refuse with
:class:`BundleError`.

HTTP evidence records (for whoever records them): ``kind`` ``tx``/``rx`` and channel ``http``,
with the raw HTTP/1.x message as ``data`` (redacted first with
:func:`drready.evidence.redact.redact_http_message`), or without data and with ``values`` holding
``method``, ``url`` (requests) or ``status``, ``status_text`` (responses), plus ``headers`` (a
mapping or ``[name, value]`` pairs), ``body`` and ``http_version``. A response answers the
oldest unanswered request of the same peer.

The package, by file: :mod:`.writer` (the bundle of a run), :mod:`.combined` (a combined run's
manifest), :mod:`.additions` (files added later), :mod:`.verify`, and the files themselves:
:mod:`.layout` (names, format, digests), :mod:`.chain` (the evidence read back), :mod:`.trace`
and :mod:`.pcapng` (the packet traces), :mod:`.har`, :mod:`.derived` (measurements, profile),
:mod:`.signing` (``signatures.json``: who vouches for the bundle, the one file its manifest
leaves out) and :mod:`.keys` (the keys it signs with and trusts).
"""

from __future__ import annotations

from drready.bundle.additions import (
    write_manifest,
)
from drready.bundle.combined import (
    write_combined_manifest,
)
from drready.bundle.derived import (
    build_measurements,
    build_profile,
    measurement_line,
)
from drready.bundle.har import (
    build_har,
    har_entries,
)
from drready.bundle.keys import (
    PASSPHRASE_ENV,
    TrustedKey,
    key_fingerprint,
    load_private_key,
    load_trusted,
)
from drready.bundle.layout import (
    BUNDLE_FORMAT,
    BUNDLE_FORMAT_VERSION,
    CHAIN,
    DEFAULT_LOCAL_ADDRESS,
    EVIDENCE,
    HAR,
    MANIFEST,
    MEASUREMENTS,
    MODBUS_CLIENT,
    MODBUS_SERVER,
    MODBUS_TRACE,
    PROFILE,
    REPORT,
    SIGNATURES,
    TRACE,
    BundleError,
    manifest_sha256,
)
from drready.bundle.signing import (
    COUNTERSIGNER,
    SIGNER,
    SignatureCheck,
    Signer,
    check_signatures,
    read_signatures,
    sign_bundle,
)
from drready.bundle.trace import (
    build_modbus_trace,
    build_trace,
)
from drready.bundle.verify import (
    verify_bundle,
)
from drready.bundle.writer import (
    write_bundle,
)

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_FORMAT_VERSION",
    "CHAIN",
    "COUNTERSIGNER",
    "DEFAULT_LOCAL_ADDRESS",
    "EVIDENCE",
    "HAR",
    "MANIFEST",
    "MEASUREMENTS",
    "MODBUS_CLIENT",
    "MODBUS_SERVER",
    "MODBUS_TRACE",
    "PASSPHRASE_ENV",
    "PROFILE",
    "REPORT",
    "SIGNATURES",
    "SIGNER",
    "TRACE",
    "BundleError",
    "SignatureCheck",
    "Signer",
    "TrustedKey",
    "build_har",
    "build_measurements",
    "build_modbus_trace",
    "build_profile",
    "build_trace",
    "check_signatures",
    "har_entries",
    "key_fingerprint",
    "load_private_key",
    "load_trusted",
    "manifest_sha256",
    "measurement_line",
    "read_signatures",
    "sign_bundle",
    "verify_bundle",
    "write_bundle",
    "write_combined_manifest",
    "write_manifest",
]
