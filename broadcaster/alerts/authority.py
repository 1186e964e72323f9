"""Who may update or cancel an alert: officers and admins any; a feed only what it issued."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from broadcaster.alerts.models import Alert
from broadcaster.auth.audit import Actor, record
from broadcaster.auth.models import Role
from broadcaster.auth.service import Principal
from broadcaster.db.database import Database
from broadcaster.errors import Forbidden

ISSUER_LENGTH = 200  # alerts.issuer


@dataclass(frozen=True)
class Issuer:
    """Who asks: `ref` is kept on the alerts it creates ("key:12", "user:3", "poll:<feed>",
    "rules"); `any_alert` for officers and admins, who may act on every alert."""

    ref: str
    any_alert: bool = False

    @classmethod
    def of(cls, principal: Principal) -> Issuer:
        """A caller of the API: an API key is its own issuer, a console session its user."""
        ref = f"key:{principal.key_id}" if principal.key_id else f"user:{principal.user_id}"
        return cls(ref, principal.role in (Role.officer, Role.admin))

    @classmethod
    def polled(cls, feed: str) -> Issuer:
        """A configured upstream feed that is polled (named by its name, else its URL)."""
        return cls(f"poll:{feed}"[:ISSUER_LENGTH])


# The sensor rules act only on the alerts they raised themselves (kept per station).
RULES = Issuer("rules")


class NotIssuer(Forbidden):
    """The caller may not act on this alert: it was issued by another source."""

    code = "not_issuer"

    def __init__(self, alert: Alert, issuer: Issuer, action: str) -> None:
        super().__init__(
            f"无权{ACTIONS.get(action, action)}预警 {alert.id}：它由其他来源发布，只有其发布者、"
            f"值班员或管理员可以更新或取消 / may not {action} alert {alert.id}: it was issued by "
            "another source; only its issuer, an officer or an admin may update or cancel it",
            alert_id=alert.id,
            action=action,
        )
        self.alert_id = alert.id
        self.action = action
        self.issuer = issuer


ACTIONS = {"update": "更新", "cancel": "取消", "all_clear": "解除"}


def may_act(alert: Alert, issuer: Issuer) -> bool:
    """True when the issuer may update or cancel the alert."""
    return issuer.any_alert or (alert.issuer is not None and alert.issuer == issuer.ref)


def require(alert: Alert, issuer: Issuer, action: str) -> None:
    """The one check every update and cancel path makes; NotIssuer (403) otherwise."""
    if not may_act(alert, issuer):
        raise NotIssuer(alert, issuer, action)


@contextmanager
def audited(db: Database, actor: Actor) -> Iterator[None]:
    """Around a write transaction: a refusal rolls the change back and is audited on its own."""
    try:
        yield
    except NotIssuer as refused:
        with db.transaction() as session:
            record(
                session,
                actor=actor,
                action="alert.refused",
                object_type="alert",
                object_id=refused.alert_id,
                attempted=refused.action,
                issuer=refused.issuer.ref,
                reason="not_issuer",
            )
        raise
