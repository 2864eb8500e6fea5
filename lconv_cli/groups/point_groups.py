"""The groups LieConv convolves over, acting on point clouds in R^d (Finzi et al. 2020, §4 and App. C).

Each group knows how to

- **lift** a point x to ``num_samples`` group elements u with u·o = x (o the orbit's origin),
  the stabiliser part drawn from its Haar measure (made from ``lift_noise_dim`` U[0, 1) numbers per
  sample, which the caller supplies), plus an orbit id q (e.g. the radius for SO(2));
- give the **pair coordinates** log(v⁻¹u) ∈ R^{lie_dim} of two lifted elements, and the kernel input
  [log(v⁻¹u), q_u, q_v] the LieConv kernel MLP reads;
- measure the **distance** d(u, v) = α‖log(v⁻¹u)‖ + (1 − α)‖q_u − q_v‖ that neighbourhoods and
  farthest-point sampling use (some groups weigh the parts differently, as the official code does);
- draw a **random element** and act with it on points and on lifted elements (for equivariance tests).

Lifted elements are stored compactly as a (..., elem_dim) vector per element (an angle, a
flattened rotation and translation, ...), so pair coordinates are computed only for the pairs a
layer needs. Every function takes leading batch dimensions and broadcasts, and is dtype-agnostic.

Where we knowingly differ from the official sampler:

- SO(3): the stabiliser angle is uniform on [0, 2π) (the Haar measure of the SO(2) stabiliser);
  the official code draws it from a quaternion and gets a density ∝ sin²(θ/2).
- SE(2): the ``num_samples`` stabiliser angles are independent Haar draws. The official lift
  spaces them evenly (one random offset per point); with two samples every point's pair is then
  exactly π apart, on the cut locus of log where the sign of the angle is decided by rounding,
  which breaks exact equivariance.
"""

from __future__ import annotations

import math

import torch

from lconv_cli.groups.lie_groups import (
    random_rotation_3d,
    rotation_2d,
    se2_log_parts,
    se3_v_inverse_apply,
    so3_log,
    transpose_times,
    uniform_rotation_3d,
    wrap_angle,
)

EPS = 1e-12


class PointGroup:
    """Base class. Subclasses set the class attributes and implement the element-level methods."""

    name = "group"
    dim = 2  # the dimension d of the space the points live in
    lie_dim = 0  # dimension of the Lie algebra (the pair coordinates)
    orbit_dim = 0  # dimension of the orbit id q
    elem_dim = 0  # length of the stored element vector
    lift_noise_dim = 0  # U[0, 1) numbers consumed per lifted sample
    default_alpha = 0.2

    def __init__(self, alpha: float | None = None) -> None:
        self.alpha = self.default_alpha if alpha is None else float(alpha)

    def __repr__(self) -> str:
        return f"{self.name}(alpha={self.alpha:g})"

    @property
    def kernel_dim(self) -> int:
        """Width of the kernel MLP's input: [log(v⁻¹u), q_u, q_v]."""
        return self.lie_dim + 2 * self.orbit_dim

    # --- lifting -------------------------------------------------------------------------
    def lift(
        self, coords: torch.Tensor, num_samples: int, uniform: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., n, d) points → elements (..., n, num_samples, elem_dim) and orbit ids (..., n, num_samples, orbit_dim).

        ``uniform``: (..., n, num_samples, lift_noise_dim) numbers in [0, 1) for the stabiliser
        samples (None: drawn from torch's global RNG).
        """
        raise NotImplementedError

    def _uniform(self, coords: torch.Tensor, num_samples: int, uniform: torch.Tensor | None) -> torch.Tensor:
        if uniform is None:
            uniform = torch.rand(
                *coords.shape[:-1], num_samples, self.lift_noise_dim, dtype=coords.dtype, device=coords.device
            )
        return uniform.to(coords)

    # --- pairs ---------------------------------------------------------------------------
    def pair_log(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """log(v⁻¹u): (..., elem_dim) twice (broadcasting) → (..., lie_dim)."""
        raise NotImplementedError

    def kernel_input(self, u: torch.Tensor, v: torch.Tensor, qu: torch.Tensor, qv: torch.Tensor) -> torch.Tensor:
        """(..., kernel_dim): what the LieConv kernel MLP sees for the pair (u, v)."""
        a = self.pair_log(u, v)
        if not self.orbit_dim:
            return a
        shape = a.shape[:-1]
        return torch.cat([a, qu.expand(*shape, -1), qv.expand(*shape, -1)], -1)

    def distance(self, u: torch.Tensor, v: torch.Tensor, qu: torch.Tensor, qv: torch.Tensor) -> torch.Tensor:
        """(...) group distance α‖log(v⁻¹u)‖ + (1 − α)‖q_u − q_v‖."""
        d = self.alpha * self.pair_log(u, v).norm(dim=-1)
        if self.orbit_dim:
            d = d + (1 - self.alpha) * (qu - qv).norm(dim=-1)
        return d

    # --- transformations (tests and augmentation) ---------------------------------------
    def random_element(self, rng: torch.Generator | None = None, dtype=torch.float64) -> dict[str, torch.Tensor]:
        """A random group element as named parts (e.g. ``rotation``, ``translation``)."""
        raise NotImplementedError

    def act_on_points(self, g: dict[str, torch.Tensor], coords: torch.Tensor) -> torch.Tensor:
        """g·x for (..., d) points."""
        raise NotImplementedError

    def act_on_elements(self, g: dict[str, torch.Tensor], elems: torch.Tensor) -> torch.Tensor:
        """g u (left multiplication) for (..., elem_dim) lifted elements."""
        raise NotImplementedError


class Trivial(PointGroup):
    """The trivial group on R^d: no symmetry; the kernel sees both absolute positions [x_u, x_v]."""

    name = "Trivial"
    default_alpha = 0.2

    def __init__(self, dim: int = 2, alpha: float | None = None) -> None:
        super().__init__(alpha)
        self.dim = self.elem_dim = dim
        self.lie_dim = 0

    @property
    def kernel_dim(self) -> int:
        return 2 * self.dim

    def lift(self, coords, num_samples, uniform=None):
        elems = coords[..., None, :].expand(*coords.shape[:-1], num_samples, self.dim)
        return elems, coords.new_zeros(*elems.shape[:-1], 0)

    def pair_log(self, u, v):
        return (u - v)[..., :0]

    def kernel_input(self, u, v, qu, qv):
        shape = torch.broadcast_shapes(u.shape, v.shape)
        return torch.cat([u.expand(shape), v.expand(shape)], -1)

    def distance(self, u, v, qu, qv):
        return (1 - self.alpha) * (u - v).norm(dim=-1)

    def random_element(self, rng=None, dtype=torch.float64):
        return {}

    def act_on_points(self, g, coords):
        return coords

    def act_on_elements(self, g, elems):
        return elems


class Translations(PointGroup):
    """T(d): u = x, log(v⁻¹u) = x_u − x_v."""

    name = "T"

    def __init__(self, dim: int = 2, alpha: float | None = None) -> None:
        super().__init__(alpha)
        self.dim = self.lie_dim = self.elem_dim = dim
        self.name = f"T{dim}"

    def lift(self, coords, num_samples, uniform=None):
        elems = coords[..., None, :].expand(*coords.shape[:-1], num_samples, self.dim)
        return elems, coords.new_zeros(*elems.shape[:-1], 0)

    def pair_log(self, u, v):
        return u - v

    def random_element(self, rng=None, dtype=torch.float64):
        return {"translation": torch.randn(self.dim, generator=rng, dtype=dtype)}

    def act_on_points(self, g, coords):
        return coords + g["translation"].to(coords)

    def act_on_elements(self, g, elems):
        return elems + g["translation"].to(elems)


class SO2(PointGroup):
    """Rotations of the plane: u = R(θ) with θ = atan2(x₂, x₁); orbit id q = r = ‖x‖.

    Distance α|Δθ| + (1 − α)|Δr| / (r_u + r_v + 10⁻³), the official weighting.
    """

    name = "SO2"
    dim, lie_dim, orbit_dim, elem_dim = 2, 1, 1, 1

    def lift(self, coords, num_samples, uniform=None):
        theta = torch.atan2(coords[..., 1], coords[..., 0])
        r = coords.norm(dim=-1)
        shape = (*coords.shape[:-1], num_samples, 1)
        return theta[..., None, None].expand(shape), r[..., None, None].expand(shape)

    def pair_log(self, u, v):
        return wrap_angle(u - v)

    def distance(self, u, v, qu, qv):
        angle = self.pair_log(u, v)[..., 0].abs()
        radial = (qu - qv)[..., 0].abs() / (qu + qv + 1e-3)[..., 0]
        return self.alpha * angle + (1 - self.alpha) * radial

    def random_element(self, rng=None, dtype=torch.float64):
        return {"angle": 2 * math.pi * torch.rand((), generator=rng, dtype=dtype)}

    def act_on_points(self, g, coords):
        return coords @ rotation_2d(g["angle"].to(coords)).T

    def act_on_elements(self, g, elems):
        return elems + g["angle"].to(elems)


class RxSO2(PointGroup):
    """Rotations and scalings of the plane (the plane minus the origin is one orbit): u = (log r, θ).

    Distance α|Δθ| + (1 − α)|Δ log r|.
    """

    name = "RxSO2"
    dim, lie_dim, elem_dim = 2, 2, 2

    def lift(self, coords, num_samples, uniform=None):
        log_r = torch.log(coords.norm(dim=-1).clamp_min(EPS))
        theta = torch.atan2(coords[..., 1], coords[..., 0])
        elems = torch.stack([log_r, theta], -1)[..., None, :].expand(*coords.shape[:-1], num_samples, 2)
        return elems, coords.new_zeros(*elems.shape[:-1], 0)

    def pair_log(self, u, v):
        return torch.stack([u[..., 0] - v[..., 0], wrap_angle(u[..., 1] - v[..., 1])], -1)

    def distance(self, u, v, qu, qv):
        a = self.pair_log(u, v)
        return self.alpha * a[..., 1].abs() + (1 - self.alpha) * a[..., 0].abs()

    def random_element(self, rng=None, dtype=torch.float64):
        angle, log_scale = torch.rand(2, generator=rng, dtype=dtype) * torch.tensor([2 * math.pi, 1.0], dtype=dtype)
        return {"angle": angle, "log_scale": log_scale - 0.5}

    def act_on_points(self, g, coords):
        return torch.exp(g["log_scale"].to(coords)) * coords @ rotation_2d(g["angle"].to(coords)).T

    def act_on_elements(self, g, elems):
        return elems + torch.stack([g["log_scale"], g["angle"]]).to(elems)


class SE2(PointGroup):
    """Rigid motions of the plane: u = T(x) R(θ), stored as (θ, x₁, x₂).

    The stabiliser of a point is SO(2): ``num_samples`` independent angles θ ~ U[0, 2π) (see the
    module note on the official evenly spaced samples). Pair coordinates (θ, u₁, u₂) = log(v⁻¹u);
    distance α|θ| + (1 − α)‖u‖.
    """

    name = "SE2"
    dim, lie_dim, elem_dim, lift_noise_dim = 2, 3, 3, 1

    def lift(self, coords, num_samples, uniform=None):
        theta = 2 * math.pi * self._uniform(coords, num_samples, uniform)[..., 0]
        elems = torch.cat([theta[..., None], coords[..., None, :].expand(*theta.shape, 2)], -1)
        return elems, coords.new_zeros(*elems.shape[:-1], 0)

    def pair_log(self, u, v):
        c, s = torch.cos(v[..., 0]), torch.sin(v[..., 0])
        dx, dy = u[..., 1] - v[..., 1], u[..., 2] - v[..., 2]
        t = torch.stack([c * dx + s * dy, -s * dx + c * dy], -1)  # R(θ_v)ᵀ (x_u − x_v)
        return se2_log_parts(u[..., 0] - v[..., 0], t)

    def distance(self, u, v, qu, qv):
        a = self.pair_log(u, v)
        return self.alpha * a[..., 0].abs() + (1 - self.alpha) * a[..., 1:].norm(dim=-1)

    def random_element(self, rng=None, dtype=torch.float64):
        return {
            "angle": 2 * math.pi * torch.rand((), generator=rng, dtype=dtype),
            "translation": torch.randn(2, generator=rng, dtype=dtype),
        }

    def act_on_points(self, g, coords):
        return coords @ rotation_2d(g["angle"].to(coords)).T + g["translation"].to(coords)

    def act_on_elements(self, g, elems):
        x = self.act_on_points(g, elems[..., 1:])
        return torch.cat([elems[..., :1] + g["angle"].to(elems), x], -1)


def frame_from_direction(coords: torch.Tensor) -> torch.Tensor:
    """(..., 3) points → (..., 3, 3) rotations whose first column is x/‖x‖ (e_x at the origin)."""
    norm = coords.norm(dim=-1, keepdim=True)
    e_x = torch.zeros_like(coords)
    e_x[..., 0] = 1
    first = torch.where(norm > EPS, coords / norm.clamp_min(EPS), e_x)
    helper = torch.zeros_like(coords)
    use_z = first[..., 2].abs() < 0.9
    helper[..., 2] = use_z.to(coords.dtype)
    helper[..., 1] = (~use_z).to(coords.dtype)
    second = torch.linalg.cross(helper, first)
    second = second / second.norm(dim=-1, keepdim=True)
    third = torch.linalg.cross(first, second)
    return torch.stack([first, second, third], -1)


def rotation_about_x(theta: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) rotations by θ about the first axis."""
    c, s = torch.cos(theta), torch.sin(theta)
    o, i = torch.zeros_like(theta), torch.ones_like(theta)
    return torch.stack([torch.stack([i, o, o], -1), torch.stack([o, c, -s], -1), torch.stack([o, s, c], -1)], -2)


class SO3(PointGroup):
    """Rotations of space: u = F(x) R_x(θ) with F(x) e_x = x/‖x‖, θ ~ U[0, 2π) (the stabiliser's Haar measure);
    orbit id q = ‖x‖. Stored as the flattened 3×3 matrix; pair coordinates ω = log(R_vᵀ R_u)."""

    name = "SO3"
    dim, lie_dim, orbit_dim, elem_dim, lift_noise_dim = 3, 3, 1, 9, 1

    def lift(self, coords, num_samples, uniform=None):
        theta = 2 * math.pi * self._uniform(coords, num_samples, uniform)[..., 0]
        rotation = frame_from_direction(coords)[..., None, :, :] @ rotation_about_x(theta)
        r = coords.norm(dim=-1)[..., None, None].expand(*theta.shape, 1)
        return rotation.flatten(-2), r

    def pair_log(self, u, v):
        return so3_log(transpose_times(v.unflatten(-1, (3, 3)), u.unflatten(-1, (3, 3))))

    def random_element(self, rng=None, dtype=torch.float64):
        return {"rotation": random_rotation_3d((), rng, dtype)}

    def act_on_points(self, g, coords):
        return coords @ g["rotation"].to(coords).T

    def act_on_elements(self, g, elems):
        return (g["rotation"].to(elems) @ elems.unflatten(-1, (3, 3))).flatten(-2)


class SE3(PointGroup):
    """Rigid motions of space: u = T(x) R with R Haar-uniform on SO(3) (the stabiliser), stored as
    (R flattened, x). Pair coordinates (ω, u) = log(v⁻¹u); distance α‖ω‖ + (1 − α)‖u‖."""

    name = "SE3"
    dim, lie_dim, elem_dim, lift_noise_dim = 3, 6, 12, 3

    def lift(self, coords, num_samples, uniform=None):
        rotation = uniform_rotation_3d(self._uniform(coords, num_samples, uniform))
        x = coords[..., None, :].expand(*rotation.shape[:-2], 3)
        elems = torch.cat([rotation.flatten(-2), x], -1)
        return elems, coords.new_zeros(*elems.shape[:-1], 0)

    def pair_log(self, u, v):
        ru, rv = u[..., :9].unflatten(-1, (3, 3)), v[..., :9].unflatten(-1, (3, 3))
        omega = so3_log(transpose_times(rv, ru))
        t = transpose_times(rv, (u[..., 9:] - v[..., 9:])[..., None])[..., 0]  # R_vᵀ (x_u − x_v)
        return torch.cat([omega, se3_v_inverse_apply(omega, t)], -1)

    def distance(self, u, v, qu, qv):
        a = self.pair_log(u, v)
        return self.alpha * a[..., :3].norm(dim=-1) + (1 - self.alpha) * a[..., 3:].norm(dim=-1)

    def random_element(self, rng=None, dtype=torch.float64):
        return {
            "rotation": random_rotation_3d((), rng, dtype),
            "translation": torch.randn(3, generator=rng, dtype=dtype),
        }

    def act_on_points(self, g, coords):
        return coords @ g["rotation"].to(coords).T + g["translation"].to(coords)

    def act_on_elements(self, g, elems):
        rotation = (g["rotation"].to(elems) @ elems[..., :9].unflatten(-1, (3, 3))).flatten(-2)
        return torch.cat([rotation, self.act_on_points(g, elems[..., 9:])], -1)


GROUP_NAMES = ("Trivial", "T", "SO2", "RxSO2", "SE2", "SO3", "SE3")


def make_group(name: str, dim: int, alpha: float | None = None) -> PointGroup:
    """The group called ``name`` (case-insensitive: Trivial, T (or T2/T3), SO2, RxSO2, SE2, SO3, SE3) on R^dim."""
    from lconv_cli.errors import UserError

    key = name.lower()
    if key in ("trivial", f"trivial{dim}"):
        return Trivial(dim, alpha)
    if key in ("t", f"t{dim}"):
        return Translations(dim, alpha)
    groups_2d = {"so2": SO2, "rxso2": RxSO2, "se2": SE2}
    groups_3d = {"so3": SO3, "se3": SE3}
    table = groups_2d if dim == 2 else groups_3d if dim == 3 else {}
    if key in table:
        return table[key](alpha)
    choices = ["Trivial", f"T{dim}", *(c.upper().replace("RXSO2", "RxSO2") for c in table)]
    raise UserError(f"group={name} is not a group on R^{dim}; choose one of {', '.join(choices)}")
