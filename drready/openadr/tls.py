"""TLS material of one run of the OpenADR 3 servicer: a CA made for the run (trustme), the
servicer's certificate, and the bad server configurations the security probes offer a VEN.

A VEN is told to trust :attr:`RunTls.ca_pem` and nothing else. The probes then serve it, at the
same address, a certificate from a second CA it was never told about, a certificate of the run's
CA for another host name, or a server that offers TLS 1.1 at most (RFC 8996 deprecates TLS 1.0
and 1.1; OpenADR 3.1.0 Definition.md, "HTTPS/TLS", asks for TLS 1.2 or later).
"""

from __future__ import annotations

import contextlib
import ssl
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import trustme

#: A host name no device can be expecting: RFC 6761 reserves ``.invalid``.
WRONG_HOST = "wrong-host.invalid"


class RunTls:
    """The run's CA and the contexts made from it. ``hosts``: the names and addresses the
    servicer's certificate is issued for (the profile's server name and the bind address).

    Every certificate is made here, at once: cryptography cannot sign while freezegun has frozen
    ``datetime`` (a virtual clock), so a session makes its material before its clock starts, or
    inside :func:`thawed`.
    """

    def __init__(self, hosts: Sequence[str]) -> None:
        self.hosts = tuple(dict.fromkeys(hosts))
        self.ca = trustme.CA()
        self._leaf = self.ca.issue_cert(*self.hosts)
        self._untrusted_leaf = trustme.CA().issue_cert(*self.hosts)
        self._wrong_host_leaf = self.ca.issue_cert(WRONG_HOST)

    @property
    def ca_pem(self) -> bytes:
        return self.ca.cert_pem.bytes()

    def server_context(self) -> ssl.SSLContext:
        """The servicer's own: TLS 1.2 or later, the run's certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._leaf.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """What a conforming VEN holds: the run's CA only, host names checked, TLS 1.2+."""
        context = ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def untrusted_ca_context(self) -> ssl.SSLContext:
        """A server certificate for the right hosts from a CA the device was never given."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._untrusted_leaf.configure_cert(context)
        return context

    def wrong_host_context(self) -> ssl.SSLContext:
        """A certificate of the run's own CA, but for another host name only."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._wrong_host_leaf.configure_cert(context)
        return context

    def old_tls_context(self) -> tuple[ssl.SSLContext | None, str]:
        """A server offering TLS 1.0 to 1.1 only, and a sentence on what it offers; None with
        the reason when this Python and OpenSSL cannot offer TLS 1.1 at all."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.minimum_version = ssl.TLSVersion.TLSv1
                context.maximum_version = ssl.TLSVersion.TLSv1_1
            # OpenSSL 3 puts TLS 1.1's SHA-1 signatures below security level 1: level 0 lets
            # the server offer it at all (a client's own level still decides).
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
            self._leaf.configure_cert(context)
        except (ValueError, ssl.SSLError) as exc:
            return None, f"TLS 1.1 cannot be offered here ({ssl.OPENSSL_VERSION}: {exc})"
        return context, f"TLS 1.0-1.1 only ({ssl.OPENSSL_VERSION}, security level 0)"


def insecure_client_context(
    ca_pem: bytes,
    *,
    verify_certificate: bool = True,
    check_hostname: bool = True,
    accept_old_tls: bool = False,
) -> ssl.SSLContext:
    """A VEN's client context, with the insecurities a faulty VEN may have switched on."""
    context = ssl.create_default_context(cadata=ca_pem.decode("ascii"))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if accept_old_tls:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    if not check_hostname or not verify_certificate:
        context.check_hostname = False
    if not verify_certificate:
        context.verify_mode = ssl.CERT_NONE
    return context


@contextmanager
def thawed(clock: Any) -> Iterator[None]:
    """Real ``datetime`` for a moment under a virtual clock that froze it (freezegun), so that
    certificates can be signed for the real date TLS checks; a real clock needs nothing."""
    thaw = getattr(clock, "thawed", None)
    with thaw() if thaw is not None else contextlib.nullcontext():
        yield
