"""Closed-form exp and log for SO(2), SE(2), SO(3) and SE(3), with small-angle branches.

Pure functions on batches: leading dimensions are free, dtype follows the input (tests run in
float64). Lie-algebra coordinates:

- so(3): ω ∈ R³ with hat(ω) = [ω]×, so exp(ω) rotates by |ω| about ω/|ω| (Rodrigues).
- se(2): (θ, u₁, u₂); exp gives the rotation R(θ) and translation V(θ) u.
- se(3): (ω, u) ∈ R⁶; exp gives exp(ω) and translation V(ω) u.

The series branches take over below ``SMALL_ANGLE`` (radians), where the closed forms lose digits
to cancellation; each branch keeps terms to θ⁴ or better, so both sides agree to ~1e-12 at the switch.
SO(3) log also has a branch near θ = π, where θ / sin θ blows up: the axis is then read from the
symmetric part of R.
"""

from __future__ import annotations

import math

import torch

SMALL_ANGLE = 0.07
NEAR_PI = 1e-2


def wrap_angle(theta: torch.Tensor) -> torch.Tensor:
    """θ mapped into (−π, π]."""
    return torch.remainder(theta + math.pi, 2 * math.pi) - math.pi


def rotation_2d(theta: torch.Tensor) -> torch.Tensor:
    """(..., 2, 2) rotation matrices R(θ)."""
    c, s = torch.cos(theta), torch.sin(theta)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


def _series(theta: torch.Tensor, closed, coefficients: tuple[float, ...]) -> torch.Tensor:
    """``closed(θ)`` for |θ| ≥ SMALL_ANGLE, else Σ_k c_k θ^{2k}; the unused side is evaluated at a safe θ."""
    small = theta.abs() < SMALL_ANGLE
    safe = torch.where(small, torch.full_like(theta, 1.0), theta)
    t2 = theta * theta
    series = sum(c * t2**k for k, c in enumerate(coefficients))
    return torch.where(small, series, closed(safe))


def sinc(theta: torch.Tensor) -> torch.Tensor:
    """sin θ / θ."""
    return _series(theta, lambda t: torch.sin(t) / t, (1.0, -1 / 6, 1 / 120, -1 / 5040))


def cosc(theta: torch.Tensor) -> torch.Tensor:
    """(1 − cos θ) / θ²."""
    return _series(theta, lambda t: (1 - torch.cos(t)) / t**2, (0.5, -1 / 24, 1 / 720, -1 / 40320))


def sincc(theta: torch.Tensor) -> torch.Tensor:
    """(θ − sin θ) / θ³."""
    return _series(theta, lambda t: (t - torch.sin(t)) / t**3, (1 / 6, -1 / 120, 1 / 5040, -1 / 362880))


def half_cot(theta: torch.Tensor) -> torch.Tensor:
    """(θ/2) cot(θ/2), the diagonal of the SE(2) V⁻¹."""
    return _series(theta, lambda t: (t / 2) / torch.tan(t / 2), (1.0, -1 / 12, -1 / 720, -1 / 30240))


def coscc(theta: torch.Tensor) -> torch.Tensor:
    """(1 − θ sin θ / (2(1 − cos θ))) / θ², the K² coefficient of the SE(3) V⁻¹."""
    closed = lambda t: (1 - t * torch.sin(t) / (2 * (1 - torch.cos(t)))) / t**2  # noqa: E731
    return _series(theta, closed, (1 / 12, 1 / 720, 1 / 30240, 1 / 1209600))


def hat(omega: torch.Tensor) -> torch.Tensor:
    """(..., 3) → (..., 3, 3) skew matrices with hat(ω) v = ω × v."""
    x, y, z = omega.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([torch.stack([o, -z, y], -1), torch.stack([z, o, -x], -1), torch.stack([-y, x, o], -1)], -2)


def vee(skew: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) → (..., 3): the inverse of ``hat`` on the antisymmetric part."""
    return 0.5 * torch.stack(
        [skew[..., 2, 1] - skew[..., 1, 2], skew[..., 0, 2] - skew[..., 2, 0], skew[..., 1, 0] - skew[..., 0, 1]], -1
    )


def so3_exp(omega: torch.Tensor) -> torch.Tensor:
    """(..., 3) axis-angle → (..., 3, 3) rotation: I + sinc θ K + cosc θ K² (Rodrigues)."""
    theta = omega.norm(dim=-1)[..., None, None]
    k = hat(omega)
    eye = torch.eye(3, dtype=omega.dtype, device=omega.device)
    return eye + sinc(theta) * k + cosc(theta) * (k @ k)


def so3_log(rotation: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) rotation → (..., 3) axis-angle ω with |ω| ∈ [0, π].

    θ = atan2(|vee(R − Rᵀ)|, (tr R − 1)/2) is accurate at both ends. Away from π, ω = vee(R − Rᵀ)/sinc θ.
    Near π the antisymmetric part vanishes; then ω = θ n with n n ᵀ = (R + Rᵀ − 2 cos θ I) / (2(1 − cos θ)),
    n read from its largest column and signed by vee(R − Rᵀ).
    """
    if rotation.dim() == 2:
        return so3_log(rotation[None])[0]
    axis_sin = vee(rotation)  # sin θ · n
    cos = 0.5 * (rotation.diagonal(dim1=-2, dim2=-1).sum(-1) - 1)
    theta = torch.atan2(axis_sin.norm(dim=-1), cos)
    omega = axis_sin / sinc(theta)[..., None]
    near_pi = (math.pi - theta) < NEAR_PI
    if bool(near_pi.any()):
        omega = omega.index_put(
            (near_pi,), _so3_log_near_pi(rotation[near_pi], cos[near_pi], theta[near_pi], axis_sin[near_pi])
        )
    return omega


def _so3_log_near_pi(
    rotation: torch.Tensor, cos: torch.Tensor, theta: torch.Tensor, axis_sin: torch.Tensor
) -> torch.Tensor:
    """(K, 3, 3) rotations with θ near π → (K, 3) axis-angle, the axis from n nᵀ = (R + Rᵀ − 2 cos θ I)/(2(1 − cos θ))."""
    eye = torch.eye(3, dtype=rotation.dtype, device=rotation.device)
    outer = (rotation + rotation.transpose(-1, -2) - 2 * cos[..., None, None] * eye) / (2 * (1 - cos).clamp_min(1e-12))[
        ..., None, None
    ]
    column = outer.diagonal(dim1=-2, dim2=-1).argmax(-1)
    n = torch.take_along_dim(outer, column[..., None, None], dim=-1)[..., 0]
    n = n / n.norm(dim=-1, keepdim=True).clamp_min(1e-30)
    sign = torch.where((n * axis_sin).sum(-1) < 0, -1.0, 1.0).to(rotation.dtype)
    return sign[..., None] * theta[..., None] * n


def se2_exp(xi: torch.Tensor) -> torch.Tensor:
    """(..., 3) coordinates (θ, u₁, u₂) → (..., 3, 3) homogeneous matrices [R(θ), V u; 0, 1]."""
    theta, u = xi[..., 0], xi[..., 1:]
    a, b = sinc(theta), theta * cosc(theta)
    t = torch.stack([a * u[..., 0] - b * u[..., 1], b * u[..., 0] + a * u[..., 1]], -1)
    return homogeneous(rotation_2d(theta), t)


def se2_log_parts(theta: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(θ, t) of an SE(2) element (θ any real, t (..., 2)) → (..., 3) coordinates with θ in (−π, π].

    V⁻¹ = (θ/2) cot(θ/2) I − (θ/2) J, J the 90° rotation.
    """
    theta = wrap_angle(theta)
    a, b = half_cot(theta), theta / 2
    u = torch.stack([a * t[..., 0] + b * t[..., 1], -b * t[..., 0] + a * t[..., 1]], -1)
    return torch.cat([theta[..., None], u], -1)


def se2_log(matrix: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) homogeneous SE(2) matrices → (..., 3) coordinates (θ, u₁, u₂)."""
    theta = torch.atan2(matrix[..., 1, 0], matrix[..., 0, 0])
    return se2_log_parts(theta, matrix[..., :2, 2])


def se3_v_inverse(omega: torch.Tensor) -> torch.Tensor:
    """(..., 3) → (..., 3, 3): V(ω)⁻¹ = I − K/2 + coscc θ K², with V the SE(3) exp's translation map."""
    theta = omega.norm(dim=-1)[..., None, None]
    k = hat(omega)
    eye = torch.eye(3, dtype=omega.dtype, device=omega.device)
    return eye - 0.5 * k + coscc(theta) * (k @ k)


def se3_v_inverse_apply(omega: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """V(ω)⁻¹ t = t − ω×t/2 + coscc θ · ω×(ω×t) for (..., 3) ω and t, without forming matrices."""
    theta = omega.norm(dim=-1, keepdim=True)
    wt = torch.linalg.cross(omega, t, dim=-1)
    return t - 0.5 * wt + coscc(theta) * torch.linalg.cross(omega, wt, dim=-1)


def transpose_times(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """aᵀ b for (..., 3, 3) a and (..., 3, k) b, as broadcast products (batched 3 × 3 matmuls are slow)."""
    return (a[..., :, :, None] * b[..., :, None, :]).sum(-3)


def se3_exp(xi: torch.Tensor) -> torch.Tensor:
    """(..., 6) coordinates (ω, u) → (..., 4, 4) homogeneous matrices [exp ω, V u; 0, 1], V = I + cosc K + sincc K²."""
    omega, u = xi[..., :3], xi[..., 3:]
    theta = omega.norm(dim=-1)[..., None, None]
    k = hat(omega)
    eye = torch.eye(3, dtype=xi.dtype, device=xi.device)
    v = eye + cosc(theta) * k + sincc(theta) * (k @ k)
    return homogeneous(so3_exp(omega), (v @ u[..., None])[..., 0])


def se3_log(matrix: torch.Tensor) -> torch.Tensor:
    """(..., 4, 4) homogeneous SE(3) matrices → (..., 6) coordinates (ω, u)."""
    omega = so3_log(matrix[..., :3, :3])
    u = (se3_v_inverse(omega) @ matrix[..., :3, 3:])[..., 0]
    return torch.cat([omega, u], -1)


def homogeneous(rotation: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
    """(..., d, d) and (..., d) → (..., d+1, d+1) [[R, t], [0, 1]]."""
    d = rotation.shape[-1]
    top = torch.cat([rotation, translation[..., None]], -1)
    bottom = torch.zeros(*rotation.shape[:-2], 1, d + 1, dtype=rotation.dtype, device=rotation.device)
    bottom[..., 0, d] = 1
    return torch.cat([top, bottom], -2)


def random_rotation_3d(
    shape: tuple[int, ...], rng: torch.Generator | None = None, dtype=torch.float32, device=None
) -> torch.Tensor:
    """(*shape, 3, 3) rotations drawn from the Haar measure on SO(3) (normalised Gaussian quaternions)."""
    q = torch.randn(*shape, 4, generator=rng, dtype=dtype, device=device)
    return quaternion_to_matrix(q / q.norm(dim=-1, keepdim=True))


def uniform_rotation_3d(u: torch.Tensor) -> torch.Tensor:
    """(..., 3) numbers in [0, 1) → (..., 3, 3) rotations, Haar-distributed when u is uniform (Shoemake 1992)."""
    a, b = torch.sqrt(1 - u[..., 0]), torch.sqrt(u[..., 0])
    t1, t2 = 2 * math.pi * u[..., 1], 2 * math.pi * u[..., 2]
    q = torch.stack([b * torch.cos(t2), a * torch.sin(t1), a * torch.cos(t1), b * torch.sin(t2)], -1)
    return quaternion_to_matrix(q)


def quaternion_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) unit quaternions (w, x, y, z) → (..., 3, 3) rotations."""
    w, x, y, z = q.unbind(-1)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return torch.stack([torch.stack(row, -1) for row in rows], -2)
