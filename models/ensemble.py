"""Several trained models decoded as one: at every step the next token's distribution is
the average of the members' distributions (an ensemble, as in Sutskever et al. 2014,
Table 1, "ensemble of 5 reversed LSTMs"; Jean et al. 2015 and most shared-task systems
since). Greedy and beam search (:mod:`models.decoding`) take an :class:`Ensemble` like
any one model.

The members must share the target vocabulary, and to read the same source ids also the
source vocabulary: :func:`load_ensemble` accepts checkpoints trained on the same data with
the same data options, as ``train --init-seed`` makes them (the split, the tokenizers and
the vocabularies follow ``--seed``; the initial weights and dropout follow
``--init-seed``).

Shapes: N sentences (or beams), S source length, V target vocabulary, M members.
"""
from __future__ import annotations

import numpy as np

from tinygrad_attn import CheckpointError, Tensor, kernels
from tinygrad_attn.fileio import quote_path

__all__ = ["Ensemble", "average_log_probs", "load_ensemble", "ensemble_history"]


def average_log_probs(logits: list[np.ndarray]) -> np.ndarray:
    """log((1/M) sum_m softmax(z_m)) for the members' logits z_m, each (N, V): the log of
    the mean probability, computed as logsumexp_m(log_softmax(z_m)) - log M so that no
    probability underflows. float64 (N, V); a row's exp sums to 1."""
    lp = np.stack([kernels.log_softmax_numpy(np.asarray(z, dtype=np.float64))
                   for z in logits])                             # (M, N, V)
    top = lp.max(axis=0)
    return top + np.log(np.exp(lp - top).mean(axis=0))


class Ensemble:
    """Members decoded together: ``encode``, ``init_decoder``, ``decode_step`` and
    ``reorder_state`` as in :mod:`models.base`, so :func:`models.decoding.greedy_decode`,
    :func:`models.decoding.beam_search` and :func:`models.predict.predict` take it.

    ``decode_step`` returns the log of the members' mean probability (see
    :func:`average_log_probs`) as a float32 Tensor (N, V) in place of logits (its softmax is
    that mean), and the mean of the members' attention weights (N, S) when every member
    has them, else None. Decoding only: no ``decode``, ``forward`` or ``loss`` (train the
    members one by one).

    Raises ValueError for no members, and at the first step if the members' vocabularies
    differ in size.
    """

    MODEL_NAME = "ensemble"
    #: a marker: beam search passes it as ``keep`` once the memory rows may stay as they
    #: are, and each member then keeps its own ``MEMORY_KEYS``
    MEMORY_KEYS = ("<each member's MEMORY_KEYS>",)

    def __init__(self, models):
        self.models = list(models)
        if not self.models:
            raise ValueError("Ensemble: no models (fix: pass one or more trained models)")
        self.GROUPED_BEAMS = all(m.GROUPED_BEAMS for m in self.models)

    def eval(self) -> "Ensemble":
        for m in self.models:
            m.eval()
        return self

    def encode(self, src, src_padding_mask=None) -> list:
        return [m.encode(src, src_padding_mask) for m in self.models]

    def init_decoder(self, memory: list) -> dict:
        return {"members": [m.init_decoder(mem) for m, mem in zip(self.models, memory)]}

    def decode_step(self, prev_ids, state: dict):
        steps = [m.decode_step(prev_ids, s) for m, s in zip(self.models, state["members"])]
        sizes = {lg.shape[-1] for lg, _, _ in steps}
        if len(sizes) > 1:
            raise ValueError(f"Ensemble: the members' target vocabularies differ in size "
                             f"({', '.join(str(lg.shape[-1]) for lg, _, _ in steps)}) (fix: "
                             f"ensemble models trained on the same data and options)")
        dtype = steps[0][0].data.dtype
        logp = average_log_probs([lg.data for lg, _, _ in steps]).astype(dtype)
        weights = [w for _, _, w in steps]
        mean_w = None
        if all(w is not None for w in weights) and len({w.shape for w in weights}) == 1:
            mean_w = Tensor(np.mean([w.data for w in weights], axis=0).astype(dtype))
        return Tensor(logp), {"members": [s for _, s, _ in steps]}, mean_w

    def reorder_state(self, state: dict, index, keep=()) -> dict:
        """Each member's :meth:`models.base.Seq2SeqModel.reorder_state`; a non-empty
        ``keep`` (this class's ``MEMORY_KEYS``) keeps each member's own memory entries."""
        return {"members": [m.reorder_state(s, index, keep=m.MEMORY_KEYS if keep else ())
                            for m, s in zip(self.models, state["members"])]}


def load_ensemble(paths) -> tuple:
    """The checkpoints ``paths`` (one or more ``model.npz`` of ``train``) as one
    :class:`Ensemble`. Returns (ensemble, list of the members' metadata, codec), the codec
    the members share (:func:`models.model_io.load_model`).

    Raises tinygrad_attn.CheckpointError (one line, naming the file) for any checkpoint
    that ``load_model`` refuses, and for one whose data metadata (the data file's options,
    tokenizers, vocabularies, validation split) differs from the first's.
    """
    from .model_io import load_model
    paths = list(paths)
    if not paths:
        raise ValueError("load_ensemble: no checkpoints (fix: pass one or more model.npz)")
    loaded = [load_model(p) for p in paths]
    first = loaded[0][1]["data"]
    for path, (_, meta, _) in zip(paths[1:], loaded[1:]):
        changed = sorted(k for k in set(first) | set(meta["data"])
                         if first.get(k) != meta["data"].get(k))
        if changed:
            raise CheckpointError(
                f"checkpoint {quote_path(path)}: its data differs from "
                f"{quote_path(paths[0])}'s in {', '.join(changed)}, so the two cannot decode "
                f"together (fix: ensemble models trained with the same --data and data "
                f"options and --seed; only --init-seed may differ)")
    return Ensemble(m for m, _, _ in loaded), [meta for _, meta, _ in loaded], loaded[0][2]


def ensemble_history(runs: list, data, config, log=print):
    """``compare``'s row for an ensemble of trained runs: ``runs`` [(model, History)] from
    :func:`models.train.train` on ``data`` with ``config`` (the members differ only in
    ``init_seed``), each model with the weights its run chose on validation. The ensemble
    is scored on the validation split (carved as ``train`` carves it) and, with
    intervals, on the test split, with ``config``'s beam, length penalty and decode length.

    Returns a ``models.train.History`` with no epochs (like the lookup's), ``hypotheses``
    (its test output, for the paired test; None for a character task) and ``results``:
    ``test_chosen`` (the test score), ``test_last`` None, ``valid`` (the validation score,
    or None), ``chosen_epoch`` "M members", ``fit_seconds`` (the members' mean seconds per
    epoch, summed: the cost of an epoch of all of them) and ``ensemble`` ({"members": M},
    what marks the row as an ensemble's). Raises ValueError for fewer than two runs."""
    from .reporting import epoch_seconds
    from .train import History, evaluate_output, format_score, with_validation
    if len(runs) < 2:
        raise ValueError(f"ensemble_history: {len(runs)} run(s) (fix: pass two or more)")
    data = with_validation(data, config)
    ensemble = Ensemble(model for model, _ in runs)
    kw = dict(beam=config.beam, max_len=config.max_decode_len, alpha=config.length_penalty)
    valid = evaluate_output(ensemble, data, split="valid", **kw)[0] \
        if getattr(data, "src_valid", None) is not None else None
    test, hyps = evaluate_output(ensemble, data, confidence=True, **kw)
    history = History()
    history.hypotheses = hyps
    history.config = config
    history.results = {
        "chosen_epoch": f"{len(runs)} members", "last_epoch": None,
        "chosen_on": "each member on validation", "valid_items": len(data.src_valid)
        if valid is not None else 0, "test_items": len(data.src_test), "valid": valid,
        "test_chosen": test, "test_last": None,
        "fit_seconds": float(sum(epoch_seconds(hist) for _, hist in runs)),
        "ensemble": {"members": len(runs)}}
    log(f"ensemble of {len(runs)}: " + (format_score(valid, "validation") + "; "
                                        if valid is not None else "") + format_score(test))
    return history

