"""The whole state of a training run after an epoch, in one checkpoint (``last.npz``), so
that ``--resume`` continues exactly where the run stopped.

What a resumed run needs to give the same weights as an uninterrupted one, bit for bit:
the weights; Adam's moments ``exp_avg`` / ``exp_avg_sq`` (PyTorch's names), its step
count and learning rate; the scheduler's step count; the shuffling generator and the
engine's generator (dropout); the epoch; and the history and the best validation epoch
so far (with that epoch's weights, the run's ``model.npz``); with ``average_last`` also
the weights of the epochs before this one that the average will take (``recent.E.NAME``,
metadata ``recent_epochs``). Arrays are stored by
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
from dataclasses import asdict

import numpy as np

import tinygrad_attn as tg
from tinygrad_attn import checkpoint
from tinygrad_attn.fileio import quote_path

STATE_FORMAT = "tinygrad-attn training state 1"


def save_state(path, *, model, optimizer, scheduler, rng, epoch: int, history: list,
               best: dict, config: dict, data_meta: dict, best_state: dict | None = None,
               recent: list | None = None) -> None:
    """Write the training state after ``epoch`` to ``path`` (atomically).

    model : the model (its ``named_parameters()`` order matches ``optimizer.params``).
    optimizer : ``tg.optim.Adam``. scheduler : None or a schedule whose ``state_dict()``
    has ``last_epoch`` (``CosineAnnealingLR``, ``InverseSqrtLR``).
    rng : the ``np.random.Generator`` that shuffles batches (and samples for scheduled
    sampling). best : ``{"epoch", "score"}`` of the best validation epoch so far, and
    best_state : its weights ({name: array}), stored as ``best.NAME``.
    recent : None, or the [(epoch, weights)] that checkpoint averaging keeps; those of
    epochs before ``epoch`` are stored as ``recent.E.NAME`` (``epoch``'s are ``model.*``).
    Raises OSError when the file cannot be written (the previous file is kept).
    """
    names = [n for n, _ in model.named_parameters()]
    arrays = {f"model.{k}": v for k, v in model.state_dict().items()}
    arrays.update({f"best.{k}": v for k, v in (best_state or {}).items()})
    earlier = [(e, w) for e, w in (recent or []) if e != epoch]
    for e, weights in earlier:
        arrays.update({f"recent.{e}.{k}": v for k, v in weights.items()})
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
    if recent is not None:
        meta["recent_epochs"] = [int(e) for e, _ in earlier]
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
    "recent_epochs": lambda v: v is None or (isinstance(v, list) and all(_int(e, 1) for e in v)),
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


def recent_weights(arrays: dict, meta: dict) -> list:
    """The [(epoch, weights)] that checkpoint averaging kept, from a training state: those
    stored as ``recent.E.*`` and the state's own epoch (``model.*``), oldest first; [] for
    a state written without averaging. Raises ``tg.CheckpointError`` when a listed epoch's
    weights are missing or do not match the model's names and shapes."""
    if meta.get("recent_epochs") is None:
        return []
    current = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
    out = []
    for e in meta["recent_epochs"]:
        prefix = f"recent.{e}."
        weights = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
        if weights.keys() != current.keys() or \
                any(weights[k].shape != current[k].shape for k in current):
            raise tg.CheckpointError(f"the training state's weights of epoch {e} (kept for "
                                     f"--average-last) are missing or mis-shaped (fix: start "
                                     f"a new run)")
        out.append((e, weights))
    return out + [(int(meta["epoch"]), current)]


def average_state_dicts(states: list) -> dict:
    """The element-wise mean of K state dicts of one model ({name: array}, K >= 1),
    accumulated in float64 and returned in each array's own dtype: checkpoint averaging
    (Vaswani et al. 2017, sec. 6.1: "a single model obtained by averaging the last 5
    checkpoints"). Raises ValueError for no state dicts, or dicts whose names or shapes
    differ."""
    if not states:
        raise ValueError("average_state_dicts: no state dicts to average (fix: pass at least "
                         "one)")
    first = states[0]
    for k, other in enumerate(states[1:], start=1):
        if other.keys() != first.keys() or any(np.shape(other[n]) != np.shape(first[n])
                                               for n in first):
            raise ValueError(f"average_state_dicts: state dict {k} does not have the names "
                             f"and shapes of state dict 0 (fix: average one model's weights)")
    return {n: np.mean([np.asarray(s[n], dtype=np.float64) for s in states], axis=0)
            .astype(np.asarray(first[n]).dtype) for n in first}


#: Config fields that a run written before them did not have, with the value that gives
#: its behaviour (random batches); every other absent field has TrainConfig's default.
LEGACY_CONFIG = {"bucket": False}


def check_resume(meta: dict, config, data) -> None:
    """Refuse to resume a run (a ``load_state`` metadata) with another config (``config``,
    a ``TrainConfig``; only ``epochs`` and ``max_minutes`` may change, and ``epochs`` not
    under a cosine schedule) or other data (vocabularies). Raises ValueError naming the
    differences and the fix."""
    now = asdict(config)
    saved = {**asdict(type(config)()), **LEGACY_CONFIG, **meta["train_config"]}
    changed = [k for k in now if k not in ("epochs", "max_minutes") and saved.get(k) != now[k]]
    if changed:
        diffs = ", ".join(f"{k}={now[k]!r} (the run has {saved.get(k)!r})" for k in changed)
        raise ValueError(f"resume: {diffs} (fix: resume with the run's own settings)")
    if config.epochs != saved.get("epochs") and config.lr_schedule == "cosine":
        raise ValueError("resume: a cosine-scheduled run cannot change --epochs (fix: resume "
                         f"with --epochs {saved['epochs']})")
    if _vocab_meta(meta["data"]) != _vocab_meta(data.metadata()):
        source = str(meta["data"].get("data_source"))
        raise ValueError(f"resume: the data differs from the run's ({quote_path(source)}) (fix: "
                         f"pass the same --data)")


def _vocab_meta(meta: dict) -> dict:
    return {k: v for k, v in meta.items() if k in ("vocab", "src_vocab", "tgt_vocab", "kind")}
