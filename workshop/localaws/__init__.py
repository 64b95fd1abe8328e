"""The local AWS: moto's server plus the kit's fidelity layer, in a process the kit owns.

- `server.LocalAWS` serves moto's API on loopback and lets extensions (`ext/`) intercept
  requests, react after them, and run background workers (Lambda, stream pollers, alarms).
- `discover` finds the running one (`workshop up`) or starts an embedded one.
"""
