"""``qdiscs`` (``tc qdisc replace ... root netem``) and ``delete_qdiscs``: traffic shaping on a link.

netem delays (``delay`` ms, ``jitter`` ms), drops (``loss`` %) and limits the rate (``rate``:
bits per second with a unit as tc writes it, e.g. ``1mbit``, ``500kbit``) of what a link sends.
"""

from __future__ import annotations

from typing import Optional

from pydantic import Field, model_validator

from harness.actions.base import Action
from harness.fields import IfName, NsName, Ref


class Qdisc(Action):
    """A netem root qdisc on a link (replacing the one it has)."""

    section = "qdiscs"
    template = "actions/qdiscs.sh.j2"
    PHASES = ("qdisc",)
    description = "netem on a link: {namespace, dev, delay, jitter, loss, rate}"

    namespace: NsName
    dev: IfName
    delay: Optional[float] = Field(None, ge=0, le=60000, description="ms added to every packet")
    jitter: Optional[float] = Field(None, ge=0, le=60000, description="ms of random variation (needs delay)")
    loss: Optional[float] = Field(None, ge=0, le=100, description="% of packets dropped")
    rate: Optional[str] = Field(None, pattern=r"^[0-9]+(\.[0-9]+)?(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)$",
                                description="rate limit, e.g. 1mbit")
    limit: Optional[int] = Field(None, ge=1, le=10_000_000, description="queue length in packets")

    @model_validator(mode="after")
    def _consistent(self) -> "Qdisc":
        if self.jitter is not None and self.delay is None:
            raise ValueError("jitter needs delay")
        if all(v is None for v in (self.delay, self.loss, self.rate, self.limit)):
            raise ValueError("say what netem does: delay, loss, rate or limit")
        return self

    def features(self) -> tuple[str, ...]:
        return ("netem",)

    def tools(self) -> tuple[str, ...]:
        return ("tc",)

    def summary(self) -> str:
        return f"qdisc replace dev {self.dev} root netem"

    def references(self):
        yield Ref(("namespace",), self.namespace)
        yield Ref(("dev",), self.namespace, self.dev)


class DeleteQdisc(Action):
    """Remove a link's root qdisc (back to the default)."""

    section = "delete_qdiscs"
    template = "actions/qdiscs.sh.j2"
    PHASES = ("delete_qdisc",)
    in_setup = False
    description = "root qdiscs to remove: {namespace, dev}"

    namespace: NsName
    dev: IfName

    def summary(self) -> str:
        return f"qdisc del dev {self.dev} root"

    def references(self):
        yield Ref(("namespace",), self.namespace)
        yield Ref(("dev",), self.namespace, self.dev)
