"""A Partner Center stand-in: a real HTTP server on loopback answering as the documented API does.

Billing profiles (GET/PUT with etags), address validation, an OAuth token endpoint, throttling
and seeded faults. Written from Microsoft's API documentation, not from pcbatch's client: of
`batch` it imports only ConfigError, the GUID pattern (batch.core.ids), the loopback check and
the atomic file writer, never the client, plan or validation. See README.md, "Rehearse against
the simulator".

    async with run_simulator(SimConfig(customers=20, seed=1)) as sim:
        ...  # sim.base_url, sim.token, sim.store, sim.log
"""

from batch.simulator.config import LoggedRequest, SimConfig
from batch.simulator.server import Simulator, SimulatorThread, run_simulator
from batch.simulator.store import Store

__all__ = ["LoggedRequest", "SimConfig", "Simulator", "SimulatorThread", "Store", "run_simulator"]
