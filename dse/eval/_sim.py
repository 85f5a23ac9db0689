"""Bit-parallel simulation of a :class:`~dse.netlist.Netlist` with numpy.

64 input vectors ride in one ``uint64`` word: lane ``l`` of word ``w`` is vector
``64*w + l``. One numpy operation per gate evaluates every vector at once, so an
exhaustive 8×8 table (65,536 vectors, 1,024 words) costs one pass over the gates.
"""

from __future__ import annotations

import functools

import numpy as np

from dse.errors import ConfigError
from dse.eval import _kernels
from dse.netlist import Netlist, Op, gate_op

__all__ = [
    "MAX_EXHAUSTIVE_BITS",
    "exhaustive_input_words",
    "pack_operands",
    "read_outputs",
    "simulate",
    "simulate_reference",
    "toggle_statistics",
    "toggle_statistics_reference",
]

#: Input spaces up to 2**24 operand pairs are simulated exhaustively.
MAX_EXHAUSTIVE_BITS = 24

_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
# Lane patterns for vector-index bits 0..5 inside one 64-lane word.
_LANE_PATTERNS = [
    np.uint64(sum(1 << lane for lane in range(64) if (lane >> k) & 1)) for k in range(6)
]


@functools.lru_cache(maxsize=16)
def exhaustive_input_words(width_a: int, width_b: int) -> np.ndarray:
    """Input words for every ``(a, b)`` pair, vector index ``a * 2**width_b + b``.

    Returns an array of shape ``(width_a + width_b, n_words)``: rows ``0..width_a-1``
    are the bits of ``a`` (LSB first), then the bits of ``b``.
    """
    total = width_a + width_b
    if total > MAX_EXHAUSTIVE_BITS:
        raise ConfigError(
            f"exhaustive simulation of {width_a}x{width_b} needs 2**{total} vectors; "
            f"at most 2**{MAX_EXHAUSTIVE_BITS} are simulated exhaustively"
        )
    n_vec = 1 << total
    n_words = max(1, n_vec // 64)
    words = np.empty((total, n_words), dtype=np.uint64)
    word_index = np.arange(n_words, dtype=np.uint64)
    lane_mask = _ALL if n_vec >= 64 else np.uint64((1 << n_vec) - 1)
    for row in range(total):
        # vector-index bit position of this input bit
        pos = (width_b + row) if row < width_a else (row - width_a)
        if pos < 6:
            words[row] = _LANE_PATTERNS[pos] & lane_mask
        else:
            bit = (word_index >> np.uint64(pos - 6)) & np.uint64(1)
            words[row] = np.where(bit == 1, _ALL, np.uint64(0))
    words.setflags(write=False)  # cached and shared
    return words


def pack_operands(a: np.ndarray, b: np.ndarray, width_a: int, width_b: int) -> np.ndarray:
    """Pack operand vectors (raw bit patterns) into input words, LSB-first rows a then b.

    The number of vectors is padded to a multiple of 64 by repeating the last pair.
    """
    a = np.asarray(a, dtype=np.uint64)
    b = np.asarray(b, dtype=np.uint64)
    n = a.shape[0]
    pad = (-n) % 64
    if pad:
        a = np.concatenate([a, np.repeat(a[-1:], pad)])
        b = np.concatenate([b, np.repeat(b[-1:], pad)])
    bits = []
    for k in range(width_a):
        bits.append(((a >> np.uint64(k)) & np.uint64(1)).astype(np.uint8))
    for k in range(width_b):
        bits.append(((b >> np.uint64(k)) & np.uint64(1)).astype(np.uint8))
    plane = np.stack(bits)  # (bits, n)
    packed = np.packbits(plane, axis=1, bitorder="little")  # (bits, n/8) uint8
    return np.ascontiguousarray(packed).view(np.uint64)


def simulate(netlist: Netlist, input_words: np.ndarray) -> np.ndarray:
    """Values of every net for packed input vectors.

    Args:
        input_words: ``(netlist.n_inputs, n_words)`` ``uint64``.

    Returns:
        ``(netlist.n_nets, n_words)`` ``uint64``: row ``n`` holds net ``n``.

    A netlist with a gate added by :func:`~dse.netlist.register_gate_op` is simulated
    by :func:`simulate_reference`, which evaluates the gate's registered function.
    """
    # the compiled kernel knows the built-in gates; a registered one runs in numpy
    if _kernels.HAVE_NUMBA and (netlist.n_gates == 0 or int(netlist.ops.max()) < len(Op)):
        n_in = netlist.n_inputs
        if input_words.shape[0] != n_in:
            raise ConfigError(
                f"netlist {netlist.name!r} has {n_in} input bits, got {input_words.shape[0]} rows"
            )
        vals = np.empty((n_in + netlist.n_gates, input_words.shape[1]), dtype=np.uint64)
        vals[:n_in] = input_words
        _kernels.sim_kernel(netlist.ops, netlist.fanin, n_in, vals)
        return vals
    return simulate_reference(netlist, input_words)


def simulate_reference(netlist: Netlist, input_words: np.ndarray) -> np.ndarray:
    """:func:`simulate` in plain numpy, one vectorised operation per gate (the reference)."""
    n_in = netlist.n_inputs
    if input_words.shape[0] != n_in:
        raise ConfigError(
            f"netlist {netlist.name!r} has {n_in} input bits, got {input_words.shape[0]} rows"
        )
    n_words = input_words.shape[1]
    vals = np.empty((n_in + netlist.n_gates, n_words), dtype=np.uint64)
    vals[:n_in] = input_words
    tmp = np.empty(n_words, dtype=np.uint64)
    ops = netlist.ops.tolist()
    fanin = netlist.fanin.tolist()
    band, bor, bxor, binv = np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.invert
    for g, op in enumerate(ops):
        out = vals[n_in + g]
        f = fanin[g]
        if op == 4:  # AND
            band(vals[f[0]], vals[f[1]], out=out)
        elif op == 6:  # XOR
            bxor(vals[f[0]], vals[f[1]], out=out)
        elif op == 5:  # OR
            bor(vals[f[0]], vals[f[1]], out=out)
        elif op == 3:  # INV
            binv(vals[f[0]], out=out)
        elif op == 7:  # NAND
            band(vals[f[0]], vals[f[1]], out=out)
            binv(out, out=out)
        elif op == 8:  # NOR
            bor(vals[f[0]], vals[f[1]], out=out)
            binv(out, out=out)
        elif op == 9:  # XNOR
            bxor(vals[f[0]], vals[f[1]], out=out)
            binv(out, out=out)
        elif op == 14 or op == 15:  # XOR3 / XNOR3
            bxor(vals[f[0]], vals[f[1]], out=out)
            bxor(out, vals[f[2]], out=out)
            if op == 15:
                binv(out, out=out)
        elif op == 16:  # MAJ = (a & b) | (c & (a | b))
            a, b, c = vals[f[0]], vals[f[1]], vals[f[2]]
            bor(a, b, out=tmp)
            band(tmp, c, out=tmp)
            band(a, b, out=out)
            bor(out, tmp, out=out)
        elif op == 17:  # MUX(a, b, s) = a ^ ((a ^ b) & s)
            a, b, s = vals[f[0]], vals[f[1]], vals[f[2]]
            bxor(a, b, out=out)
            band(out, s, out=out)
            bxor(out, a, out=out)
        elif op == 10 or op == 12:  # AND3 / NAND3
            band(vals[f[0]], vals[f[1]], out=out)
            band(out, vals[f[2]], out=out)
            if op == 12:
                binv(out, out=out)
        elif op == 11 or op == 13:  # OR3 / NOR3
            bor(vals[f[0]], vals[f[1]], out=out)
            bor(out, vals[f[2]], out=out)
            if op == 13:
                binv(out, out=out)
        elif op == 18:  # AOI21
            band(vals[f[0]], vals[f[1]], out=out)
            bor(out, vals[f[2]], out=out)
            binv(out, out=out)
        elif op == 19:  # OAI21
            bor(vals[f[0]], vals[f[1]], out=out)
            band(out, vals[f[2]], out=out)
            binv(out, out=out)
        elif op == 20:  # AOI22
            band(vals[f[0]], vals[f[1]], out=out)
            band(vals[f[2]], vals[f[3]], out=tmp)
            bor(out, tmp, out=out)
            binv(out, out=out)
        elif op == 21:  # OAI22
            bor(vals[f[0]], vals[f[1]], out=out)
            bor(vals[f[2]], vals[f[3]], out=tmp)
            band(out, tmp, out=out)
            binv(out, out=out)
        elif op == 0:
            out.fill(0)
        elif op == 1:
            out.fill(_ALL)
        elif op == 2:
            out[:] = vals[f[0]]
        else:  # a registered gate: its bitwise function on whole words
            spec = gate_op(op)
            out[:] = spec.function(*(vals[f[k]] for k in range(spec.arity)))
    return vals


def read_outputs(
    netlist: Netlist, vals: np.ndarray, n_vectors: int, *, signed: bool, port: int = 0
) -> np.ndarray:
    """The integer value of output port ``port`` for each of the first ``n_vectors`` vectors."""
    _, nets = netlist.output_ports[port]
    width = len(nets)
    if width > 62:
        raise ConfigError(f"output port of {width} bits is wider than 62 bits")
    if _kernels.HAVE_NUMBA:
        return _kernels.read_kernel(vals, np.asarray(nets, dtype=np.int64), signed, n_vectors)
    rows = vals[list(nets)]  # (width, n_words)
    bits = np.unpackbits(rows.view(np.uint8), axis=1, bitorder="little")[:, :n_vectors]
    # One shift-or per output bit beats a matrix product or a bit-transpose here.
    dtype = np.int32 if width <= 30 else np.int64
    acc: np.ndarray = np.zeros(bits.shape[1], dtype=dtype)
    for k in range(width):
        acc |= bits[k].astype(dtype) << k
    value: np.ndarray = acc.astype(np.int64)
    if signed and width > 0:
        value = np.where(value >= (1 << (width - 1)), value - (1 << width), value)
    return value


def toggle_statistics(vals: np.ndarray, n_vectors: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-net toggle rate (toggles per vector) and probability of being 1.

    ``vals`` holds a *sequence* of vectors (an operand trace applied one per clock),
    so a toggle is a change between consecutive lanes (across word boundaries too).
    """
    full = n_vectors // 64 * 64 == n_vectors
    if not full:
        raise ConfigError("toggle statistics need a trace whose length is a multiple of 64")
    if _kernels.HAVE_NUMBA:
        # the same integer counts in one pass, without the shifted copies
        ones, toggles = _kernels.toggle_kernel(np.ascontiguousarray(vals))
        return toggles / max(1, n_vectors - 1), ones / n_vectors
    return toggle_statistics_reference(vals, n_vectors)


def toggle_statistics_reference(vals: np.ndarray, n_vectors: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`toggle_statistics` in plain numpy (the reference)."""
    n_words = vals.shape[1]
    ones = np.bitwise_count(vals).sum(axis=1, dtype=np.int64)
    prev = np.empty_like(vals)
    np.left_shift(vals, np.uint64(1), out=prev)
    if n_words > 1:
        prev[:, 1:] |= vals[:, :-1] >> np.uint64(63)
    diff = prev ^ vals
    diff[:, 0] &= ~np.uint64(1)  # lane 0 of the trace has no predecessor
    toggles = np.bitwise_count(diff).sum(axis=1, dtype=np.int64)
    return toggles / max(1, n_vectors - 1), ones / n_vectors
