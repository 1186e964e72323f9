"""Provider simulator: Twilio's Messages API subset, signed callbacks and inbound replies."""

from broadcaster.sim.app import create_sim_app, create_standalone_app, run_sim, sim_state
from broadcaster.sim.config import NumberConfig, SimConfig

__all__ = [
    "NumberConfig",
    "SimConfig",
    "create_sim_app",
    "create_standalone_app",
    "run_sim",
    "sim_state",
]
