"""A Partner Center stand-in: a real HTTP server on loopback answering as the documented API does.

Billing profiles (GET/PUT with etags), address validation, country rules, an OAuth token
endpoint, throttling and seeded faults. Written from Microsoft's API documentation and public
captures of its answers, not from pcbatch's client: it decides with its own code and data
(market_rules.py and market_rules.json for the country rules, config.py for customer ids and
loopback hosts), so a bug in pcbatch's rules cannot pass its tests. Of `batch` it imports only
ConfigError (batch.core.errors) and the atomic file writer (batch.durable.files). See
README.md, "Rehearse against the simulator".

    async with run_simulator(SimConfig(customers=20, seed=1)) as sim:
        ...  # sim.base_url, sim.token, sim.store, sim.log
"""

from batch.simulator.config import LoggedRequest, SimConfig
from batch.simulator.server import Simulator, SimulatorThread, run_simulator
from batch.simulator.store import Store

__all__ = ["LoggedRequest", "SimConfig", "Simulator", "SimulatorThread", "Store", "run_simulator"]
