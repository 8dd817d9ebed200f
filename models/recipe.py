"""The pieces of ``models.train`` that the Transformer recipe for small data added (issue
16): the learning-rate schedule of a run (constant, cosine, or warm-up + inverse square
root: ``tinygrad_attn.optim.InverseSqrtLR``, Vaswani et al. 2017, sec. 5.3), the checks of
the config fields that depend on one another, and checkpoint averaging as one more
candidate of the model selection on the validation split (Vaswani et al. 2017, sec. 6.1).

Shared embeddings are the model's (``models.transformer.Transformer(share_embeddings=)``)
and batches of similar-length sentences ``models.batching``'s.
"""
from __future__ import annotations

from dataclasses import asdict

import tinygrad_attn as tg

from .train_state import average_state_dicts


def check_recipe(config) -> None:
    """The ``TrainConfig`` fields that depend on others: ``warmup_steps`` only with
    "inverse-sqrt", ``share_embeddings`` only for the Transformer, ``average_last`` at most
    ``epochs`` and with a validation split; ``bucket`` None/True/False and
    ``share_embeddings`` a bool. Raises ValueError (``train: ...``) naming a fix."""
    for name, values in (("bucket", (None, True, False)), ("share_embeddings", (True, False))):
        if not any(getattr(config, name) is v for v in values):
            raise ValueError(f"train: {name}={getattr(config, name)!r} must be "
                             f"{' or '.join(map(str, values))}")
    if config.warmup_steps is not None and config.lr_schedule != "inverse-sqrt":
        raise ValueError(f"train: warmup_steps={config.warmup_steps} applies to "
                         f"lr_schedule='inverse-sqrt' only (fix: choose it, or drop warmup_steps)")
    if config.share_embeddings and config.model != "transformer":
        raise ValueError("train: share_embeddings applies to the Transformer only (fix: "
                         "model='transformer', or drop share_embeddings)")
    if config.average_last is not None and config.average_last > config.epochs:
        raise ValueError(f"train: average_last={config.average_last} is more than epochs="
                         f"{config.epochs} (fix: average at most the epochs trained)")
    if config.average_last is not None and config.valid_fraction == 0:
        raise ValueError("train: average_last needs a validation split to choose on "
                         "(fix: a valid_fraction above 0, e.g. 0.1)")


def make_optimizer(model, config, n_batches: int):
    """(Adam over ``model.parameters()`` at ``config.lr``, the schedule of
    ``config.lr_schedule`` or None for "constant"), the schedule stepped once per batch:
    cosine over ``config.epochs * n_batches`` steps, or inverse-sqrt with
    ``config.warmup_steps`` (None: ``n_batches``, one epoch) of warm-up."""
    optimizer = tg.optim.Adam(model.parameters(), lr=config.lr)
    if config.lr_schedule == "cosine":
        return optimizer, tg.optim.CosineAnnealingLR(optimizer, T_max=config.epochs * n_batches)
    if config.lr_schedule == "inverse-sqrt":
        return optimizer, tg.optim.InverseSqrtLR(optimizer, config.warmup_steps or n_batches)
    return optimizer, None


def average_candidate(model, data, config, run, recent: list, best: dict, best_state, log):
    """Checkpoint averaging: the mean of the ``recent`` [(epoch, weights)] (the last
    ``config.average_last`` epochs) is scored on the validation split, never on test; if
    it beats the chosen epoch's score (``best["score"]``, strictly), it becomes the chosen
    model, ``best["epoch"]`` "avg A-B". ``run``'s ``model.npz`` (if any) is written with
    the chosen weights either way (a run resumed after an average was chosen may have
    left that average there). The model keeps the last epoch's weights.

    Returns (best, best_state, None with fewer than two epochs to average, else
    ``{"epochs": [...], "chosen": bool, "valid_*": its validation scores}``).
    """
    from .model_io import save_model
    from .train import evaluate, format_score, selection_metric
    if len(recent) < 2:
        return best, best_state, None
    epochs, last = [e for e, _ in recent], model.state_dict()
    average = average_state_dicts([w for _, w in recent])
    model.load_state_dict(average)
    score = evaluate(model, data, beam=config.beam, max_len=config.max_decode_len,
                     split="valid", alpha=config.length_penalty)
    value, label = score[selection_metric(data)], f"avg {epochs[0]}-{epochs[-1]}"
    chosen = value > best["score"]
    log(f"average of epochs {epochs[0]}-{epochs[-1]}: {format_score(score, 'validation')}; "
        + ("chosen" if chosen else f"epoch {best['epoch']} stays chosen"))
    if chosen:
        best, best_state = {"epoch": label, "score": value}, average
    if run is not None and best_state is not None:
        model.load_state_dict(best_state)
        save_model(model, data, run.file("model.npz"), extra={
            "train_config": asdict(config), "epoch": best["epoch"], "selected_on": "validation",
            **({"averaged_epochs": epochs} if chosen else {})})
    model.load_state_dict(last)
    return best, best_state, {"epochs": epochs, "chosen": chosen,
                              **{f"valid_{k}": v for k, v in score.items()}}
