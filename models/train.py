"""Training and evaluation of the attention seq2seq on a question/answer character task."""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass

import numpy as np
from tqdm import tqdm

import tinygrad_attn as tg
from tinygrad_attn import checkpoint

from .attention_seq2seq import AttentionSeq2Seq
from .data import CharVocab, Dataset


@dataclass
class TrainConfig:
    """The book's hyperparameters (DLFS2 ch. 8, ``train.py``) are the defaults."""
    epochs: int = 4
    batch_size: int = 128
    wordvec_size: int = 16
    hidden_size: int = 256
    lr: float = 1e-3
    max_grad_norm: float = 5.0
    seed: int = 0


def exact_match(model: AttentionSeq2Seq, x: np.ndarray, t: np.ndarray, start_id: int,
                batch_size: int = 1000) -> tuple[float, np.ndarray]:
    """Fraction of items whose greedy answer equals ``t[:, 1:]`` in every position.

    x (N, S), t (N, T+1) int. Returns (accuracy in [0, 1], predicted ids (N, T)).
    """
    preds = [model.generate(x[i:i + batch_size], start_id, t.shape[1] - 1)[0]
             for i in range(0, len(x), batch_size)]
    pred = np.concatenate(preds) if preds else np.zeros((0, t.shape[1] - 1), dtype=np.int64)
    return float((pred == t[:, 1:]).all(axis=1).mean()) if len(x) else 0.0, pred


def save_model(model: AttentionSeq2Seq, data: Dataset, path, extra: dict | None = None) -> None:
    """Save weights, model config and vocabulary in one checkpoint (atomic write)."""
    meta = {"model": "AttentionSeq2Seq", "config": model.config,
            "vocab": data.vocab.to_dict(), "reversed": data.reversed,
            "source_width": int(data.x_train.shape[1]), "answer_length": int(data.t_train.shape[1] - 1),
            "start_id": int(data.start_id), "data_path": data.path, "data_source": data.source,
            **(extra or {})}
    checkpoint.save(model.state_dict(), path, metadata=meta)


def load_model(path) -> tuple[AttentionSeq2Seq, dict, CharVocab]:
    """Rebuild a model from a checkpoint written by :func:`save_model`.

    Returns (model in eval mode, metadata dict, vocabulary). Raises
    ``tinygrad_attn.CheckpointError`` for a missing or broken file, ``ValueError`` for
    weights that do not fit the stored config.
    """
    state, meta = checkpoint.load(path)
    if meta.get("model") != "AttentionSeq2Seq":
        raise tg.CheckpointError(f"checkpoint {os.fspath(path)!r} does not hold an "
                                 f"AttentionSeq2Seq (metadata model={meta.get('model')!r})")
    cfg = meta["config"]
    model = AttentionSeq2Seq(cfg["vocab_size"], cfg["wordvec_size"], cfg["hidden_size"],
                             init="pytorch")
    model.load_state_dict(state)
    return model.eval(), meta, CharVocab.from_dict(meta["vocab"])


def train(data: Dataset, config: TrainConfig, out_dir=None, log=print) -> tuple[AttentionSeq2Seq, list]:
    """Train an AttentionSeq2Seq on ``data`` with Adam and global-norm clipping.

    Each epoch: a seeded shuffle, minibatches with a tqdm bar (loss, it/s), then batched
    greedy decoding of the test items and their exact-match accuracy. When ``out_dir``
    is given, ``model.npz`` (weights + config + vocabulary), ``vocab.json`` and
    ``history.json`` are written there after every epoch.

    Returns the model and the history: one dict per epoch with ``loss`` (mean training
    cross-entropy, nats/token), ``accuracy`` (test exact match, 0-1), ``train_seconds``,
    ``eval_seconds`` and ``epoch_seconds``.
    """
    model = AttentionSeq2Seq(len(data.vocab), config.wordvec_size, config.hidden_size,
                             seed=config.seed)
    optimizer = tg.optim.Adam(model.parameters(), lr=config.lr)
    rng = np.random.default_rng(config.seed)
    n = len(data.x_train)
    n_batches = n // config.batch_size
    if n_batches == 0:
        raise ValueError(f"train: {n} training items are fewer than one batch of "
                         f"{config.batch_size} (fix: lower --batch-size)")
    history = []
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        data.vocab.save(os.path.join(out_dir, "vocab.json"))
    log(f"data: {data.source}; {n} train / {len(data.x_test)} test items, vocabulary "
        f"{len(data.vocab)}, input {'reversed' if data.reversed else 'as is'}; "
        f"model: {model.num_parameters():,} parameters")
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = rng.permutation(n)
        t0 = time.perf_counter()
        losses = []
        bar = tqdm(range(n_batches), desc=f"epoch {epoch}/{config.epochs}", unit="it",
                   dynamic_ncols=True, leave=False)
        for b in bar:
            idx = order[b * config.batch_size:(b + 1) * config.batch_size]
            loss = model.loss(data.x_train[idx], data.t_train[idx])
            optimizer.zero_grad()
            loss.backward()
            tg.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            losses.append(loss.item())
            if b % 10 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-10:]):.4f}")
        bar.close()
        t1 = time.perf_counter()
        model.eval()
        acc, _ = exact_match(model, data.x_test, data.t_test, data.start_id)
        t2 = time.perf_counter()
        rec = dict(epoch=epoch, loss=float(np.mean(losses)), accuracy=acc,
                   train_seconds=t1 - t0, eval_seconds=t2 - t1, epoch_seconds=t2 - t0)
        history.append(rec)
        log(f"epoch {epoch}: loss {rec['loss']:.4f}, test exact match {100 * acc:.2f}% "
            f"({int(round(acc * len(data.x_test)))}/{len(data.x_test)}), "
            f"{rec['epoch_seconds']:.1f} s (train {rec['train_seconds']:.1f} s, "
            f"eval {rec['eval_seconds']:.1f} s)")
        if out_dir is not None:
            save_model(model, data, os.path.join(out_dir, "model.npz"),
                       extra={"train_config": asdict(config), "epoch": epoch})
            tmp = os.path.join(out_dir, "history.json")
            with open(tmp + ".tmp", "w") as f:
                json.dump(history, f, indent=1)
            os.replace(tmp + ".tmp", tmp)
    return model, history
