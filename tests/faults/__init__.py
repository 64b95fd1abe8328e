"""Fault suite: the kit under the failures a learner's machine produces (crashes, kills, stalls, proxies)."""
