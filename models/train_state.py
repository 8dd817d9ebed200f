"""The whole state of a training run after an epoch, in one checkpoint (``last.npz``), so
that ``--resume`` continues exactly where the run stopped.

What a resumed run needs to give the same weights as an uninterrupted one, bit for bit:
the weights; Adam's moments ``exp_avg`` / ``exp_avg_sq`` (PyTorch's names), its step
count and learning rate; the scheduler's step count; the shuffling generator and the
engine's generator (dropout); the epoch; and the history and the best validation epoch
so far (with that epoch's weights, the run's ``model.npz``). Arrays are stored by
parameter name, scalars and generator states as JSON metadata (no pickle: see
:mod:`tinygrad_attn.checkpoint`).

The optimizer's and the scheduler's parts are read through their ``state_dict()`` and
written back through ``load_state_dict()`` (PyTorch's protocol); the file keeps the layout
it has had since format 1: ``optimizer.exp_avg.NAME`` / ``optimizer.exp_avg_sq.NAME``
arrays, metadata ``optimizer: {step, lr}`` and ``scheduler: {last_epoch}`` (the other
hyperparameters come from the run's config), so files of every version load.
"""
from __future__ import annotations

import math

import numpy as np

import tinygrad_attn as tg
from tinygrad_attn import checkpoint
from tinygrad_attn.fileio import quote_path

STATE_FORMAT = "tinygrad-attn training state 1"


def save_state(path, *, model, optimizer, scheduler, rng, epoch: int, history: list,
               best: dict, config: dict, data_meta: dict, best_state: dict | None = None
               ) -> None:
    """Write the training state after ``epoch`` to ``path`` (atomically).

    model : the model (its ``named_parameters()`` order matches ``optimizer.params``).
    optimizer : ``tg.optim.Adam``. scheduler : ``CosineAnnealingLR`` or None.
    rng : the ``np.random.Generator`` that shuffles batches (and samples for scheduled
    sampling). best : ``{"epoch", "score"}`` of the best validation epoch so far, and
    best_state : its weights ({name: array}), stored as ``best.NAME``.
    Raises OSError when the file cannot be written (the previous file is kept).
    """
    names = [n for n, _ in model.named_parameters()]
    arrays = {f"model.{k}": v for k, v in model.state_dict().items()}
    arrays.update({f"best.{k}": v for k, v in (best_state or {}).items()})
    opt = optimizer.state_dict()
    for i, name in enumerate(names):
        arrays[f"optimizer.exp_avg.{name}"] = opt["state"][i]["exp_avg"]
        arrays[f"optimizer.exp_avg_sq.{name}"] = opt["state"][i]["exp_avg_sq"]
    meta = {"format": STATE_FORMAT, "epoch": int(epoch), "history": list(history),
            "best": dict(best), "train_config": dict(config), "data": data_meta,
            "model_name": model.MODEL_NAME, "model_config": model.config,
            "optimizer": {"step": int(opt["state"][0]["step"]),
                          "lr": float(opt["param_groups"][0]["lr"])},
            "scheduler": None if scheduler is None else
            {"last_epoch": scheduler.state_dict()["last_epoch"]},
            "rng": rng.bit_generator.state,
            "engine_rng": tg.random.generator().bit_generator.state}
    checkpoint.save(arrays, path, metadata=meta)


def load_state(path) -> tuple[dict, dict]:
    """Read ``last.npz``: returns (arrays, metadata). Raises ``tg.CheckpointError`` for a
    file that is not a training state of this program, or whose metadata has a field of the
    wrong type (checked here, before anything uses it)."""
    arrays, meta = checkpoint.load(path)
    if not isinstance(meta, dict) or meta.get("format") != STATE_FORMAT:
        raise tg.CheckpointError(f"{quote_path(path)} is not a training state written "
                                 f"by tinygrad-attn train (fix: resume from a run folder's "
                                 f"last.npz, or start a new run)")
    for key, ok in _STATE_FIELDS.items():
        if not ok(meta.get(key)):
            raise tg.CheckpointError(f"training state {quote_path(path)}: its field "
                                     f"{key!r} is missing or malformed (fix: start a new run, "
                                     f"or resume from an intact last.npz)")
    return arrays, meta


def _int(v, low=0) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


_STATE_FIELDS = {
    "epoch": _int,
    "history": lambda v: isinstance(v, list) and all(isinstance(h, dict) for h in v),
    "best": lambda v: isinstance(v, dict) and _int(v.get("epoch")),
    "train_config": lambda v: isinstance(v, dict) and all(isinstance(k, str) for k in v),
    "data": lambda v: isinstance(v, dict),
    "optimizer": lambda v: isinstance(v, dict) and _int(v.get("step"))
    and isinstance(v.get("lr"), (int, float)) and math.isfinite(v["lr"]),
    "scheduler": lambda v: v is None or (isinstance(v, dict) and _int(v.get("last_epoch"))),
    "rng": lambda v: isinstance(v, dict), "engine_rng": lambda v: isinstance(v, dict),
}


def restore_state(arrays: dict, meta: dict, *, model, optimizer, scheduler, rng) -> None:
    """Put the saved weights, optimizer, scheduler and generator states back in place
    (the optimizer and scheduler through their ``load_state_dict``).
    Raises ``tg.CheckpointError`` when an array is missing or has the wrong shape, or a
    value is out of range."""
    state = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
    try:
        model.load_state_dict(state)
    except (KeyError, TypeError, ValueError) as e:
        raise tg.CheckpointError(f"the training state does not fit the model: {e} (fix: "
                                 f"resume with the run's own settings)") from None
    optimizer_state = _optimizer_state(arrays, meta, model, optimizer)
    try:
        optimizer.load_state_dict(optimizer_state)
        if scheduler is not None:
            schedule = scheduler.state_dict()
            schedule["last_epoch"] = int(meta["scheduler"]["last_epoch"])
            scheduler.load_state_dict(schedule)
    except ValueError as e:
        raise tg.CheckpointError(f"the training state's optimizer or schedule is malformed: "
                                 f"{e}") from None
    try:
        rng.bit_generator.state = meta["rng"]
        tg.random.generator().bit_generator.state = meta["engine_rng"]
    except (KeyError, TypeError, ValueError) as e:
        raise tg.CheckpointError(f"the training state's generator state is malformed "
                                 f"({type(e).__name__}) (fix: start a new run)") from None


def _optimizer_state(arrays: dict, meta: dict, model, optimizer) -> dict:
    """The optimizer's ``state_dict()`` with the saved moments, step and rate put in (its
    other hyperparameters stay the run's). Raises ``tg.CheckpointError`` when a moment
    array is missing or mis-shaped."""
    state = optimizer.state_dict()
    state["param_groups"][0]["lr"] = float(meta["optimizer"]["lr"])
    for i, (name, p) in enumerate(model.named_parameters()):
        entry = {"step": int(meta["optimizer"]["step"])}
        for key in ("exp_avg", "exp_avg_sq"):
            a = arrays.get(f"optimizer.{key}.{name}")
            if a is None or a.shape != p.data.shape:
                raise tg.CheckpointError(f"the training state's optimizer.{key}.{name} is "
                                         f"missing or mis-shaped (fix: start a new run)")
            entry[key] = a
        state["state"][i] = entry
    return state


def all_finite(model) -> bool:
    """True if every parameter of ``model`` is finite (no NaN or inf)."""
    return all(bool(np.isfinite(p.data).all()) for p in model.parameters())
