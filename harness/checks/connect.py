"""``connect``: TCP or UDP from one namespace to a port, with a listener the harness starts in another.

With ``listen: NAMESPACE`` the harness first starts a listener there (bound to ``to``, or to
``listen_address``, e.g. ``0.0.0.0`` behind a DNAT), then connects from ``from``. The client
and the listener are small Perl programs using only ``perl-base`` (IO::Socket::IP), which
every Debian system has. Outcomes: ``open`` (TCP connected and the listener answered; UDP got
the listener's answer), ``refused`` (TCP RST, or ICMP port unreachable), ``unreachable`` (ICMP
host/net unreachable, no route, or a firewall's reject), ``timeout`` (nothing came back
within ``timeout`` seconds). ``seen_from`` asserts the source address the listener saw (SNAT).

Reads the programs' own output: ``result=OUTCOME``, ``error=MESSAGE``, ``peer=ADDRESS`` lines.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from pydantic import Field, model_validator

from harness.checks.base import ERROR, FAIL, PASS, CheckSpec, Ref, Verdict, ere_escape
from harness.fields import IpAddress, NsName, Port, ip_version
from harness.protocol import CheckOutput

# The listener: bind ADDR PORT PROTO, touch READY, answer one client, print who it was.
LISTENER = r"""
use strict; use IO::Socket::IP;
my ($addr, $port, $proto, $ready, $timeout) = @ARGV;
my $s = IO::Socket::IP->new(LocalHost => $addr, LocalPort => $port, Proto => $proto, ReuseAddr => 1,
                            ($proto eq "tcp" ? (Listen => 5) : ())) or die "listener: cannot bind $addr:$port: $@\n";
open(my $f, ">", $ready) or die "listener: $!\n"; close $f;
$SIG{ALRM} = sub { exit 0 }; alarm($timeout + 5);
my $peer;
if ($proto eq "tcp") { my $c = $s->accept or exit 0; $peer = $c->peerhost; print $c "ok\n"; close $c; }
else { my $buf; my $from = $s->recv($buf, 512); $peer = $s->peerhost; $s->send("ok\n", 0, $from); }
$peer =~ s/^::ffff://; print "peer=$peer\n";
"""

# The client: connect to ADDR PORT over PROTO (from SOURCE), say what happened.
CLIENT = r"""
use strict; use IO::Socket::IP; use IO::Select; use Errno qw(ECONNREFUSED EHOSTUNREACH ENETUNREACH ETIMEDOUT
  EINPROGRESS EACCES EPERM EADDRNOTAVAIL);
my ($addr, $port, $proto, $timeout, $source) = @ARGV;
sub outcome { my $e = shift; return "refused" if $e == ECONNREFUSED;
  return "unreachable" if $e == EHOSTUNREACH || $e == ENETUNREACH || $e == EACCES || $e == EPERM || $e == EADDRNOTAVAIL;
  return "timeout" if $e == ETIMEDOUT || $e == EINPROGRESS; return "error"; }
my $s = IO::Socket::IP->new(PeerHost => $addr, PeerPort => $port, Proto => $proto, Timeout => $timeout,
                            ($source ne "" ? (LocalHost => $source) : ()));
if (!$s) { my $e = $! + 0; print "result=", outcome($e), "\nerror=$!\n"; exit 1; }
if ($proto eq "udp") {
  if (!defined $s->send("ping\n")) { my $e = $! + 0; print "result=", outcome($e), "\nerror=$!\n"; exit 1; }
}
my $sel = IO::Select->new($s);
if (!$sel->can_read($timeout)) { print "result=timeout\n"; exit 1; }
my $buf = ""; my $n = sysread($s, $buf, 512);
if (!defined $n) { my $e = $! + 0; print "result=", outcome($e), "\nerror=$!\n"; exit 1; }
print "result=open\n"; exit 0;
"""


class ConnectCheck(CheckSpec):
    """A TCP or UDP connection from ``from`` to ``to``:``port`` has outcome ``expect``."""

    kind = "connect"
    listener_code: ClassVar[str] = LISTENER
    client_code: ClassVar[str] = CLIENT

    from_: NsName = Field(alias="from")
    to: IpAddress
    port: Port
    protocol: Literal["tcp", "udp"] = "tcp"
    listen: Optional[NsName] = Field(None, description="start a listener on to:port in this namespace")
    listen_address: Optional[IpAddress] = Field(None, description="the listener's bind address (default: to)")
    source: Optional[IpAddress] = Field(None, description="connect from this address")
    timeout: float = Field(1.0, ge=0.1, le=60, description="seconds to wait for the answer")
    expect: Literal["open", "refused", "unreachable", "timeout"] = "open"
    seen_from: Optional[IpAddress] = Field(None, description="the address the listener sees the client at")

    @model_validator(mode="after")
    def _consistent(self) -> "ConnectCheck":
        if self.listen_address and not self.listen:
            raise ValueError("listen_address needs listen (the namespace to start the listener in)")
        if self.seen_from and not (self.listen and self.expect == "open"):
            raise ValueError("seen_from needs a listener (listen) and expect: open")
        if self.source and ip_version(self.source) != ip_version(self.to):
            raise ValueError(f"source {self.source} and to {self.to} are of different IP versions")
        return self

    @property
    def where(self) -> str:
        return self.from_

    def references(self):
        yield Ref(("from",), self.from_)
        if self.listen:
            yield Ref(("listen",), self.listen)
        if self.source:
            yield Ref(("source",), self.from_, address=self.source)

    def tools(self) -> tuple[str, ...]:
        return ("perl",)

    def try_seconds(self) -> float:
        return self.timeout + 3

    def title(self) -> str:
        words = [f"{self.protocol} {self.from_} -> {self.to}:{self.port}"]
        words += [f"from {self.source}"] if self.source else []
        words += [f"(listener in {self.listen})"] if self.listen else []
        words += [self.expect] + ([f"seen from {self.seen_from}"] if self.seen_from else [])
        return " ".join(words)

    def expected(self) -> dict[str, Any]:
        return {"outcome": self.expect, **({"seen_from": self.seen_from} if self.seen_from else {})}

    @classmethod
    def parse_output(cls, stdout: str, stderr: str) -> Any:
        """The ``key=value`` lines of the client and listener: ``{"result", "error", "peer"}``."""
        out = {}
        for line in stdout.splitlines():
            key, sep, value = line.partition("=")
            if sep and key in ("result", "error", "peer"):
                out[key] = value
        return out

    def judge(self, output: CheckOutput) -> Verdict:
        expected = self.expected()
        seen = self.parse_output(output.stdout, output.stderr)
        observed: dict[str, Any] = {"outcome": seen.get("result")}
        observed.update({k: seen[k] for k in ("error", "peer") if k in seen})
        if seen.get("result") in (None, "error"):
            why = seen.get("error") or output.stderr.strip()[:300] or "no result"
            return Verdict(ERROR, expected, observed, f"the connection could not be tried: {why}")
        if seen["result"] != self.expect:
            return Verdict(FAIL, expected, observed, f"{self.protocol} to {self.to}:{self.port} was {seen['result']}"
                           + (f" ({seen['error']})" if seen.get("error") else "") + f", expected {self.expect}")
        if self.seen_from and seen.get("peer") != self.seen_from:
            return Verdict(FAIL, expected, observed, f"the listener saw the client at {seen.get('peer')}, "
                           f"expected {self.seen_from}")
        return Verdict(PASS, expected, observed)

    @staticmethod
    def brief(observed: dict[str, Any]) -> str:
        return observed.get("outcome", "") + (f", seen from {observed['peer']}" if observed.get("peer") else "")

    def output_patterns(self) -> list[str]:
        """Lines the output must have (EREs), for the screen."""
        out = [f"^result={self.expect}$"]
        if self.seen_from:
            out.append(f"^peer={ere_escape(self.seen_from)}$")
        return out
