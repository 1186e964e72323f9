"""What the core tells a provider about the deployment when it builds the provider's settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from channels.base import ChannelError


@dataclass(frozen=True)
class Deployment:
    """Deployment-wide defaults a provider may take, and where drills must go instead.

    Drills (exercise/test alerts) go to the provider simulator only: a provider that sends
    drills asks `endpoint()` (or `smtp_sink()`) for where to send, never its own setting."""

    drill: bool = False
    timeout_seconds: float = 5.0  # delivery.provider_timeout_seconds
    slow_after_seconds: float = 1.0  # delivery.slow_after_seconds
    concurrency: int = 100  # delivery.concurrency
    simulator_url: str | None = None
    simulator_smtp: str | None = None  # host:port of the simulator's SMTP sink
    config_dir: Path | None = None  # where templates/providers/<provider>.toml live
    public_base: str = ""  # the service's public URL (what links in approved templates name)

    def simulator(self) -> str:
        """The simulator's base URL; an error when drills have nowhere to go."""
        if not self.simulator_url:
            raise ChannelError(
                "演练只发往模拟器，但未配置模拟器 / drills go to the simulator only, and none is "
                "configured (BROADCASTER_SIMULATOR_URL)",
                code="drill_without_simulator",
            )
        return self.simulator_url

    def endpoint(self, configured: str | None) -> str | None:
        """Where a provider sends: its configured endpoint, or for drills the simulator."""
        return self.simulator() if self.drill else configured

    def smtp_sink(self) -> tuple[str, int]:
        """The simulator's SMTP sink (host, port), where drill emails go."""
        if not self.simulator_smtp:
            raise ChannelError(
                "演练邮件只发往模拟器 / drill emails go to the simulator's SMTP "
                "sink only (BROADCASTER_SIMULATOR_SMTP)",
                code="drill_without_simulator",
            )
        host, _, port = self.simulator_smtp.rpartition(":")
        return host, int(port)
