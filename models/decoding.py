"""Decoding for every model of :mod:`models.base`: batched greedy search and batched beam
search, both padding-aware (the source mask goes to the model) and stopping at ``<eos>``.

Shapes: N sentences, S source length, L output length, K beam width.
"""
from __future__ import annotations

import numpy as np

from tinygrad_attn import kernels, no_grad


@no_grad()
def greedy_decode(model, src, src_padding_mask=None, *, start_id: int, max_len: int,
                  eos_id: int | None = None):
    """Feed back the most likely token, for a whole batch at once.

    Parameters
    ----------
    model : a :class:`models.base.Seq2SeqModel`
    src : int array (N, S). src_padding_mask : bool (N, S) or None (True = padding).
    start_id : the first decoder input (``<sos>``, or ``_`` in the book's tasks).
    max_len : number of steps L (the fixed answer width of a character task).
    eos_id : if given, a sentence stops at its first ``eos_id`` (later positions are set to
        ``eos_id``), and decoding ends early once every sentence has stopped.

    Returns
    -------
    ids : int64 (N, L') with L' <= max_len, the output tokens (without the start symbol).
    weights : float32 (N, L', S) attention weights of each step, or None for a model
        without attention.
    """
    src = np.asarray(src)
    state = model.init_decoder(model.encode(src, src_padding_mask))
    prev = np.full(len(src), start_id, dtype=np.int64)
    done = np.zeros(len(src), dtype=bool)
    ids, weights = [], []
    for _ in range(max_len):
        logits, state, w = model.decode_step(prev, state)
        prev = logits.data.argmax(axis=-1).astype(np.int64)
        if eos_id is not None:
            prev = np.where(done, eos_id, prev)
            done |= prev == eos_id
        ids.append(prev)
        weights.append(None if w is None else w.data)
        if eos_id is not None and done.all():
            break
    out = np.stack(ids, axis=1) if ids else np.zeros((len(src), 0), np.int64)
    return out, (None if not weights or weights[0] is None else np.stack(weights, axis=1))


def length_penalty(length, alpha: float):
    """GNMT's length normalisation lp(Y) = ((5 + |Y|) / 6) ** alpha (Wu et al. 2016, eq. 14);
    beam hypotheses are ranked by log P(Y) / lp(Y). alpha = 0 ranks by log P(Y) alone."""
    return ((5.0 + np.asarray(length, dtype=np.float64)) / 6.0) ** alpha


def _top_k(scores, k: int):
    """Column indices (N, k) of each row's k largest ``scores`` (N, C), best first; ties
    go to the lower index (as a stable sort of ``-scores`` would). One partition and a
    sort of k columns instead of sorting all C = K * V candidates."""
    if k >= scores.shape[1]:
        return np.argsort(-scores, axis=1, kind="stable")
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(scores, part, axis=1).min(axis=1, keepdims=True)
    if (np.sum(scores >= kth, axis=1) > k).any():    # a tie at the boundary: sort it all
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]
    order = np.lexsort((part, -np.take_along_axis(scores, part, axis=1)), axis=1)
    return np.take_along_axis(part, order, axis=1)


@no_grad()
def beam_search(model, src, src_padding_mask=None, *, start_id: int, max_len: int,
                eos_id: int | None = None, beam_width: int = 4, alpha: float = 0.6,
                trace: list | None = None):
    """Batched beam search: each sentence keeps its ``beam_width`` best prefixes by total
    log-probability; a prefix ending in ``eos_id`` is finished and kept aside. The answer is
    the finished hypothesis with the best score log P(Y) / lp(Y) (see :func:`length_penalty`;
    unfinished beams count at ``max_len``). Sutskever et al. (2014, sec. 3.2) use beam search
    for seq2seq; the length penalty is GNMT's.

    Parameters: as :func:`greedy_decode`, plus ``beam_width`` K >= 1 and ``alpha`` (the
    length-penalty exponent). With K = 1 the result equals greedy decoding.
    trace : None, or a list to which each step appends one record of the search (see
        :func:`_trace_record`; drawn by ``viz.draw_beam_tree``). It only records: the
        result is the same with or without it, and None costs nothing.

    Returns
    -------
    ids : int64 (N, max_len), each row the best hypothesis, padded after its ``eos_id`` with
        ``eos_id`` (with no ``eos_id``: exactly ``max_len`` tokens).
    scores : float64 (N,), the best hypothesis's normalised score.

    Raises ValueError if ``beam_width`` < 1.
    """
    if beam_width < 1:
        raise ValueError(f"beam_search: beam_width must be >= 1, got {beam_width} (fix: 1 is "
                         f"greedy decoding)")
    src = np.asarray(src)
    N, K = len(src), beam_width
    # the first step has one live beam per sentence: it runs on the N sentences (state row
    # n); from then on beam b of sentence n is state row n*K+b
    state = model.init_decoder(model.encode(src, src_padding_mask))
    tokens = np.zeros((N * K, 0), dtype=np.int64)
    prev = np.full(N, start_id, dtype=np.int64)
    logp = np.zeros((N, 1))
    best = np.full(N, -np.inf)
    best_ids = np.full((N, max_len), eos_id if eos_id is not None else 0, dtype=np.int64)
    for step in range(max_len):
        logits, state, _ = model.decode_step(prev, state)
        step_logp = kernels.log_softmax_numpy(logits.data.astype(np.float64))
        V, live = step_logp.shape[1], logp.shape[1]               # live = 1 at step 0, then K
        total = np.full((N, K * V), -np.inf)
        total[:, :live * V] = (logp.reshape(N * live, 1) + step_logp).reshape(N, live * V)
        top = _top_k(total, K)                                    # (N, K) best extensions
        # when K > live * V some picks are -inf columns past the live beams: they stay dead
        # (logp -inf) and are pointed at the last live beam so their state row exists
        beam, token = np.minimum(top // V, live - 1), top % V
        logp = np.take_along_axis(total, top, axis=1)
        src_rows = (np.arange(N)[:, None] * live + beam).reshape(-1)   # rows of `state`
        tokens = np.concatenate([tokens[src_rows], token.reshape(-1, 1)], axis=1)
        # the memory rows are the same for all beams of a sentence: copied once (after the
        # first step) or never (a model whose decoder reads them per sentence)
        grouped = step > 0 or model.GROUPED_BEAMS
        state = model.reorder_state(state, src_rows, keep=model.MEMORY_KEYS if grouped else ())
        prev = token.reshape(-1).astype(np.int64)
        last = step == max_len - 1
        finished = (token == eos_id) if eos_id is not None else np.zeros((N, K), bool)
        ending = (finished | last) & np.isfinite(logp)
        score = np.where(ending, logp / length_penalty(step + 1, alpha), -np.inf)
        k, n = _keep_best(best, best_ids, score, tokens, step, eos_id)
        if trace is not None:
            trace.append(_trace_record(step, alpha, max_len, total, top, step_logp, logp,
                                       finished, score, best, k, n))
        logp = np.where(finished, -np.inf, logp)              # finished beams stop growing
        if eos_id is not None:
            bound = logp.max(axis=1) / length_penalty(max_len if alpha > 0 else step + 1, alpha)
            if (~np.isfinite(logp)).all() or (np.isfinite(best) & (best >= bound)).all():
                break   # no live beam can beat the finished answer any more
    return best_ids, best


def _keep_best(best, best_ids, score, tokens, step: int, eos_id):
    """Each sentence's best hypothesis ending at ``step`` (first beam on ties) replaces its
    answer (``best`` (N,), ``best_ids`` (N, max_len), updated in place) if it scores higher
    (``score`` (N, K), -inf where none ends). Returns (k, n): each sentence's best beam
    here and the sentences whose answer changed."""
    N, K = score.shape
    k = score.argmax(axis=1)
    n = np.nonzero(score[np.arange(N), k] > best)[0]
    if len(n):
        best[n] = score[n, k[n]]
        best_ids[n, :] = eos_id if eos_id is not None else 0
        best_ids[n, :step + 1] = tokens[n * K + k[n]]
    return k, n


def _trace_record(step, alpha, max_len, total, top, step_logp, logp, finished, score, best,
                  k, updated) -> dict:
    """One step of :func:`beam_search` as a dict of plain values and array copies (N
    sentences, K beam width, P <= K pruned candidates), for pictures and tests:

    step : int, from 0 (the hypotheses now hold step + 1 tokens). alpha, max_len : the
        search's. lp : float, length_penalty(step + 1, alpha). beam_width : K.
    parent : int64 (N, K), which hypothesis (0..K-1) of the previous step each kept one
        extends (0 at step 0, the start symbol). token : int64 (N, K), the token it appends.
    token_logp : float64 (N, K), log p(token | prefix, source), in nats.
    logp : float64 (N, K), log P of the hypothesis: the parent's logp + token_logp
        (-inf in a dead slot, when fewer than K finite extensions exist).
    finished : bool (N, K), the token is ``eos_id``: kept aside, it grows no further.
    score : float64 (N, K), logp / lp for a hypothesis that ends here (finished, or at
        max_len), -inf for the others.
    best : float64 (N,), the best score so far. chosen : int64 (N,), the k of the
        hypothesis that became the answer at this step, -1 if the answer did not change.
    pruned_parent, pruned_token, pruned_logp : (N, P), the P best extensions that were not
        kept, best first (pruned_logp -inf where there was none), as parent/token/logp.
    """
    N, K = top.shape
    V = step_logp.shape[1]
    live = step_logp.shape[0] // N
    rows = np.arange(N)[:, None]
    parent, token = np.minimum(top // V, live - 1), top % V
    token_logp = step_logp.reshape(N, live, V)[rows, parent, token]
    rest = total.copy()
    np.put_along_axis(rest, top, -np.inf, axis=1)
    P = min(K, rest.shape[1] - K)
    pruned = _top_k(rest, P) if P > 0 else np.zeros((N, 0), np.int64)
    chosen = np.full(N, -1, dtype=np.int64)
    chosen[updated] = k[updated]
    return {"step": int(step), "alpha": float(alpha), "max_len": int(max_len),
            "lp": float(length_penalty(step + 1, alpha)), "beam_width": int(K),
            "parent": parent.astype(np.int64), "token": token.astype(np.int64),
            "token_logp": np.where(np.isfinite(logp), token_logp, -np.inf),
            "logp": logp.copy(), "finished": finished.copy(), "score": score.copy(),
            "best": best.copy(), "chosen": chosen,
            "pruned_parent": np.minimum(pruned // V, live - 1).astype(np.int64),
            "pruned_token": (pruned % V).astype(np.int64),
            "pruned_logp": np.take_along_axis(rest, pruned, axis=1)}
