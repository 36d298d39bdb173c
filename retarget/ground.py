"""The ground under the person: contacts, support levels, the up axis and a root consistent with its feet.

Everything here works in camera space (metres, OpenCV axes) on absolute joints (T, J, 3); heights are
along a unit up axis (3,) in camera coordinates. `analyse_ground` makes the clip's one set of contacts
(T, 2) (left, right) that placement, the root solve, foot locking and the quality report all use:

1. contacts: the lifter's probabilities when the motion has them (`contacts.contacts_from_probabilities`),
   else the feet's height above the LOCAL support (a low percentile of the lower foot over about a second
   around each frame, so a box and the grass below it both count as ground) and horizontal speed;
2. support levels: each foot's contact runs in time order, a run joining the previous run's level when
   their heights differ by less than `level_tolerance`, else opening a new level (a box, then the grass);
3. the up axis from all contact points together: a plane normal with one offset per level and per foot
   joint (so two levels 0.4 m apart do not tilt it), pulled towards a prior (the body's median up, or the
   camera's -y) where the contacts do not span the ground, outliers dropped, the prior kept when there are
   too few contacts or the fit leans more than `max_tilt_deg` from it;
4. the root moved, mostly along its camera ray (`solve_root`): its image position is reliable, its depth is
   not, so one correction per frame is solved so that planted feet stay put and stand on their level,
   with smooth depth elsewhere.

Steps 1-4 run `iterations` times, each on the joints the previous root solve produced; the result holds the
contacts, levels and up axis of the last pass, with level heights measured on its solved joints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from retarget.contacts import ContactConfig, contacts_from_probabilities, detect_contacts, runs
from retarget.rotations import normalize

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


# Thresholds of the contact detection on lifted joints: speed is the foot's image speed (m/s at the clip's
# median depth), whose keypoint jitter alone reaches 0.1-0.3 m/s; height is above the local support, which the
# lifter's feet miss by up to about 0.1 m (feet apart in a jumping jack on the sample clip).
_DETECTION = {"height_on": 0.06, "height_off": 0.12, "speed_on": 0.3, "speed_off": 0.6}


@dataclass(frozen=True)
class RootSolveConfig:
    """Tolerances of the root solve (each term is weighted by its inverse): contact metres (a planted foot
    point's distance from its anchor), height metres (a planted toe above or below its level), smooth and
    smooth_vertical metres per frame² (the root's horizontal and vertical acceleration: jumps keep theirs), depth metres (the correction along the root's camera ray),
    image metres (the correction across it). chunk / overlap: frames per dense solve and frames shared by
    consecutive chunks (cross-faded).

    contact is loose (5 cm) because foot locking pins the rig's planted feet afterwards by bending its legs;
    held to 1 cm, the root carried every wobble of the lifted feet relative to the pelvis (mostly in depth).
    On the validation split (`bench/feet_test_split.py --split validation --max-clips 100`), 1 cm -> 5 cm:
    the pelvis's horizontal velocity error against the truth while both feet are planted 194 -> 183 mm/s,
    its speed there 122 -> 102 mm/s (the motion capture's own: 195), the rig's planted heels and toes slip
    9.6 -> 9.5 mm per contact."""

    contact: float = 0.05
    height: float = 0.02
    smooth: float = 0.0005
    smooth_vertical: float = 0.003
    depth: float = 0.5
    image: float = 0.03
    chunk: int = 300
    overlap: int = 60


@dataclass(frozen=True)
class GroundConfig:
    """contacts: thresholds for the detection (used when the motion has no contact probabilities) and for
    the probabilities; support_window: seconds either side of a frame over which the local support is the support_percentile
    of the lower foot's height; level_tolerance: metres between two contact runs' heights on one level;
    ground_prior: metres², how strongly the up axis is pulled to its prior where contacts do not span the
    ground; max_tilt_deg: a fitted up axis further than this from the prior is not trusted; min_points:
    fewer contact points than this keep the prior; floor_share: Z = 0 is the lowest level holding at least
    this share of the planted frames; iterations: contacts -> levels -> up -> root passes; solve_root: move
    the root along its camera ray so planted feet stay put."""

    contacts: ContactConfig = field(default_factory=lambda: ContactConfig(**_DETECTION))
    root: RootSolveConfig = field(default_factory=RootSolveConfig)
    support_window: float = 1.0
    support_percentile: float = 10.0
    level_tolerance: float = 0.15
    ground_prior: float = 0.02
    max_tilt_deg: float = 30.0
    min_points: int = 12
    floor_share: float = 0.15
    iterations: int = 3
    solve_root: bool = True


@dataclass(frozen=True)
class Ground:
    """What `analyse_ground` found. up (3,) unit, camera coordinates; contacts (T, 2) bool (left, right);
    levels (K,) support heights along `up` (metres, camera space: up . p of a planted toe); level (T, 2) int,
    the level under each foot at each frame (its contact's, or outside contacts the lower of the levels of
    its previous and next contacts; -1 when the clip has no contact at all); floor: index of the level that
    becomes Z = 0; root (T, 3) the solved camera-space root; joints (T, J, 3) absolute camera-space joints
    with that root; local (T,) the local support along `up` (`local_support` of the lower toe)."""

    up: FloatArray
    contacts: BoolArray
    levels: FloatArray
    level: IntArray
    floor: int
    root: FloatArray
    joints: FloatArray
    local: FloatArray

    def support(self) -> FloatArray:
        """Support height (T, 2) along `up` under each foot (camera-space metres): its contact's level while
        planted; outside contacts the lower of that level and the local support (`local`, the lower foot's
        low percentile around the frame: where the person went down without a detected contact, the
        ground went down too); the local support alone where the clip has no level."""
        local = np.repeat(self.local[:, None], 2, axis=1)
        if len(self.levels) == 0:
            return local
        lv = np.asarray(self.levels[np.maximum(self.level, 0)], dtype=np.float64)
        return np.where(self.contacts, lv, np.minimum(lv, local))

    def floor_height(self) -> float:
        """Height along `up` of the level that becomes Z = 0 (metres; 0 when there is none)."""
        return float(self.levels[self.floor]) if len(self.levels) else 0.0


@dataclass(frozen=True)
class FootJoints:
    """Joint indices per side: (ankle, toe) for left then right."""

    left: tuple[int, int]
    right: tuple[int, int]

    def sides(self) -> tuple[tuple[int, int], tuple[int, int]]:
        return (self.left, self.right)


def local_support(height: FloatArray, fps: float, window: float, percentile: float) -> FloatArray:
    """Local support height (T,) from the lower foot's height (T,): a low percentile over +-window s."""
    t = len(height)
    w = max(1, round(window * fps))
    pad = np.pad(height, w, mode="edge")
    view = np.lib.stride_tricks.sliding_window_view(pad, 2 * w + 1)[:t]
    return np.asarray(np.percentile(view, percentile, axis=1), dtype=np.float64)


def _horizontal(v: FloatArray, up: FloatArray) -> FloatArray:
    return v - (v @ up)[..., None] * up


def detect_planted(
    p: FloatArray, feet: FootJoints, up: FloatArray, fps: float, config: GroundConfig
) -> BoolArray:
    """Contacts (T, 2) from foot height above the local support and horizontal speed (camera joints p)."""
    sides = feet.sides()
    toe_h = np.stack([p[:, toe] @ up for _, toe in sides], axis=1)
    ankle_h = np.stack([p[:, ankle] @ up for ankle, _ in sides], axis=1)
    # The ankle's height over the toe joint when the foot is flat (its low percentile over the clip).
    lift = np.percentile(ankle_h - toe_h, 20, axis=0)
    low = np.minimum(toe_h, ankle_h - lift)  # (T, 2): the foot's lowest point, roughly
    support = local_support(low.min(axis=1), fps, config.support_window, config.support_percentile)
    mid = np.stack([0.5 * (p[:, a] + p[:, b]) for a, b in sides], axis=1)  # (T, 2, 3)
    # Speed from the foot's image position (its camera ray x/z, y/z, times the clip's median depth): the
    # depth of each pose wobbles, its image position does not, and a planted foot does not move in the
    # picture of a still camera. detect_contacts wants Z-up positions: the scaled ray, and the low point's
    # height.
    depth = float(np.median(np.abs(mid[..., 2])))
    ray = mid[..., :2] / np.maximum(np.abs(mid[..., 2:3]), 1e-6) * depth
    pts = np.concatenate([ray, low[..., None]], axis=-1)
    return detect_contacts(pts, fps, config.contacts, planted_height=np.stack([support, support], 1))


def assign_levels(
    toe_height: FloatArray, contacts: BoolArray, tolerance: float
) -> tuple[FloatArray, list[list[tuple[int, int, int]]]]:
    """Support levels from contact runs. toe_height (T, 2) along up, contacts (T, 2).

    Runs of both feet in order of their start; a run whose median toe height is within `tolerance` of the
    previous run's joins its level, else it opens a new one. Returns the levels' heights (K,) (median toe
    height over their contact frames) and per level its runs as (foot, start, end)."""
    all_runs = sorted(
        ((s, e, f) for f in range(contacts.shape[1]) for s, e in runs(contacts[:, f])), key=lambda r: r[0]
    )
    groups: list[list[tuple[int, int, int]]] = []
    prev_h = np.nan
    for s, e, f in all_runs:
        h = float(np.median(toe_height[s:e, f]))
        if not groups or abs(h - prev_h) > tolerance:
            groups.append([])
        groups[-1].append((f, s, e))
        prev_h = h
    heights = np.array(
        [float(np.median(np.concatenate([toe_height[s:e, f] for f, s, e in g]))) for g in groups]
    )
    return heights, groups


def level_per_frame(groups: list[list[tuple[int, int, int]]], levels: FloatArray, frames: int) -> IntArray:
    """Level index (T, 2) under each foot: its contact's, or between contacts the lower of the previous and
    next contact's levels (the first or last contact's at the clip's ends); a foot never planted takes the
    other foot's; -1 when there is no contact."""
    out = np.full((frames, 2), -1, dtype=np.int64)
    for f in range(2):
        marks = sorted((s, e, k) for k, g in enumerate(groups) for ff, s, e in g if ff == f)
        if not marks:
            continue
        for s, e, k in marks:
            out[s:e, f] = k
        free = np.flatnonzero(out[:, f] < 0)
        starts = np.array([m[0] for m in marks])
        ends = np.array([m[1] for m in marks])
        ks = np.array([m[2] for m in marks])
        for t in free:
            before = np.flatnonzero(ends <= t)
            after = np.flatnonzero(starts > t)
            cand = [ks[before[-1]]] if len(before) else []
            cand += [ks[after[0]]] if len(after) else []
            out[t, f] = min(cand, key=lambda k: levels[k])
    for f in range(2):
        if (out[:, f] < 0).all():
            out[:, f] = out[:, 1 - f]
    return out


def fit_up(
    points: FloatArray, groups: IntArray, prior_up: FloatArray, prior: float, max_tilt_deg: float = 45.0
) -> FloatArray:
    """Unit up axis (3,) of parallel planes through points (N, 3), one offset per group label (N,) int.

    Minimises sum((n . x - d_group)^2)/N + prior * (1 - (n . prior_up)^2) over unit n and offsets d, then
    drops outliers (3 x MAD of the residuals, plus 1 cm) once and refits. Returns prior_up when fewer than
    three points remain or the fit is further than max_tilt_deg from it."""
    up = normalize(prior_up)
    x = np.asarray(points, dtype=np.float64)
    g = np.asarray(groups)
    keep = np.ones(len(x), dtype=bool)
    n = up
    for _ in range(2):
        if keep.sum() < 3:
            return up
        xk, gk = x[keep], g[keep]
        labels, inv = np.unique(gk, return_inverse=True)
        means = np.zeros((len(labels), 3))
        np.add.at(means, inv, xk)
        means /= np.bincount(inv, minlength=len(labels))[:, None]
        centred = xk - means[inv]
        cov = centred.T @ centred / len(xk) + prior * (np.eye(3) - np.outer(up, up))
        _w, v = np.linalg.eigh(cov)
        n = v[:, 0] * (1.0 if v[:, 0] @ up >= 0 else -1.0)
        # Residuals of every point against its group's mean (groups dropped entirely fall back to 0).
        full_means = np.zeros((int(g.max()) + 1, 3))
        full_means[labels] = means
        r = np.einsum("ij,j->i", x - full_means[g], n)
        mad = float(np.median(np.abs(r[keep] - np.median(r[keep]))))
        keep = np.abs(r - np.median(r[keep])) <= 3.0 * 1.4826 * mad + 0.01
    if np.degrees(np.arccos(np.clip(n @ up, -1.0, 1.0))) > max_tilt_deg:
        return up
    return n


def solve_root(
    joints: FloatArray,
    root: FloatArray,
    feet: FootJoints,
    up: FloatArray,
    contacts: BoolArray,
    support: FloatArray,
    config: RootSolveConfig | None = None,
) -> FloatArray:
    """Root corrections (T, 3), camera-space metres, mostly along the root's camera ray (root / |root|).

    joints (T, J, 3) root-relative camera-space joints, root (T, 3) camera-space root, up (3,), contacts
    (T, 2), support (T, 2) the planted toe's height along `up`. Least squares over the corrections and one
    anchor (3,) per contact run and foot joint: planted ankles and toes at their anchors (`contact`), planted
    toes at their support height (`height`), the corrected root's acceleration small (`smooth`), the
    correction's component along the ray small (`depth`: the lifter's depth is unreliable) and across it
    smaller (`image`: the root's image position is reliable, up to the keypoints' jitter). Solved densely
    in chunks of `config.chunk` frames cross-faded over `config.overlap` frames."""
    cfg = config or RootSolveConfig()
    t = len(root)
    out = np.zeros((t, 3))
    if t == 0:
        return out
    step = max(1, cfg.chunk - cfg.overlap)
    weight = np.zeros(t)
    for a in range(0, t, step):
        b = min(t, a + cfg.chunk)
        d = _solve_chunk(joints[a:b], root[a:b], feet, up, contacts[a:b], support[a:b], cfg)
        w = np.ones(b - a)
        ramp = min(cfg.overlap, b - a)
        if a > 0 and ramp > 0:
            w[:ramp] = (np.arange(ramp) + 0.5) / ramp
        if b < t and ramp > 0:
            w[-ramp:] = np.minimum(w[-ramp:], (ramp - np.arange(ramp) - 0.5) / ramp)
        out[a:b] += w[:, None] * d
        weight[a:b] += w
        if b == t:
            break
    return np.asarray(out / np.maximum(weight, 1e-12)[:, None], dtype=np.float64)


def _solve_chunk(
    joints: FloatArray,
    root: FloatArray,
    feet: FootJoints,
    up: FloatArray,
    contacts: BoolArray,
    support: FloatArray,
    cfg: RootSolveConfig,
) -> FloatArray:
    """One dense least-squares solve of `solve_root` over a chunk of frames: corrections (T, 3)."""
    t = len(root)
    ray = normalize(root)
    anchors = [
        (f, j, s, e) for f, side in enumerate(feet.sides()) for s, e in runs(contacts[:, f]) for j in side
    ]
    cols = 3 * t + 3 * len(anchors)
    eye = np.eye(3)
    wc, wh, ws = 1.0 / cfg.contact, 1.0 / cfg.height, 1.0 / cfg.smooth
    # Rows of the least-squares system A x = b, built as whole blocks: (column indices, coefficients, target).
    blocks: list[tuple[IntArray, FloatArray, FloatArray]] = []
    toes = {side[1] for side in feet.sides()}
    for k, (f, j, s, e) in enumerate(anchors):
        col_a = 3 * t + 3 * k
        frames = np.arange(s, e)
        x = root[frames] + joints[frames, j]  # (n, 3)
        # wc * (c_fr + x - a_k) = 0 per axis: one row per frame and axis.
        idx = np.stack(
            [3 * frames[:, None] + np.arange(3), col_a + np.broadcast_to(np.arange(3), (len(frames), 3))], -1
        )
        blocks.append((idx.reshape(-1, 2), np.tile([wc, -wc], (3 * len(frames), 1)), (-wc * x).reshape(-1)))
        if j in toes:  # wh * (up . (c_fr + x) - support) = 0
            blocks.append(
                (
                    3 * frames[:, None] + np.arange(3),
                    np.tile(wh * up, (len(frames), 1)),
                    wh * (support[frames, f] - x @ up),
                )
            )
    # ws * second difference of root + c, horizontally (two axes normal to up) and, softer, vertically.
    e1 = normalize(np.cross(up, eye[np.argmin(np.abs(up))]))
    if t > 2:
        mid = np.arange(1, t - 1)
        acc = root[mid - 1] - 2.0 * root[mid] + root[mid + 1]
        idx = 3 * (mid[:, None] - 1) + np.arange(9)
        for axis, w in ((e1, ws), (np.cross(up, e1), ws), (up, 1.0 / cfg.smooth_vertical)):
            coef = w * np.concatenate([axis, -2.0 * axis, axis])
            blocks.append((idx, np.tile(coef, (len(mid), 1)), -w * (acc @ axis)))
    normal = np.zeros((cols, cols))
    rhs = np.zeros(cols)
    for idx, coef, target in blocks:  # rows r: sum_k coef[r, k] x[idx[r, k]] = target[r]
        outer = coef[:, :, None] * coef[:, None, :]
        np.add.at(normal, (idx[:, :, None], idx[:, None, :]), outer)
        np.add.at(rhs, idx, coef * target[:, None])
    # Corrections' prior: per frame W_t = w_ray r r^T + w_img (I - r r^T), i.e. W_t^2 on the diagonal block.
    rr = np.einsum("ti,tj->tij", ray, ray)
    block = rr / cfg.depth**2 + (eye - rr) / cfg.image**2
    diag = 3 * np.arange(t)[:, None, None]
    normal[diag + np.arange(3)[:, None], diag + np.arange(3)[None, :]] += block
    sol = np.linalg.solve(normal + 1e-9 * np.eye(cols), rhs)
    return np.asarray(sol[: 3 * t].reshape(t, 3), dtype=np.float64)


def analyse_ground(
    joints: npt.ArrayLike,
    root: npt.ArrayLike,
    feet: FootJoints,
    prior_up: FloatArray,
    fps: float,
    probabilities: npt.ArrayLike | None = None,
    config: GroundConfig | None = None,
    fit: bool = True,
    body_up: FloatArray | None = None,
) -> Ground:
    """The clip's contacts, support levels, up axis and solved root; see the module docstring.

    joints (T, J, 3) root-relative and root (T, 3), camera space metres; prior_up (3,) unit; probabilities
    (T, 4) from `Motion3D.contacts` or None; fit: False keeps prior_up as the up axis; body_up (T, 3) unit
    pelvis -> neck directions: when given, the prior becomes their median over the frames with both feet
    planted (standing, not running or tumbling), once there are `min_points` of them."""
    cfg = config or GroundConfig()
    rel = np.asarray(joints, dtype=np.float64)
    root0 = np.asarray(root, dtype=np.float64)
    t = len(root0)
    prior = normalize(prior_up)
    up = prior
    cur_root = root0
    given = None if probabilities is None else contacts_from_probabilities(probabilities, fps, cfg.contacts)
    contacts = np.zeros((t, 2), dtype=bool)
    levels = np.zeros(0)
    groups: list[list[tuple[int, int, int]]] = []
    for _ in range(max(1, cfg.iterations)):
        p = rel + cur_root[:, None, :]
        contacts = given if given is not None else detect_planted(p, feet, up, fps, cfg)
        both = contacts.all(axis=1)
        if body_up is not None and both.sum() >= cfg.min_points:
            prior = normalize(np.median(body_up[both], axis=0))
        toe_h = np.stack([p[:, toe] @ up for _, toe in feet.sides()], axis=1)
        levels, groups = assign_levels(toe_h, contacts, cfg.level_tolerance)
        if fit:
            pts, labels = [], []
            for k, g in enumerate(groups):
                for f, s, e in g:
                    for jn, j in enumerate(feet.sides()[f]):
                        pts.append(p[s:e, j])
                        labels.append(np.full(e - s, 2 * k + jn))  # one offset per level and joint kind
            if pts and sum(len(x) for x in pts) >= cfg.min_points:
                up = fit_up(
                    np.concatenate(pts), np.concatenate(labels), prior, cfg.ground_prior, cfg.max_tilt_deg
                )
            else:
                up = prior
            toe_h = np.stack([p[:, toe] @ up for _, toe in feet.sides()], axis=1)
            levels, groups = assign_levels(toe_h, contacts, cfg.level_tolerance)
        level = level_per_frame(groups, levels, t)
        if cfg.solve_root and contacts.any():
            support = levels[np.maximum(level, 0)] if len(levels) else np.zeros((t, 2))
            cur_root = root0 + solve_root(rel, root0, feet, up, contacts, support, cfg.root)
    # The contacts, levels and up axis the last root solve used; heights re-measured on its joints.
    p = rel + cur_root[:, None, :]
    toe_h = np.stack([p[:, toe] @ up for _, toe in feet.sides()], axis=1)
    levels, groups = assign_levels(toe_h, contacts, cfg.level_tolerance)
    level = level_per_frame(groups, levels, t)
    floor = 0
    if len(levels):
        frames = np.array([sum(e - s for _, s, e in g) for g in groups], dtype=np.float64)
        ok = np.flatnonzero(frames >= cfg.floor_share * frames.sum())
        # Many short levels (a long clip whose support drifts) may leave none with that share: then the level
        # that holds the most contact frames.
        floor = int(ok[np.argmin(levels[ok])]) if len(ok) else int(np.argmax(frames))
    local = local_support(toe_h.min(axis=1), fps, cfg.support_window, cfg.support_percentile)
    return Ground(up, contacts, levels, level, floor, cur_root, p, local)
