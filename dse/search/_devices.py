"""Which torch device each process fine-tunes on: ``--device`` for a run, ``--devices``
for its worker processes (one device per worker, round robin)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from dse.errors import ConfigError

__all__ = ["check_device", "device_for_worker", "parse_devices"]

_FORM = re.compile(r"auto|cpu|cuda(:\d+)?")


def parse_devices(
    text: str | Sequence[str] | None, *, where: str = "--devices"
) -> list[str] | None:
    """``"cuda:0,cuda:1"`` (or a list) as a list of device names; ``None`` for none."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",")] if isinstance(text, str) else list(text)
    bad = [t for t in items if not _FORM.fullmatch(t)]
    if not items or bad:
        raise ConfigError(
            f"{where}: expected devices such as cuda:0,cuda:1 (each auto, cpu, cuda or "
            f"cuda:N), got {text!r}"
        )
    return items


def device_for_worker(devices: Sequence[str] | None, index: int) -> str | None:
    """The device of worker ``index``: ``devices`` taken round robin (``None``: the
    study's ``device:``)."""
    if not devices:
        return None
    return devices[index % len(devices)]


def check_device(spec: str, *, where: str = "device") -> None:
    """Fail now, in one line, when ``spec`` names a CUDA device this machine lacks
    (imports torch; called only for studies that fine-tune)."""
    if spec in ("auto", "cpu"):
        return
    from dse.nn import resolve_device

    resolve_device(spec, where=where)
