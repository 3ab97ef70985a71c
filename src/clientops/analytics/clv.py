"""Customer lifetime value models fitted by maximum likelihood (issue #4, CLV).

BG/NBD (Fader, Hardie & Lee 2005) and Pareto/NBD (Schmittlein, Morrison & Colombo 1987) for the
number of repeat purchases, Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV") for the spend
per purchase. Inputs per customer: ``frequency`` x (repeat purchases in the calibration period),
``recency`` t_x (time of the last purchase, from the first), ``T`` (time from the first purchase
to the end of calibration), all in one time unit (the "period"). Customers with identical
(x, t_x, T) contribute identical likelihood terms, so every fit first collapses them into weighted
rows; the per-x, per-T and per-(x, t) pieces are computed once each and gathered, which is what
makes a million-customer fit take well under a second.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize
from scipy.special import digamma, expit, gammaln, hyp2f1

from clientops.core.i18n import gettext
from clientops.exceptions import ClientOpsError

Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
Objective = Callable[[Array], tuple[float, Array]]

PARAM_NAMES = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "paretonbd": ("r", "alpha", "s", "beta"),
    "gamma_gamma": ("p", "q", "gamma"),
}
# Central-difference step (relative) for the Hessian and for the Pareto/NBD r, s derivatives.
_STEP = 1e-5


class ClvError(ClientOpsError, ValueError):
    """Input a CLV model cannot be fitted on or predicted for; the message says why."""


@dataclass(frozen=True)
class FitResult:
    """A fitted model: parameters, standard errors (inverse observed information), fit facts."""

    model: str
    params: dict[str, float]
    std_errors: dict[str, float]
    log_likelihood: float
    n_customers: int
    converged: bool
    iterations: int
    n_rows: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form; a standard error that could not be computed is ``None``."""
        data = asdict(self)
        data["std_errors"] = {k: _finite_or_none(v) for k, v in self.std_errors.items()}
        return data


def _bincount(index: IntArray, weights: Array, minlength: int = 0) -> Array:
    """Weights summed per index, as floats."""
    return np.asarray(np.bincount(index, weights=weights, minlength=minlength), dtype=np.float64)


def _dot(a: Array, b: Array) -> float:
    """Inner product without BLAS: OpenBLAS's threads crawl on a busy 2-core machine."""
    return float(np.einsum("i,i->", a, b))


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


# --------------------------------------------------------------------------------------------
# Collapsing customers into weighted rows


def _factorize(values: npt.ArrayLike) -> tuple[IntArray, Array]:
    """Codes into the unique values, and those values (hash-based: no sort)."""
    codes, uniques = pd.factorize(np.asarray(values), sort=False)
    return np.asarray(codes, dtype=np.intp), np.asarray(uniques, dtype=np.float64)


def _group_codes(*columns: Array) -> tuple[IntArray, int]:
    """One code per distinct combination of the columns' values, and how many there are."""
    key, _ = _factorize(columns[0])
    count = int(key.max()) + 1 if key.size else 0
    for column in columns[1:]:
        codes, values = _factorize(column)
        key, _ = _factorize(key.astype(np.int64) * len(values) + codes)
        count = int(key.max()) + 1 if key.size else 0
    return key, count


def collapse(
    columns: tuple[Array, ...], weights: Array | None = None
) -> tuple[tuple[Array, ...], Array, IntArray]:
    """Distinct rows of the columns, the summed weight of each, and each input row's index."""
    inverse, count = _group_codes(*columns)
    w = np.ones(len(inverse)) if weights is None else weights
    summed = _bincount(inverse, weights=w, minlength=count)
    first = np.empty(count, dtype=np.intp)
    # Written backwards, the last write to each group is its first row.
    first[inverse[::-1]] = np.arange(len(inverse) - 1, -1, -1, dtype=np.intp)
    return tuple(c[first] for c in columns), summed, inverse


# --------------------------------------------------------------------------------------------
# Input checks


def _as_array(values: npt.ArrayLike, name: str) -> Array:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(array)):
        raise ClvError(gettext("%(name)s has missing or infinite values") % {"name": name})
    return array


def _check_rfm(
    frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
) -> tuple[Array, Array, Array]:
    """Validated float arrays: x a whole number ≥ 0, 0 ≤ t_x ≤ T, and t_x = 0 when x = 0."""
    x, t, age = (
        _as_array(v, n) for v, n in ((frequency, "frequency"), (recency, "recency"), (T, "T"))
    )
    if not len(x) == len(t) == len(age):
        raise ClvError(gettext("frequency, recency and T must have the same length"))
    if np.any(x < 0) or np.any(x != np.floor(x)):
        raise ClvError(gettext("frequency must be a whole number of repeat purchases, 0 or more"))
    if np.any(t < 0) or np.any(t > age * (1 + 1e-9) + 1e-12):
        raise ClvError(gettext("recency must lie between 0 and T"))
    if np.any((x == 0) & (t != 0)):
        raise ClvError(gettext("recency must be 0 for customers with no repeat purchase"))
    return x, t, age


def _check_weights(weights: npt.ArrayLike | None, n: int) -> Array | None:
    if weights is None:
        return None
    w = _as_array(weights, "weights")
    if len(w) != n or np.any(w < 0):
        raise ClvError(gettext("weights must be one count of 0 or more per row"))
    return w


# --------------------------------------------------------------------------------------------
# Shared fitting machinery


@dataclass(frozen=True)
class _Prepared:
    """Collapsed rows plus the distinct values whose terms are computed once each."""

    x: Array
    t: Array
    T: Array
    w: Array
    ux: Array  # distinct x
    wx: Array  # weight per distinct x
    uT: Array  # distinct T
    iT: IntArray  # row -> distinct T
    wT: Array  # weight per distinct T
    wxT: Array  # weight * x per distinct T
    ut: Array  # distinct t_x
    it: IntArray  # row -> distinct t_x
    ixrow: IntArray  # row -> distinct x
    pos: IntArray  # rows of repeat buyers (x > 0)

    @property
    def total(self) -> float:
        """Summed weight (the number of customers)."""
        return float(self.wx.sum())


def _prepare(x: Array, t: Array, T: Array, weights: Array | None) -> _Prepared:
    (cx, ct, cT), w, _ = collapse((x, t, T), weights)
    keep = w > 0
    return _prepare_rows(cx[keep], ct[keep], cT[keep], w[keep])


def _prepare_rows(cx: Array, ct: Array, cT: Array, w: Array) -> _Prepared:
    """The distinct-value indexes of rows that are already distinct."""
    ixrow, ux = _factorize(cx)
    iT, uT = _factorize(cT)
    it, ut = _factorize(ct)
    return _Prepared(
        x=cx, t=ct, T=cT, w=w, ux=ux, wx=_bincount(ixrow, weights=w, minlength=len(ux)),
        uT=uT, iT=iT, wT=_bincount(iT, weights=w, minlength=len(uT)),
        wxT=_bincount(iT, weights=w * cx, minlength=len(uT)), ut=ut, it=it, ixrow=ixrow,
        pos=np.flatnonzero(cx > 0),
    )  # fmt: skip


@dataclass(frozen=True)
class _Repeat:
    """The repeat buyers' rows, as the BG/NBD dropout term reads them on every evaluation."""

    x: Array
    w: Array
    iT: IntArray
    it: IntArray
    ix: IntArray  # row -> distinct x
    ux: Array


def _repeat_rows(prep: _Prepared) -> _Repeat:
    pos = prep.pos
    ix, ux = _factorize(prep.x[pos])
    return _Repeat(x=prep.x[pos], w=prep.w[pos], iT=prep.iT[pos], it=prep.it[pos], ix=ix, ux=ux)


LOG_BOUND = 25.0
"""Parameters are searched within exp(±25): far beyond any real customer base, but finite."""


def _maximise(objective: Objective, start: Array, total: float) -> optimize.OptimizeResult:
    """Maximise a log-likelihood over log-parameters (positivity for free), per-customer scale."""

    def negative(log_params: Array) -> tuple[float, Array]:
        params = np.exp(log_params)
        ll, grad = objective(params)
        if not math.isfinite(ll):
            return math.inf, np.zeros_like(log_params)
        return -ll / total, -grad * params / total

    options = {"maxiter": 1000, "ftol": 1e-12, "gtol": 1e-7}
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    return optimize.minimize(
        negative, np.log(start), jac=True, method="L-BFGS-B", bounds=bounds, options=options
    )


def _hessian(objective: Objective, params: Array) -> Array:
    """Observed Hessian of the log-likelihood by central differences of its analytic gradient."""
    size = len(params)
    hess = np.empty((size, size))
    for j in range(size):
        step = _STEP * params[j]
        up, down = params.copy(), params.copy()
        up[j] += step
        down[j] -= step
        hess[:, j] = (objective(up)[1] - objective(down)[1]) / (2 * step)
    return (hess + hess.T) / 2


def _std_errors(hess: Array) -> Array:
    """Square roots of the diagonal of the inverse observed information (NaN if singular)."""
    try:
        cov = np.linalg.inv(-hess)
    except np.linalg.LinAlgError:
        return np.full(len(hess), math.nan)
    diag = np.diag(cov)
    return np.where(diag > 0, np.sqrt(np.abs(diag)), math.nan)


def _newton_polish(objective: Objective, params: Array, hess: Array, steps: int = 4) -> Array:
    """Newton steps from the quasi-Newton optimum, reusing one Hessian: L-BFGS stops loosely
    (cheap), and a few Newton steps take the estimates to ~1e-9 relative (the published figures
    are checked to 1e-3 of their value; the speed targets leave no room for a tight L-BFGS)."""
    ll, grad = objective(params)
    for _ in range(steps):
        try:
            trial = params - np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            return params
        if np.any(trial <= 0) or np.any(np.log(trial) > LOG_BOUND):
            return params
        trial_ll, trial_grad = objective(trial)
        if not trial_ll >= ll - 1e-9 * abs(ll):
            return params
        moved = float(np.max(np.abs(trial / params - 1)))
        params, ll, grad = trial, trial_ll, trial_grad
        if moved < 1e-10:
            break
    return params


def _fit(model: str, objective: Objective, start: Array, total: float, rows: int) -> FitResult:
    result = _maximise(objective, start, total)
    found = np.exp(result.x)
    hess = _hessian(objective, found)
    params = _newton_polish(objective, found, hess)
    if float(np.max(np.abs(params / found - 1))) > 1e-4:
        hess = _hessian(objective, params)  # moved far: the standard errors need a fresh one
    ll, grad = objective(params)
    names = PARAM_NAMES[model]
    converged = bool(np.max(np.abs(grad * params)) < 1e-6 * total) or bool(result.success)
    # Data the model cannot describe (e.g. no heterogeneity at all) drives a parameter to the
    # edge of the search box: say so rather than report a "fit" there.
    at_edge = bool(np.any(np.abs(np.log(params)) > LOG_BOUND - 0.5))
    converged = bool(converged and not at_edge and ll <= 0)
    return FitResult(
        model=model,
        params={n: float(v) for n, v in zip(names, params, strict=True)},
        std_errors={n: float(v) for n, v in zip(names, _std_errors(hess), strict=True)},
        log_likelihood=float(ll),
        n_customers=round(total),
        converged=converged,
        iterations=int(result.nit),
        n_rows=rows,
    )


def _start_rate(prep: _Prepared) -> float:
    """Population repeat-purchase rate per period: a scale-aware start for alpha and beta."""
    exposure = float(np.dot(prep.wT, prep.uT))
    repeats = float(np.dot(prep.wx, prep.ux))
    return max(repeats, 1.0) / max(exposure, 1e-9)


# --------------------------------------------------------------------------------------------
# BG/NBD


def _bgnbd_ll(prep: _Prepared, rep: _Repeat, params: Array) -> tuple[float, Array]:
    """Log-likelihood and its gradient in (r, alpha, a, b), FHL (2005) eq. 6 in log form."""
    r, alpha, a, b = params
    ux, wx = prep.ux, prep.wx
    ll_x = (
        gammaln(r + ux) - gammaln(r) + gammaln(b + ux) - gammaln(b)
        + gammaln(a + b) - gammaln(a + b + ux)
    )  # fmt: skip
    d_ab = digamma(a + b) - digamma(a + b + ux)
    log_T = np.log(alpha + prep.uT)
    ll = _dot(wx, ll_x) + prep.total * r * math.log(alpha) - r * _dot(prep.wT, log_T)
    ll -= _dot(prep.wxT, log_T)
    grad = np.array(
        [
            _dot(wx, digamma(r + ux) - digamma(r))
            + prep.total * math.log(alpha)
            - _dot(prep.wT, log_T),
            prep.total * r / alpha - _dot(r * prep.wT + prep.wxT, 1 / (alpha + prep.uT)),
            _dot(wx, d_ab),
            _dot(wx, digamma(b + ux) - digamma(b) + d_ab),
        ]
    )
    extra_ll, extra_grad = _bgnbd_dropout_term(prep, rep, params, log_T)
    return ll + extra_ll, grad + extra_grad


def _bgnbd_dropout_term(
    prep: _Prepared, rep: _Repeat, params: Array, log_T: Array
) -> tuple[float, Array]:
    """The log(1 + e^D) term of repeat buyers: D = log odds of having dropped out at t_x."""
    r, alpha, a, b = params
    x, w = rep.x, rep.w
    gap = log_T[rep.iT] - np.log(alpha + prep.ut)[rep.it]
    inv_b = 1 / (b + rep.ux - 1)
    d = (math.log(a) + np.log(inv_b))[rep.ix] + (r + x) * gap
    # log(1 + e^d) and its derivative sigmoid(d), from one exp that cannot overflow.
    small = np.exp(-np.abs(d))
    softplus = np.log1p(small) + np.maximum(d, 0.0)
    sw = w * np.where(d >= 0, 1.0, small) / (1.0 + small)
    inv_T = (1 / (alpha + prep.uT))[rep.iT] - (1 / (alpha + prep.ut))[rep.it]
    sw_x = _bincount(rep.ix, weights=sw, minlength=len(rep.ux))
    grad = np.array(
        [_dot(sw, gap), _dot(sw * (r + x), inv_T), sw_x.sum() / a, -_dot(sw_x, inv_b)],
    )
    return _dot(w, softplus), grad


def fit_bgnbd(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> FitResult:
    """Fit the BG/NBD repeat-purchase model by maximum likelihood on collapsed rows."""
    x, t, age = _check_rfm(frequency, recency, T)
    prep = _prepare(x, t, age, _check_weights(weights, len(x)))
    _require_customers(prep)
    rep = _repeat_rows(prep)
    start = np.array([1.0, 1.0 / _start_rate(prep), 1.0, 1.0])
    return _fit("bgnbd", lambda p: _bgnbd_ll(prep, rep, p), start, prep.total, len(prep.w))


def _require_customers(prep: _Prepared) -> None:
    if prep.total <= 0:
        raise ClvError(gettext("no customers to fit the model on"))
    if not np.any(prep.x > 0):
        raise ClvError(gettext("no customer made a repeat purchase: the model cannot be fitted"))


# --------------------------------------------------------------------------------------------
# Pareto/NBD


def _ln_hyp(m: Array, k: Array, z: Array) -> Array:
    return np.asarray(np.log(hyp2f1(m, k, m + 1, z)), dtype=np.float64)


def _ln_tail(p: Array, q: float, c: Array, alpha: float, beta: float) -> tuple[Array, Array]:
    """ln ∫_c^∞ (α+y)^-p (β+y)^-q dy and the 2F1 part alone (Hardie's numerically stable form:
    the series argument is kept in [0, 1) by expanding around the larger of α and β)."""
    m = p + q - 1
    if alpha >= beta:
        base = alpha + c
        ln_f = _ln_hyp(m, np.full_like(m, q), (alpha - beta) / base)
    else:
        base = beta + c
        ln_f = _ln_hyp(m, p, (beta - alpha) / base)
    return -m * np.log(base) - np.log(m) + ln_f, ln_f


@dataclass(frozen=True)
class _Pairs:
    """Distinct (x, c) pairs, c being t_x or T, whose tail integrals J(c) the rows share."""

    x: Array
    c: Array
    i_t: IntArray  # row -> pair (x, t_x)
    i_T: IntArray  # row -> pair (x, T)


def _pairs(prep: _Prepared) -> _Pairs:
    n = len(prep.x)
    xs, cs = np.concatenate([prep.x, prep.x]), np.concatenate([prep.t, prep.T])
    (px, pc), _, inverse = collapse((xs, cs))
    return _Pairs(x=px, c=pc, i_t=inverse[:n], i_T=inverse[n:])


def _tail_terms(pairs: _Pairs, params: Array) -> tuple[Array, Array]:
    """ln J per pair and d ln J / d(r, alpha, s, beta) per pair (columns)."""
    r, alpha, s, beta = params
    p, q, c = r + pairs.x, s + 1, pairs.c
    ln_j, _ = _ln_tail(p, q, c, alpha, beta)
    # ln J = -m ln(base) - ln m + ln 2F1 with m = p + q - 1: only the 2F1 part has no closed-form
    # derivative in p (= r + x) and q (= s + 1), so only it is differenced.
    common = -np.log(max(alpha, beta) + c) - 1 / (p + q - 1)
    h, hs = _STEP * max(1.0, float(r)), _STEP * max(1.0, float(s))
    dr = _ln_tail(p + h, q, c, alpha, beta)[1] - _ln_tail(p - h, q, c, alpha, beta)[1]
    ds = _ln_tail(p, q + hs, c, alpha, beta)[1] - _ln_tail(p, q - hs, c, alpha, beta)[1]
    d_alpha = -p * np.exp(_ln_tail(p + 1, q, c, alpha, beta)[0] - ln_j)
    d_beta = -q * np.exp(_ln_tail(p, q + 1, c, alpha, beta)[0] - ln_j)
    columns = [common + dr / (2 * h), d_alpha, common + ds / (2 * hs), d_beta]
    return ln_j, np.stack(columns, axis=1)


def _pnbd_rows(
    prep: _Prepared, pairs: _Pairs, params: Array, ln_j: Array
) -> tuple[Array, Array, Array]:
    """Per row: ln of the alive term (α+T)^-(r+x) (β+T)^-s, of s·J(t_x) and of s·J(T)."""
    r, alpha, s, beta = params
    ln_alpha_T = np.log(alpha + prep.uT)[prep.iT]
    ln_beta_T = np.log(beta + prep.uT)[prep.iT]
    ln_alive = -(r + prep.x) * ln_alpha_T - s * ln_beta_T
    ln_s = math.log(s)
    return ln_alive, ln_s + ln_j[pairs.i_t], ln_s + ln_j[pairs.i_T]


def _pnbd_shares(ln_alive: Array, ln_j1: Array, ln_j2: Array) -> tuple[Array, Array, Array, Array]:
    """The three terms of the likelihood bracket (e0 alive at T, e1 - e2 dropped out between
    t_x and T) scaled by a common factor against overflow, and that factor's log."""
    top = np.maximum(ln_alive, ln_j1)
    e0, e1, e2 = np.exp(ln_alive - top), np.exp(ln_j1 - top), np.exp(ln_j2 - top)
    return e0, e1, e2, top


def _pnbd_ll(prep: _Prepared, pairs: _Pairs, params: Array) -> tuple[float, Array]:
    """Log-likelihood and gradient of the Pareto/NBD (Fader & Hardie 2005 note, eq. 3)."""
    r, alpha, s, beta = params
    ln_j, d_j = _tail_terms(pairs, params)
    e0, e1, e2, top = _pnbd_shares(*_pnbd_rows(prep, pairs, params, ln_j))
    bracket = e0 + e1 - e2
    total = prep.total
    ll = _dot(prep.wx, gammaln(r + prep.ux) - gammaln(r))
    ll += total * (r * math.log(alpha) + s * math.log(beta)) + _dot(prep.w, top + np.log(bracket))
    scale = prep.w / bracket
    grad = _pnbd_bracket_gradient(prep, pairs, params, d_j, (scale * e0, scale * e1, scale * e2))
    grad += [
        _dot(prep.wx, digamma(r + prep.ux) - digamma(r)) + total * math.log(alpha),
        total * r / alpha,
        total * math.log(beta),
        total * s / beta,
    ]
    return ll, grad


def _pnbd_bracket_gradient(
    prep: _Prepared, pairs: _Pairs, params: Array, d_j: Array, shares: tuple[Array, Array, Array]
) -> Array:
    """Σ w · d ln(bracket): each term's row weights summed onto the distinct T and (x, c) pairs
    it depends on, then multiplied by that value's derivatives (no per-row derivative arrays)."""
    r, alpha, s, beta = params
    v0, v1, v2 = shares
    n_pairs, n_T = len(pairs.x), len(prep.uT)
    on_pairs = _bincount(pairs.i_t, v1, n_pairs) - _bincount(pairs.i_T, v2, n_pairs)
    v0_T = _bincount(prep.iT, v0, n_T)
    v0x_T = _bincount(prep.iT, v0 * prep.x, n_T)
    grad: Array = np.einsum("i,ij->j", on_pairs, d_j)
    grad -= [
        _dot(v0_T, np.log(alpha + prep.uT)),
        _dot(r * v0_T + v0x_T, 1 / (alpha + prep.uT)),
        _dot(v0_T, np.log(beta + prep.uT)),
        s * _dot(v0_T, 1 / (beta + prep.uT)),
    ]
    grad[2] += (v1.sum() - v2.sum()) / s  # s also multiplies J(t_x) - J(T)
    return grad


def fit_pareto_nbd(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> FitResult:
    """Fit the Pareto/NBD repeat-purchase model by maximum likelihood on collapsed rows."""
    x, t, age = _check_rfm(frequency, recency, T)
    prep = _prepare(x, t, age, _check_weights(weights, len(x)))
    _require_customers(prep)
    pairs = _pairs(prep)
    rate = _start_rate(prep)
    start = np.array([1.0, 1.0 / rate, 1.0, 1.0 / rate])
    return _fit("paretonbd", lambda p: _pnbd_ll(prep, pairs, p), start, prep.total, len(prep.w))


# --------------------------------------------------------------------------------------------
# Gamma-Gamma


def _gg_ll(
    x: Array, m: Array, w: Array, ux: Array, ix: IntArray, params: Array
) -> tuple[float, Array]:
    """Log-likelihood and gradient in (p, q, gamma) of the mean spend m of x purchases."""
    p, q, gamma = params
    wx = _bincount(ix, weights=w, minlength=len(ux))
    wlogm = _bincount(ix, weights=w * np.log(m), minlength=len(ux))
    px = p * ux
    ll_x = gammaln(px + q) - gammaln(px) - gammaln(q) + px * np.log(ux)
    log_sum = np.log(gamma + x * m)
    ll = float(wx @ ll_x + (px - 1) @ wlogm) + wx.sum() * q * math.log(gamma)
    ll -= _dot(w, (p * x + q) * log_sum)
    psi = digamma(px + q)
    grad = np.array(
        [
            wx @ (ux * (psi - digamma(px) + np.log(ux))) + ux @ wlogm - _dot(w, x * log_sum),
            wx @ (psi - digamma(q)) + wx.sum() * math.log(gamma) - _dot(w, log_sum),
            wx.sum() * q / gamma - _dot(w, (p * x + q) / (gamma + x * m)),
        ]
    )
    return ll, grad


def fit_gamma_gamma(
    frequency: npt.ArrayLike, monetary: npt.ArrayLike, weights: npt.ArrayLike | None = None
) -> FitResult:
    """Fit Gamma-Gamma spend on repeat buyers (x > 0, mean repeat spend > 0); others ignored."""
    x, m = _as_array(frequency, "frequency"), _as_array(monetary, "monetary")
    if len(x) != len(m):
        raise ClvError(gettext("frequency and monetary must have the same length"))
    w = _check_weights(weights, len(x))
    if np.any(m < 0):
        raise ClvError(gettext("monetary values cannot be negative"))
    keep = (x > 0) & (m > 0) & (w > 0 if w is not None else True)
    if not np.any(keep):
        raise ClvError(
            gettext("Gamma-Gamma needs repeat buyers with spend above 0; there are none")
        )
    (cx, cm), cw, _ = collapse((x[keep], m[keep]), None if w is None else w[keep])
    ix, ux = _factorize(cx)
    mean = float(np.average(cm, weights=cw))
    start = np.array([1.0, 2.0, mean])

    def objective(params: Array) -> tuple[float, Array]:
        return _gg_ll(cx, cm, cw, ux, ix, params)

    return _fit("gamma_gamma", objective, start, float(cw.sum()), len(cw))


# --------------------------------------------------------------------------------------------
# Predictions


def _params(fit: FitResult, model: str | tuple[str, ...]) -> tuple[float, ...]:
    models = (model,) if isinstance(model, str) else model
    if fit.model not in models:
        raise ClvError(
            gettext("expected a %(want)s fit, got %(got)s")
            % {"want": " or ".join(models), "got": fit.model}
        )
    return tuple(fit.params[name] for name in PARAM_NAMES[fit.model])


def _bgnbd_dropout_odds(params: tuple[float, ...], x: Array, t: Array, T: Array) -> Array:
    """ln of the odds D that a customer dropped out right after the last purchase."""
    r, alpha, a, b = params
    with np.errstate(divide="ignore"):
        d = math.log(a) - np.log(b + x - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t))
    return np.where(x > 0, d, -np.inf)


def _pnbd_p_alive(params: tuple[float, ...], x: Array, t: Array, T: Array) -> Array:
    """P(alive) = the alive term's share of the likelihood, on distinct rows, gathered back."""
    (ux, ut, uT), _, inverse = collapse((x, t, T))
    # collapse() keeps first-appearance order, so prep's rows are ux, ut, uT in that order.
    prep = _prepare_rows(ux, ut, uT, np.ones(len(ux)))
    pairs = _pairs(prep)
    array = np.array(params)
    ln_j, _ = _ln_tail(array[0] + pairs.x, array[2] + 1, pairs.c, array[1], array[3])
    e0, e1, e2, _ = _pnbd_shares(*_pnbd_rows(prep, pairs, array, ln_j))
    return np.asarray((e0 / (e0 + e1 - e2))[inverse], dtype=np.float64)


def p_alive(
    fit: FitResult, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
) -> Array:
    """Probability that each customer is still active at the end of the calibration period."""
    x, t, age = _check_rfm(frequency, recency, T)
    params = _params(fit, ("bgnbd", "paretonbd"))
    if fit.model == "bgnbd":
        return np.asarray(expit(-_bgnbd_dropout_odds(params, x, t, age)), dtype=np.float64)
    return _pnbd_p_alive(params, x, t, age)


def _bgnbd_expected(
    params: tuple[float, ...], horizon: float, x: Array, T: Array, alive: Array
) -> Array:
    """E[purchases in (T, T+t]] for BG/NBD (FHL 2005 eq. 10), with Euler's transform of 2F1 so
    that heavy buyers' large parameters cannot overflow it."""
    r, alpha, a, b = params
    (ux, uT), _, inverse = collapse((x, T))
    uz = horizon / (alpha + uT + horizon)
    f = (1 - uz) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b + ux - 1, uz)
    return np.asarray((a + b + x - 1) / (a - 1) * (1 - f[inverse]) * alive, dtype=np.float64)


def _pnbd_expected(
    params: tuple[float, ...], horizon: float, x: Array, T: Array, alive: Array
) -> Array:
    """E[purchases in (T, T+t]] for Pareto/NBD (Fader & Hardie 2005 note, eq. 20)."""
    r, alpha, s, beta = params
    g = np.log1p(horizon / (beta + T))
    shape = s - 1
    ratio = g if abs(shape) < 1e-10 else -np.expm1(-shape * g) / shape
    return np.asarray((r + x) * (beta + T) / (alpha + T) * ratio * alive, dtype=np.float64)


def _expected(fit: FitResult, horizon: float, x: Array, t: Array, T: Array, alive: Array) -> Array:
    params = _params(fit, ("bgnbd", "paretonbd"))
    if fit.model == "bgnbd":
        return _bgnbd_expected(params, horizon, x, T, alive)
    return _pnbd_expected(params, horizon, x, T, alive)


def expected_purchases(
    fit: FitResult,
    t: float,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
) -> Array:
    """Expected number of purchases of each customer in the next ``t`` periods."""
    if not t >= 0:
        raise ClvError(gettext("the horizon must be 0 or more periods"))
    x, tx, age = _check_rfm(frequency, recency, T)
    return _expected(fit, float(t), x, tx, age, p_alive(fit, x, tx, age))


def expected_spend(fit: FitResult, frequency: npt.ArrayLike, monetary: npt.ArrayLike) -> Array:
    """Gamma-Gamma expected spend per future purchase: a credibility-weighted mean of the
    customer's own average and the population mean (the population mean for x = 0)."""
    p, q, gamma = _params(fit, "gamma_gamma")
    if q <= 1:
        raise ClvError(gettext("the spend model has q ≤ 1: its mean spend is infinite"))
    x = _as_array(frequency, "frequency")
    m = np.where(x > 0, _as_array(monetary, "monetary"), 0.0)
    return np.asarray((p * (gamma + x * m)) / (p * x + q - 1), dtype=np.float64)


def expected_value(
    repeat_fit: FitResult,
    spend_fit: FitResult,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    monetary: npt.ArrayLike,
    horizon_periods: int,
    discount_rate_per_period: float = 0.0,
) -> Array:
    """Discounted expected spend over the next ``horizon_periods``: the purchases expected in
    each period, discounted at the period's end, times the expected spend per purchase."""
    if horizon_periods < 0 or discount_rate_per_period <= -1:
        raise ClvError(
            gettext("the horizon must be 0 or more periods and the discount rate more than -1")
        )
    x, _t, _age = _check_rfm(frequency, recency, T)
    spend = expected_spend(spend_fit, x, monetary)
    purchases = discounted_purchases(
        repeat_fit, frequency, recency, T, horizon_periods, discount_rate_per_period
    )
    return np.asarray(purchases * spend, dtype=np.float64)


def discounted_purchases(
    repeat_fit: FitResult,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    horizon_periods: int,
    discount_rate_per_period: float = 0.0,
) -> Array:
    """The purchases expected in each of the next ``horizon_periods``, each discounted at its
    period's end, summed: times a spend per purchase, the customer's expected value."""
    if horizon_periods < 0 or discount_rate_per_period <= -1:
        raise ClvError(
            gettext("the horizon must be 0 or more periods and the discount rate more than -1")
        )
    x, t, age = _check_rfm(frequency, recency, T)
    (ux, ut, uT), _, inverse = collapse((x, t, age))
    alive = p_alive(repeat_fit, ux, ut, uT)
    discounted, before = np.zeros(len(ux)), np.zeros(len(ux))
    for period in range(1, horizon_periods + 1):
        cumulative = _expected(repeat_fit, float(period), ux, ut, uT, alive)
        discounted += (cumulative - before) / (1 + discount_rate_per_period) ** period
        before = cumulative
    return np.asarray(discounted[inverse], dtype=np.float64)
