"""Metrics of docs/model.md §8, computed from true tables (evaluation only).

- **percent of reference**: payoff / reference payoff, ``100 (1 - (ref - payoff) / scale)``
  with ``scale = max(|ref|, c)``: equal to ``100 payoff / ref`` whenever the
  reference is at least ``c``, and still meaningful where the reference is 0
  (against unconditional defectors, 99% means losing at most ``0.01 c`` per round);
- **adherence**: over the reference's strict contexts, weighted by how often
  each context occurs under the learner's stationary play, the probability the
  learner puts on the reference output;
- **context sensitivity** of a head: the largest difference between its output
  probabilities over the contexts that occur; a head is **collapsed** when it is
  below 0.1 while the reference head is not constant over those contexts.

- **share of the achievable gain**: ``(payoff - start) / (reference - start)``, with
  ``start`` the payoff of the learner's start tables (its warm-up tables, or for a
  random start the mean payoff of random tables, ``random_start_payoff``);
- **table distance**: the mean over the reference's strict contexts of
  ``|p_own - p_ref|`` (both heads; an L1 distance per strict context);
- **collapse measurable** per head: the reference head takes values more than
  ``COLLAPSED`` apart over its strict contexts (otherwise a collapsed head cannot be
  told apart from the optimum).

Occurrence of a context is measured per round: the learner's action
context ``(x_own, x_rec)`` when it is donor (once per round), its signal context
``(a, x_donor, x_rec)`` when it observes (``q k`` times per round, at the action it
perceives); contexts occurring below ``OCCURS`` (relative to the head's total) do
not count.
"""

from __future__ import annotations

import torch

from recigrad.evaluation.candidates import payoff_of
from recigrad.evaluation.models import evaluate
from recigrad.game import Game, observable

OCCURS = 1e-3
COLLAPSED = 0.1
GAIN_FLOOR = 1e-6  # share of gain is NaN where reference - start is below this many c per round
START_DRAWS = 1024  # random tables drawn to estimate the mean payoff of a random start
START_SEED = 0  # their torch.Generator seed (fixed: the estimate is the same in every run)


def context_weights(act: torch.Tensor, sig: torch.Tensor, good: torch.Tensor, agent: int, game: Game):
    """Occurrence of agent ``agent``'s action contexts ``(B, 2, 2)`` and signal contexts
    ``(B, 2, 2, 2)`` per round, from good probabilities ``good (B, N)`` (reputations treated
    as independent; docs/model.md §8, (29a)).

    The agent is donor once per round; it observes ``q k`` times per round (``q``: observation
    probability, ``k`` observers drawn from a pool that holds it whenever it is not the donor,
    nor the recipient when ``game.recipient_observes`` is false), and it signals at the action it
    *perceives*, the realised one flipped with probability ``game.perception_error``.

    Args:
        act: intended action tables ``(B, N, 2, 2)``.
        sig: intended signal tables ``(B, N, 2, 2, 2)``.
        good: good probabilities ``(B, N)`` (e.g. ``evaluate(...)[0].good``).
        agent: the agent whose contexts are weighed.
        game: the game (errors and how reputations form).

    Returns:
        ``(act_w (B, 2, 2), sig_w (B, 2, 2, 2))``: expected occurrences per round of each action
        context (agent is donor; they sum to 1) and signal context (agent observes, at the
        perceived action; they sum to ``q k``).  With the default game both are the
        probabilities per interaction in which the agent is donor / observer, divided by ``1/N``.
    """
    n = act.shape[1]
    pc, _ = observable(act, sig, game)
    g = good.detach()
    others = (g.sum(1, keepdim=True) - g) / (n - 1)  # mean good of the recipients of each donor
    p_rep = torch.stack([1 - g, g], -1)  # (B, N, 2)
    p_rec = torch.stack([1 - others, others], -1)  # (B, N, 2)
    act_w = p_rep[:, agent, :, None] * p_rec[:, agent, None, :]
    # as observer: donor d != agent, recipient r != d (r != agent too when the recipient may not observe)
    if not game.recipient_observes:
        others = (g.sum(1, keepdim=True) - g - g[:, agent, None]) / (n - 2)
        p_rec = torch.stack([1 - others, others], -1)
    joint = p_rep[:, :, :, None] * p_rec[:, :, None, :]  # (B, d, x_d, x_r)
    action = torch.stack([1 - pc, pc], 2)  # (B, d, a, x_d, x_r)
    if game.perception_error:  # the context the observer sees: the perceived action
        action = (1 - game.perception_error) * action + game.perception_error * action.flip(2)
    sig_w = action * joint[:, :, None]
    mask = torch.ones(n, dtype=g.dtype)
    mask[agent] = 0.0
    sig_w = (sig_w * mask[None, :, None, None, None]).sum(1) / (n - 1)
    if not game.plain_formation:  # q k observations per round (the pool's size cancels)
        sig_w = sig_w * (game.observation * game.observers)
    return act_w, sig_w


def adherence(own, reference, strict, weights) -> torch.Tensor:
    """``(B,)``: occurrence-weighted probability of the reference output over strict contexts
    (NaN where there are none).  Tables ``(B, ...)`` of one head or both heads flattened.

    Args:
        own: the learner's probabilities ``(B, ...)``.
        reference: the reference's probabilities, same shape.
        strict: 1 where the reference's entry is strict, same shape.
        weights: occurrence probabilities of the contexts, same shape.

    Returns:
        ``(B,)`` adherence in ``[0, 1]``, NaN where no strict context occurs.
    """
    agree = reference * own + (1 - reference) * (1 - own)
    w = weights * strict
    total = w.flatten(1).sum(1)
    return torch.where(total > 0, (w * agree).flatten(1).sum(1) / total.clamp_min(1e-300), torch.nan)


def sensitivity(head: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``(B,)``: largest difference of the head's probabilities over contexts that occur
    (weight at least ``OCCURS`` of the head's total; 0 where none does).

    Args:
        head: one head's probabilities ``(B, ...)`` (``(B, 2, 2)`` or ``(B, 2, 2, 2)``).
        weights: occurrence probabilities of its contexts, same shape.

    Returns:
        ``(B,)`` sensitivity in ``[0, 1]``.
    """
    flat, w = head.flatten(1), weights.flatten(1)
    occurs = (w >= OCCURS * w.sum(1, keepdim=True)) & (w > 0)
    high = torch.where(occurs, flat, -torch.inf).max(1).values
    low = torch.where(occurs, flat, torch.inf).min(1).values
    return (high - low).clamp_min(0.0)


def percent_of_reference(payoff: torch.Tensor, reference: torch.Tensor, game: Game) -> torch.Tensor:
    """``100 payoff / reference``, with the reference's scale floored at the cost ``c``.

    Args:
        payoff: the learner's payoff per round ``(B,)``.
        reference: the reference payoff ``(B,)`` (or broadcastable).
        game: the game (its cost ``c`` floors the scale).

    Returns:
        ``(B,)`` percent of reference (100 at the reference).
    """
    scale = reference.abs().clamp_min(game.c)
    return 100.0 * (1.0 - (reference - payoff) / scale)


def share_of_gain(payoff: torch.Tensor, start: torch.Tensor, reference: torch.Tensor, game: Game) -> torch.Tensor:
    """``(payoff - start) / (reference - start)``: 0 at the start tables, 1 at the reference;
    NaN where the reference gains less than ``GAIN_FLOOR c`` per round over the start.

    Args:
        payoff: the learner's payoff per round ``(B,)``.
        start: the payoff of its start tables (``(B,)`` or broadcastable).
        reference: the reference payoff (``(B,)`` or broadcastable).
        game: the game (its cost ``c`` scales the floor).

    Returns:
        ``(B,)`` share of the achievable gain.
    """
    gain = reference - start
    return torch.where(gain > GAIN_FLOOR * game.c, (payoff - start) / gain.clamp_min(GAIN_FLOOR * game.c), torch.nan)


def table_distance(own_act, own_sig, ref) -> torch.Tensor:
    """``(B,)``: mean of ``|p_own - p_ref|`` over the reference's strict contexts, both heads
    (NaN where the reference has no strict context).

    Args:
        own_act: the learner's action table ``(B, 2, 2)``.
        own_sig: its signal table ``(B, 2, 2, 2)``.
        ref: its ``Reference`` (batch 1 or ``B``).

    Returns:
        ``(B,)`` distance in ``[0, 1]``.
    """
    diff = torch.cat([(own_act - ref.act).abs().flatten(1), (own_sig - ref.sig).abs().flatten(1)], 1)
    strict = torch.cat([ref.strict_act.flatten(1), ref.strict_sig.flatten(1)], 1).to(diff.dtype).expand_as(diff)
    count = strict.sum(1)
    return torch.where(count > 0, (diff * strict).sum(1) / count.clamp_min(1.0), torch.nan)


def collapse_measurable(ref) -> tuple[torch.Tensor, torch.Tensor]:
    """Per head, whether collapse can be seen: the reference head's entries on its strict
    contexts differ by more than ``COLLAPSED`` (a head constant there, such as "everyone is
    bad", cannot be told apart from a collapsed one).

    Args:
        ref: a ``Reference`` (batch ``B``).

    Returns:
        ``(action (B,), signal (B,))`` booleans.
    """
    def spread(head, strict):
        flat, mask = head.flatten(1), strict.flatten(1)
        high = torch.where(mask, flat, -torch.inf).max(1).values
        low = torch.where(mask, flat, torch.inf).min(1).values
        return torch.where(mask.any(1), high - low, 0.0) > COLLAPSED

    return spread(ref.act, ref.strict_act), spread(ref.sig, ref.strict_sig)


def random_start_payoff(act, sig, agent: int, game: Game, draws: int = START_DRAWS,
                        seed: int = START_SEED) -> tuple[float, float]:
    """Mean payoff of random tables for ``agent`` (Monte Carlo), everyone else's tables fixed.

    The random tables are those of a random start (docs/model.md §6): ``sigmoid`` of 12
    independent standard-normal logits, the first 4 the action table (row-major), the next
    8 the signal table.  ``draws`` of them come from a ``torch.Generator`` seeded ``seed``
    (so the estimate is the same in every run); each is judged by
    ``recigrad.evaluation.candidates.payoff_of`` (the exact chain when ``N <= 12``, lumped
    where opponents are alike and chunked by memory; mean field above).

    Args:
        act: intended action tables of the population ``(1, N, 2, 2)`` (the agent's row is replaced).
        sig: intended signal tables ``(1, N, 2, 2, 2)``.
        agent: the agent whose tables are drawn.
        game: the game.
        draws: random tables drawn.
        seed: the generator's seed.

    Returns:
        ``(mean, standard_error)`` of the payoff per round.
    """
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(draws, 12, generator=generator, dtype=torch.float64).to(act.dtype)
    cand_act, cand_sig = torch.sigmoid(z[:, :4]).view(1, draws, 2, 2), torch.sigmoid(z[:, 4:]).view(1, draws, 2, 2, 2)
    with torch.no_grad():  # lumped where opponents are alike, chunked by memory
        payoff = payoff_of(act, sig, agent, cand_act, cand_sig, game)[0]
    se = float(payoff.std() / draws**0.5) if draws > 1 else float("nan")
    return float(payoff.mean()), se


def learner_report(act, sig, agent: int, game: Game, ref=None, start=None) -> dict[str, torch.Tensor]:
    """Per-population metrics of one learner, everyone's true tables given.

    Args:
        act: intended action tables ``(B, N, 2, 2)``.
        sig: intended signal tables ``(B, N, 2, 2, 2)``.
        agent: the learner.
        game: the game (payoffs from ``evaluate``: exact chain when ``N <= 12``).
        ref: the learner's ``Reference`` (batch 1 or ``B``), or ``None``.
        start: the payoff of the learner's start tables (a number or ``(B,)``), or ``None``.

    Returns:
        ``(B,)`` tensors by name: ``payoff``, ``action_sensitivity``,
        ``signal_sensitivity``; with ``ref`` also ``reference``,
        ``percent_of_reference``, ``adherence``, ``table_distance``, ``action_collapsed``,
        ``signal_collapsed`` and ``collapsed`` (booleans); with ``ref`` and ``start`` also
        ``share_of_gain``.
    """
    solution, _ = evaluate(act, sig, game)
    act_w, sig_w = context_weights(act, sig, solution.good, agent, game)
    own_act, own_sig = act[:, agent], sig[:, agent]
    out = {
        "payoff": solution.payoff[:, agent],
        "action_sensitivity": sensitivity(own_act, act_w),
        "signal_sensitivity": sensitivity(own_sig, sig_w),
    }
    if ref is not None:
        ref_act, ref_sig = ref.act.expand_as(own_act), ref.sig.expand_as(own_sig)
        out["reference"] = ref.payoff.expand_as(out["payoff"])
        out["percent_of_reference"] = percent_of_reference(out["payoff"], out["reference"], game)
        both = lambda a, s: torch.cat([a.flatten(1), s.flatten(1)], 1)  # noqa: E731
        out["adherence"] = adherence(
            both(own_act, own_sig), both(ref_act, ref_sig),
            both(ref.strict_act.expand_as(own_act), ref.strict_sig.expand_as(own_sig)).to(act.dtype),
            both(act_w, sig_w),
        )
        # the reference head counts as non-constant over the strict contexts that occur
        ref_act_sens = sensitivity(ref_act, act_w * ref.strict_act)
        ref_sig_sens = sensitivity(ref_sig, sig_w * ref.strict_sig)
        out["action_collapsed"] = (out["action_sensitivity"] < COLLAPSED) & (ref_act_sens > COLLAPSED)
        out["signal_collapsed"] = (out["signal_sensitivity"] < COLLAPSED) & (ref_sig_sens > COLLAPSED)
        out["collapsed"] = out["action_collapsed"] | out["signal_collapsed"]
        out["table_distance"] = table_distance(own_act, own_sig, ref)
        if start is not None:
            start_t = torch.as_tensor(start, dtype=out["payoff"].dtype).expand_as(out["payoff"])
            out["share_of_gain"] = share_of_gain(out["payoff"], start_t, out["reference"], game)
    return out


def society_report(act, sig, learners: list[int], game: Game) -> dict[str, torch.Tensor]:
    """Mean payoff of the learners and cooperation rate, all learners' tables true.

    Args:
        act: intended action tables ``(B, N, 2, 2)``.
        sig: intended signal tables ``(B, N, 2, 2, 2)``.
        learners: the learning agents.
        game: the game (payoffs from ``evaluate``: exact chain when ``N <= 12``).

    Returns:
        ``(B,)`` tensors by name: ``mean_payoff`` (of the learners) and
        ``cooperation`` (realised C per interaction, everyone).
    """
    solution, _ = evaluate(act, sig, game)
    return {
        "mean_payoff": solution.payoff[:, learners].mean(1),
        "cooperation": solution.cooperation,
    }
