"""The fidelity layer: behaviours the course needs that moto lacks, one module each.

Every module here with an `install(server)` function is loaded, in name order, by
`workshop.localaws.server.LocalAWS.start()`; see that module for the extension API.
"""
