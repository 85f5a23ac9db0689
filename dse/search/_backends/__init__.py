"""Back ends: what proposes the next genomes. One registry turns a config name into one."""

from dse.search._backends._base import Backend, DrivingBackend, Proposal, Result, Session
from dse.search._backends._factory import BACKENDS, make_backend, register_backend

__all__ = [
    "BACKENDS",
    "Backend",
    "DrivingBackend",
    "Proposal",
    "Result",
    "Session",
    "make_backend",
    "register_backend",
]
