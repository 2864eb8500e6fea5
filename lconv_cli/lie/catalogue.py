"""A catalogue of real simple Lie algebras by invariants, and names for direct sums.

A real simple Lie algebra is recognised by its complex type (A_r, B_r, C_r, D_r, G_2, F_4, E_r),
its Killing-form signature (p, n) (n = dim of a maximal compact subalgebra k, p = dim − n) and
whether it is of complex type (a complex simple algebra seen as a real one, e.g. sl(2, C) ≅ so(3,1)).
Entries are generated from the families' formulas; isomorphic members of different families land on
the same key and are named together (so(3) ≅ su(2); sl(2,R) ≅ so(2,1) ≅ su(1,1) ≅ sp(2,R)).
so(p,q) ≅ so(q,p) is printed with p ≥ q. The tests check every entry against an explicit basis
(:mod:`lconv_cli.lie.bases`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache

EXCEPTIONAL = {(14, 2): "G", (52, 4): "F", (78, 6): "E", (133, 7): "E", (248, 8): "E"}


@dataclass(frozen=True)
class SimpleType:
    """Invariants of a real simple Lie algebra: complex type ``letter`` + ``rank`` (of the complex
    simple algebra it is a real form of, or that it is, when ``complex_type``), and the real Killing
    signature (positive, negative)."""

    letter: str
    rank: int
    signature: tuple[int, int]
    complex_type: bool = False

    @classmethod
    def from_invariants(
        cls, dim: int, rank: int, long_roots: int, signature: tuple[int, int], complex_type: bool
    ) -> SimpleType:
        """``dim``, ``rank`` and ``long_roots`` of the complex simple algebra (for a complex-type
        real algebra: half the real dimension and rank)."""
        letter = "?"
        if rank >= 1 and dim == rank * (rank + 2):
            letter = "A"
        elif rank >= 2 and dim == rank * (2 * rank + 1):
            letter = "B" if rank == 2 or long_roots == 2 * rank * (rank - 1) else "C"
        elif rank >= 4 and dim == rank * (2 * rank - 1):
            letter = "D"
        elif (dim, rank) in EXCEPTIONAL:
            letter = EXCEPTIONAL[(dim, rank)]
        return cls(letter, rank, (int(signature[0]), int(signature[1])), bool(complex_type))

    @property
    def compact(self) -> bool:
        return self.signature[0] == 0 and not self.complex_type

    @property
    def label(self) -> str:
        return name_of_simple(self)


def _canonical(letter: str, rank: int) -> tuple[str, int]:
    """Low-rank coincidences: B1 = C1 = A1, C2 = B2, D3 = A3."""
    if letter in "BC" and rank == 1:
        return "A", 1
    if letter == "C" and rank == 2:
        return "B", 2
    if letter == "D" and rank == 3:
        return "A", 3
    return letter, rank


def _key(letter: str, rank: int, signature: tuple[int, int], complex_type: bool) -> tuple:
    return (*_canonical(letter, rank), signature, complex_type)


def _so(p: int, q: int) -> tuple[str, tuple] | None:
    n = p + q
    if n < 3 or (n == 4 and q in (0, 2)):  # so(4), so(2,2): not simple
        return None
    name = f"so({p})" if q == 0 else f"so({p},{q})"
    compact_dim = p * (p - 1) // 2 + q * (q - 1) // 2
    if n == 4:  # so(3,1) ≅ sl(2, C): complex type A1
        return name, _key("A", 1, (p * q, compact_dim), True)
    letter, rank = ("B", (n - 1) // 2) if n % 2 else ("D", n // 2)
    return name, _key(letter, rank, (p * q, compact_dim), False)


def _families(max_dim: int):
    """(name, key) of every catalogued algebra of real dimension ≤ max_dim."""
    for n in range(3, 40):
        for q in range(0, n // 2 + 1):
            if n * (n - 1) // 2 <= max_dim and (entry := _so(n - q, q)):
                yield entry
    for n in range(2, 40):
        dim, compact_dim = n * n - 1, n * (n - 1) // 2
        if dim <= max_dim:
            yield f"sl({n},R)", _key("A", n - 1, (dim - compact_dim, compact_dim), False)
        for q in range(0, n // 2 + 1):
            p = n - q
            if dim <= max_dim:
                name = f"su({p})" if q == 0 else f"su({p},{q})"
                yield name, _key("A", n - 1, (2 * p * q, p * p + q * q - 1), False)
        if 2 * dim <= max_dim:
            yield f"sl({n},C)", _key("A", n - 1, (dim, dim), True)
    for n in range(1, 40):
        if n * (2 * n + 1) <= max_dim:
            yield f"sp({2 * n},R)", _key("C", n, (n * n + n, n * n), False)


FAMILY_ORDER = ("sl", "su", "so", "sp")  # the first name is the one used inside direct sums


@cache
def catalogue(max_dim: int = 120) -> dict[tuple, str]:
    """key → name (isomorphic family members joined by ≅), for real dimensions ≤ max_dim."""
    names: dict[tuple, list[str]] = defaultdict(list)
    for name, key in _families(max_dim):
        if name not in names[key]:
            names[key].append(name)
    return {
        key: " ≅ ".join(sorted(group, key=lambda s: (FAMILY_ORDER.index(s[:2]), len(s), s)))
        for key, group in names.items()
    }


def name_of_simple(t: SimpleType) -> str:
    """The catalogue name, else a description by type and signature."""
    key = _key(t.letter, t.rank, t.signature, t.complex_type)
    found = catalogue().get(key)
    if found:
        return found
    letter, rank = _canonical(t.letter, t.rank)
    kind = f"{letter}{rank}(C) as a real algebra" if t.complex_type else f"real form of {letter}{rank}"
    return f"{kind}, Killing signature ({t.signature[0]}, {t.signature[1]})"


def _sum_aliases() -> dict[tuple, str]:
    compact_a1 = _key("A", 1, (0, 3), False)
    split_a1 = _key("A", 1, (2, 1), False)
    return {(compact_a1, compact_a1): "so(4)", (split_a1, split_a1): "so(2,2)"}


def primary_name(t: SimpleType) -> str:
    """The first of the isomorphic names (used inside direct sums)."""
    return name_of_simple(t).split(" ≅ ")[0]


def complex_dimension(letter: str, rank: int) -> int:
    r = rank
    return {"A": r * (r + 2), "B": r * (2 * r + 1), "C": r * (2 * r + 1), "D": r * (2 * r - 1)}.get(
        letter, {"G": 14, "F": 52}.get(letter, {6: 78, 7: 133, 8: 248}.get(r, 0))
    )


def name_of_sum(simple: list[SimpleType], abelian_compact: int, abelian_noncompact: int) -> str:
    """Name of a reductive algebra: its simple summands (largest first) ⊕ u(1)^a ⊕ R^b, with the
    isomorphisms so(4) ≅ su(2) ⊕ su(2), so(2,2) ≅ sl(2,R) ⊕ sl(2,R), u(n) ≅ su(n) ⊕ u(1),
    gl(n,R) ≅ sl(n,R) ⊕ R, so(2) ≅ u(1). A single simple summand keeps all its names."""
    order = sorted(
        simple, key=lambda t: (-complex_dimension(t.letter, t.rank) * (2 if t.complex_type else 1), primary_name(t))
    )
    if len(order) == 1 and not (abelian_compact or abelian_noncompact):
        return name_of_simple(order[0])
    words = [primary_name(t) for t in order]
    if abelian_compact:
        words.append("u(1)" if abelian_compact == 1 else f"u(1)^{abelian_compact}")
    if abelian_noncompact:
        words.append("R" if abelian_noncompact == 1 else f"R^{abelian_noncompact}")
    if not words:
        return "0"
    keys = tuple(sorted(_key(t.letter, t.rank, t.signature, t.complex_type) for t in simple))
    alias = _sum_aliases().get(keys) if not (abelian_compact or abelian_noncompact) else None
    if len(simple) == 1 and abelian_compact + abelian_noncompact == 1:
        wanted = "su(" if abelian_compact else "sl("
        member = next((m for m in name_of_simple(simple[0]).split(" ≅ ") if m.startswith(wanted)), "")
        if member and (member.endswith(",R)") or "," not in member):
            n = member[3:].split(",")[0].rstrip(")")
            alias = f"u({n})" if abelian_compact else f"gl({n},R)"
    if not simple and abelian_compact == 1 and not abelian_noncompact:
        alias = "so(2)"
    name = " ⊕ ".join(words)
    return f"{alias} ≅ {name}" if alias else name
