"""The cascade user model: ads are read one after another, clicks end the reading."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import check_int, check_probability, check_rng
from ..allocation import check_allocation
from ..instance import Instance
from .base import UserModel

__all__ = ["Cascade", "optimal_reading_order", "reading_order_key"]

OrderMode = Literal["optimized", "fixed"]
_ORDERS = ("optimized", "fixed")
#: Users simulated per vectorised batch in :meth:`Cascade.simulate_clicks`.
_SIM_BATCH = 65_536


def reading_order_key(
    value: ArrayLike, continuation: ArrayLike
) -> NDArray[np.float64]:
    r"""Sort key ``value / (1 - continuation)`` of the exchange argument.

    Parameters
    ----------
    value : array_like of shape (k,)
        ``c_i p_ij`` of each shown pair (coefficient times standalone CTR).
    continuation : array_like of shape (k,)
        ``q_ij`` of each shown pair, in ``[0, 1]``.

    Returns
    -------
    ndarray of shape (k,)
        ``value / (1 - continuation)``; where ``continuation == 1`` the key is
        ``+inf``, ``0`` or ``-inf`` with the sign of ``value``.

    Examples
    --------
    >>> reading_order_key([0.2, 0.3, 0.1], [0.5, 0.5, 1.0]).tolist()
    [0.4, 0.6, inf]
    """
    a = np.asarray(value, dtype=np.float64)
    q = np.asarray(continuation, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        key = a / (1.0 - q)
    edge = np.where(a > 0, np.inf, np.where(a < 0, -np.inf, 0.0))
    return np.asarray(np.where(q < 1.0, key, edge), dtype=np.float64)


def optimal_reading_order(
    value: ArrayLike, continuation: ArrayLike, positions: ArrayLike
) -> NDArray[np.int64]:
    r"""Best reading order of a fixed set of shown ads (the exchange argument).

    Parameters
    ----------
    value : array_like of shape (k,)
        ``a_t = c_i p_ij`` of the ``k`` shown pairs.
    continuation : array_like of shape (k,)
        ``q_t = q_ij`` of the same pairs.
    positions : array_like of int, shape (k,)
        Their positions (distinct).

    Returns
    -------
    ndarray of int, shape (k,)
        The positions sorted by decreasing ``a_t / (1 - q_t)``
        (:func:`reading_order_key`), ties by increasing position index.

    Notes
    -----
    The objective of a reading order ``t_1, t_2, ...`` is
    ``sum_s a_{t_s} prod_{u < s} q_{t_u}``. Swapping two adjacent pairs ``t``,
    ``u`` read after a prefix of reach ``R`` changes only their two terms:
    ``R (a_t + q_t a_u)`` against ``R (a_u + q_u a_t)``, so ``t`` should come
    first exactly when ``a_t (1 - q_u) >= a_u (1 - q_t)``, i.e. when
    ``a_t / (1 - q_t) >= a_u / (1 - q_u)`` (with the ``q = 1`` conventions of
    :func:`reading_order_key`, which keep the comparison a total preorder). Any
    order that is not sorted has an adjacent inversion whose swap does not lower
    the objective, so a sorted order is optimal; pairs with equal keys can be
    swapped at no cost, hence the deterministic tie-break by position index. This
    is the classic argument for cascade ad auctions (Kempe & Mahdian 2008;
    Aggarwal, Feldman, Muthukrishnan & Pal 2008).

    Examples
    --------
    >>> optimal_reading_order([0.2, 0.3, 0.1], [0.5, 0.9, 1.0], [0, 1, 2]).tolist()
    [2, 1, 0]
    """
    pos = np.asarray(positions, dtype=np.int64).reshape(-1)
    a = np.asarray(value, dtype=np.float64).reshape(-1)
    q = np.asarray(continuation, dtype=np.float64).reshape(-1)
    if not a.shape == q.shape == pos.shape:
        raise ValueError(
            "`value`, `continuation` and `positions` must have the same length; "
            f"got {a.size}, {q.size} and {pos.size}"
        )
    key = reading_order_key(a, q)
    return pos[np.lexsort((pos, -key))]


class Cascade(UserModel):
    r"""Cascade users: the shown ads are read in order, each click may end the reading.

    Reading creative ``k`` at position ``l`` the user clicks with probability
    ``p[k, l]``; after a click they go on with probability ``gc_k``
    (``continue_after_click``), after no click with probability ``gs_k``
    (``continue_after_skip``). With ``q[k, l] = p[k, l] gc_k + (1 - p[k, l]) gs_k``,

    .. math:: \pi_i = p_{i j_i} \prod_{k \text{ read before } i} q_{k j_k}.

    Parameters
    ----------
    continue_after_click : float or array_like of shape (n_advertisers,), default 0
        ``gc``: probability of reading on after clicking, in ``[0, 1]``.
    continue_after_skip : float or array_like of shape (n_advertisers,), default 1
        ``gs``: probability of reading on after not clicking, in ``[0, 1]``.
    order : {"optimized", "fixed"}, default "optimized"
        ``"optimized"``: the mechanism chooses the reading order (the augmented
        allocation of Balseiro et al. 2025); ``"fixed"``: positions are read in
        index order ``0, 1, 2, ...`` (the content's own order).

    Raises
    ------
    ValueError
        If a continuation probability is outside ``[0, 1]`` or not a scalar / 1-D
        array, or ``order`` is not one of the two modes. Array lengths are checked
        against the instance when the model is used.
    TypeError
        If a parameter is not numeric (``order``: not a string).

    Notes
    -----
    Special cases (``docs/cascade.md``): ``gc = 0, gs = 1`` is the classic cascade
    with at most one click (Craswell et al. 2008); ``gc = gs = q_i`` Markovian users
    (Kempe & Mahdian 2008; Aggarwal et al. 2008); ``gc = gs = 1`` no externalities,
    ``pi_i = p[i, j_i]`` (with separable ``p`` the classic position auction).

    ``order=None`` in :meth:`ctr` means the shown positions are read in index
    order, in both modes: click probabilities are a property of an allocation
    *and* its order, and the best order depends on the objective coefficients,
    which :meth:`ctr` does not know. Use :meth:`reading_order` to get the order a
    solver would use for given coefficients. In ``"fixed"`` mode an explicit
    ``order`` must be increasing.

    Examples
    --------
    >>> import aigc_auction as aa
    >>> inst = aa.Instance(ctr=[[0.5, 0.2], [0.4, 0.4]])
    >>> model = aa.Cascade()
    >>> model.ctr(inst, [0, 1])  # ad 0 read first; ad 1 reached with prob 1 - 0.5
    array([0.5, 0.2])
    >>> model.ctr(inst, [0, 1], [1, 0])  # ad 1 (position 1) read first
    array([0.3, 0.4])
    >>> aa.Cascade(continue_after_click=1.0).ctr(inst, [0, 1])
    array([0.5, 0.4])
    """

    name: ClassVar[str] = "cascade"
    order_sensitive: ClassVar[bool] = True

    def __init__(
        self,
        *,
        continue_after_click: float | ArrayLike = 0.0,
        continue_after_skip: float | ArrayLike = 1.0,
        order: OrderMode = "optimized",
    ) -> None:
        self.continue_after_click = check_probability(
            continue_after_click, "continue_after_click"
        )
        self.continue_after_skip = check_probability(
            continue_after_skip, "continue_after_skip"
        )
        if not isinstance(order, str):
            raise TypeError(
                f"`order` must be one of {list(_ORDERS)}; got {type(order).__name__}"
            )
        if order not in _ORDERS:
            raise ValueError(f"`order` must be one of {list(_ORDERS)}; got {order!r}")
        self.order: OrderMode = order

    # -- parameters ------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, as a dict (scikit-learn style)."""
        return {
            "continue_after_click": self.continue_after_click,
            "continue_after_skip": self.continue_after_skip,
            "order": self.order,
        }

    def continuation_params(
        self, n_advertisers: int
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(gc, gs)`` as arrays of shape ``(n_advertisers,)``.

        Raises
        ------
        ValueError
            If an array parameter does not have one entry per advertiser.
        """
        n = check_int(n_advertisers, "n_advertisers", low=1)
        out = []
        for name in ("continue_after_click", "continue_after_skip"):
            v = getattr(self, name)
            if isinstance(v, float):
                out.append(np.full(n, v))
            elif v.shape != (n,):
                raise ValueError(
                    f"`{name}` must be a scalar or have one entry per advertiser "
                    f"({n}); got shape {v.shape}"
                )
            else:
                out.append(np.asarray(v, dtype=np.float64))
        return out[0], out[1]

    def check_instance(self, instance: Instance) -> None:
        """Check the instance type and the lengths of array parameters."""
        if not isinstance(instance, Instance):
            raise TypeError(
                "`instance` must be an aigc_auction.Instance; "
                f"got {type(instance).__name__}"
            )
        self.continuation_params(instance.n_advertisers)

    def continuation(self, instance: Instance) -> NDArray[np.float64]:
        """``q[i, j] = p[i, j] gc_i + (1 - p[i, j]) gs_i``.

        Returns
        -------
        ndarray of shape (n_advertisers, n_positions)
            Probability of reading on after reading creative ``i`` at position
            ``j``.
        """
        self.check_instance(instance)
        gc, gs = self.continuation_params(instance.n_advertisers)
        p = instance.ctr
        q = p * gc[:, None] + (1.0 - p) * gs[:, None]
        return np.clip(q, 0.0, 1.0)

    @property
    def is_classic_key(self) -> bool:
        """Whether the reading key ``c p / (1 - q)`` depends on the advertiser only.

        True when ``continue_after_skip == 1`` for everybody: then
        ``1 - q = p (1 - gc)`` and the key is ``c_i / (1 - gc_i)``.
        """
        return bool(np.all(np.asarray(self.continue_after_skip) == 1.0))

    @property
    def order_irrelevant(self) -> bool:
        """Whether ``q == 1`` always (``gc = gs = 1``): no externalities at all."""
        return bool(
            np.all(np.asarray(self.continue_after_skip) == 1.0)
            and np.all(np.asarray(self.continue_after_click) == 1.0)
        )

    # -- click probabilities -----------------------------------------------------
    def _allocation(
        self, instance: Instance, assignment: ArrayLike, order: ArrayLike | None
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        self.check_instance(instance)
        a, o = check_allocation(instance, assignment, order)
        if self.order == "fixed" and o.size > 1 and np.any(np.diff(o) < 0):
            raise ValueError(
                "`order` must be increasing under Cascade(order='fixed'), where "
                f"positions are read in index order; got {o.tolist()}"
            )
        return a, o

    def ctr(
        self, instance: Instance, assignment: ArrayLike, order: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """Click probability of every advertiser.

        Parameters
        ----------
        instance : Instance
        assignment : array_like of int, shape (n_advertisers,)
            Position of each advertiser, ``-1`` when not shown.
        order : array_like of int, optional
            The shown positions in reading order. ``None``: index order (in both
            modes; see the class Notes). Must be increasing when
            ``order="fixed"``.

        Returns
        -------
        ndarray of shape (n_advertisers,)
            ``pi_i = p[i, j_i] prod_{k read before i} q[k, j_k]`` (0 when not shown).
        """
        a, o = self._allocation(instance, assignment, order)
        out = np.zeros(instance.n_advertisers)
        if o.size == 0:
            return out
        q = self.continuation(instance)
        inv = np.full(instance.n_positions, -1, dtype=np.int64)
        shown = np.flatnonzero(a >= 0)
        inv[a[shown]] = shown
        ads = inv[o]
        reach = np.cumprod(np.concatenate(([1.0], q[ads[:-1], o[:-1]])))
        out[ads] = instance.ctr[ads, o] * reach
        return out

    def reading_order(
        self, instance: Instance, assignment: ArrayLike, coef: ArrayLike
    ) -> NDArray[np.int64]:
        """The reading order a solver uses for ``assignment`` and coefficients ``coef``.

        ``"fixed"``: the shown positions in increasing order. ``"optimized"``:
        :func:`optimal_reading_order` of the shown pairs, which maximises
        ``sum_i coef[i] ctr_i`` for this assignment.

        Parameters
        ----------
        instance : Instance
        assignment : array_like of int, shape (n_advertisers,)
        coef : array_like of shape (n_advertisers,)
            Objective coefficients (bids or virtual values).

        Returns
        -------
        ndarray of int, shape (n_shown,)

        Examples
        --------
        >>> import aigc_auction as aa
        >>> inst = aa.Instance(ctr=[[0.5, 0.2], [0.4, 0.4]])
        >>> aa.Cascade().reading_order(inst, [0, 1], [0.1, 1.0]).tolist()
        [1, 0]
        """
        a, _ = self._allocation(instance, assignment, None)
        shown = np.flatnonzero(a >= 0)
        pos = a[shown]
        if self.order == "fixed" or shown.size <= 1:
            return np.sort(pos)
        c = np.asarray(coef, dtype=np.float64)
        if c.shape != (instance.n_advertisers,):
            raise ValueError(
                f"`coef` must have shape ({instance.n_advertisers},); got {c.shape}"
            )
        q = self.continuation(instance)
        return optimal_reading_order(c[shown] * instance.ctr[shown, pos], q[shown, pos], pos)

    # -- simulation ----------------------------------------------------------------
    def simulate_clicks(
        self,
        instance: Instance,
        assignment: ArrayLike,
        order: ArrayLike | None = None,
        *,
        n_users: int,
        rng: Any = None,
    ) -> NDArray[np.float64]:
        """Monte Carlo click rates of simulated cascade users.

        Each user reads the shown ads in ``order``; at creative ``k`` (position
        ``l``) they click with probability ``p[k, l]``, then read on with
        probability ``gc_k`` after a click and ``gs_k`` otherwise.

        Parameters
        ----------
        instance : Instance
        assignment : array_like of int, shape (n_advertisers,)
        order : array_like of int, optional
            As in :meth:`ctr` (``None``: index order).
        n_users : int
            Number of simulated users (>= 1).
        rng : None, int, SeedSequence or numpy Generator, optional
            Randomness, normalised with :func:`numpy.random.default_rng`.

        Returns
        -------
        ndarray of shape (n_advertisers,)
            Fraction of users who clicked each advertiser; it converges to
            :meth:`ctr` as ``n_users`` grows (standard error
            ``sqrt(pi (1 - pi) / n_users)``).

        Examples
        --------
        >>> import aigc_auction as aa
        >>> inst = aa.Instance(ctr=[[0.5, 0.2], [0.4, 0.4]])
        >>> rates = aa.Cascade().simulate_clicks(inst, [0, 1], n_users=20000, rng=0)
        >>> bool(abs(rates[1] - 0.2) < 0.02)
        True
        """
        a, o = self._allocation(instance, assignment, order)
        users = check_int(n_users, "n_users", low=1)
        gen = check_rng(rng)
        counts = np.zeros(instance.n_advertisers)
        if o.size == 0:
            return counts
        gc, gs = self.continuation_params(instance.n_advertisers)
        inv = np.full(instance.n_positions, -1, dtype=np.int64)
        shown = np.flatnonzero(a >= 0)
        inv[a[shown]] = shown
        ads = inv[o]
        p = instance.ctr[ads, o]
        total = np.zeros(ads.size)
        done = 0
        while done < users:
            b = min(_SIM_BATCH, users - done)
            u = gen.random((b, ads.size, 2))
            click = u[:, :, 0] < p
            go_on = np.where(click, u[:, :, 1] < gc[ads], u[:, :, 1] < gs[ads])
            # reads[:, t]: the user reached the t-th ad (went on after all before)
            reads = np.ones((b, ads.size), dtype=bool)
            reads[:, 1:] = np.cumprod(go_on[:, :-1], axis=1).astype(bool)
            total += np.count_nonzero(click & reads, axis=0)
            done += b
        counts[ads] = total / users
        return counts
