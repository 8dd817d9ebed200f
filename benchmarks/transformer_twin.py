"""The PyTorch twin of our Transformer and one training step in either engine, for
``benchmarks/transformer_torch.py`` (issue 16, item 4), which times and trains them.

:class:`TorchTransformer` is ``models.transformer.Transformer`` built around
``torch.nn.Transformer`` (batch first, post- or pre-norm as ours, final encoder and decoder
LayerNorms): embeddings scaled by sqrt(d_model), our sinusoidal positions (float64, cast to
the model's dtype), dropout on the embedding sums, the output Linear, and with
``share_embeddings`` one matrix for both embeddings and the output weight. It starts from
OUR initial weights (:meth:`TorchTransformer.load_ours`: ``encoder.*`` / ``decoder.*``
become ``transformer.encoder.*`` / ``transformer.decoder.*``); :func:`first_batch_check`
checks the first batch's loss equal (dropout off) before any timing or training.
:class:`Step` is one training step as ``models.train`` takes it (loss, backward,
global-norm clip, Adam, the schedule) of either engine; :func:`torch_optimizer` is
``models.recipe.make_optimizer`` in PyTorch.

The facts it relies on (tested in ``tests/test_transformer_torch_twin.py``, the schedules
in ``tests/test_optim.py`` and ``tests/test_optim_inverse_sqrt.py``): PyTorch's encoder
and decoder layers compute the equations of ``models.transformer`` (Vaswani et al. 2017,
sec. 3.1-3.5 and 5.4), so with our weights the twin gives our loss and gradients (float64
to ~1e-10, float32 within 1e-4); ``F.cross_entropy``'s
``label_smoothing`` and ``ignore_index`` are our label smoothing and padding; ``LambdaLR``
with min((t+1)/w, sqrt(w/(t+1))) gives ``tg.optim.InverseSqrtLR``'s rates and
``CosineAnnealingLR`` our cosine schedule; ``torch.optim.Adam`` and
``nn.utils.clip_grad_norm_`` take the steps ours take.

PyTorch (``pip install torch==2.13.0``, CPU) is a benchmark reference only.
``OMP_WAIT_POLICY=PASSIVE`` is set (unless set) before torch is imported, as
``transformer_torch.py`` does: torch's OpenMP threads must not spin while numpy runs.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import tinygrad_attn as tg  # noqa: E402
from models.recipe import make_optimizer  # noqa: E402
from models.train import TrainConfig  # noqa: E402
from models.transformer import Transformer  # noqa: E402
from tinygrad_attn.threads import ThreadAdapter  # noqa: E402


# -- the twin ---------------------------------------------------------------------------------
class TorchTransformer(nn.Module):
    """``models.transformer.Transformer`` in PyTorch, built on ``torch.nn.Transformer``.

    Arguments are ours (``Transformer(...).config`` can be passed as ``**config``; ``seed``
    is ignored: the weights come from :meth:`load_ours`). Submodules: ``src_embedding``,
    ``tgt_embedding`` (V x D), ``embed_dropout``, ``transformer`` (``nn.Transformer(D,
    nhead, L_enc, L_dec, ff, dropout, batch_first=True, norm_first=...)``), ``out`` (D ->
    V_tgt); with ``share_embeddings`` the three matrices are one Parameter.

    forward(src (N, S) int64, tgt_in (N, T) int64, mask (N, S) bool or None, True at
    source padding) -> logits (N, T, V_tgt) in the model's dtype; the decoder sees target
    positions 0..t (causal) and every unpadded source position, as ours.

    Math: Vaswani et al. 2017, sec. 3.1-3.5 and 5.4, as ``models.transformer`` (which
    names the sections); PyTorch's layers implement the same equations.

    Raises ValueError for ``share_embeddings`` with two vocabulary sizes, and (forward) for
    sequences longer than ``max_len``.
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, d_model: int = 128,
                 nhead: int = 4, num_encoder_layers: int = 2, num_decoder_layers: int = 2,
                 dim_feedforward: int = 256, dropout: float = 0.1, max_len: int = 256,
                 norm_first: bool = False, share_embeddings: bool = False, seed=None):
        super().__init__()
        if share_embeddings and src_vocab_size != tgt_vocab_size:
            raise ValueError(f"TorchTransformer: share_embeddings needs one vocabulary, got "
                             f"{src_vocab_size} and {tgt_vocab_size}")
        self.d_model, self.max_len, self.shared = d_model, max_len, share_embeddings
        self.src_embedding = nn.Embedding(src_vocab_size, d_model)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, d_model)
        # float64, not a buffer: cast to the input's dtype at each use, as ours does
        self.pe = torch.from_numpy(tg.nn.sinusoidal_positions(max_len, d_model, np.float64))
        self.embed_dropout = nn.Dropout(dropout)
        with warnings.catch_warnings():     # pre-norm: "enable_nested_tensor ... False"
            warnings.filterwarnings("ignore", "enable_nested_tensor")
            self.transformer = nn.Transformer(d_model, nhead, num_encoder_layers,
                                              num_decoder_layers, dim_feedforward, dropout,
                                              batch_first=True, norm_first=norm_first)
        self.out = nn.Linear(d_model, tgt_vocab_size)
        if share_embeddings:
            self.tgt_embedding.weight = self.out.weight = self.src_embedding.weight

    def load_ours(self, state: dict) -> "TorchTransformer":
        """Copy our state dict (name -> ndarray, ``Transformer.state_dict()``) into this
        model, in this model's dtype; returns self. Raises ValueError when the names or
        shapes differ (the models are not the same size)."""
        mapped = {("transformer." if k.startswith(("encoder.", "decoder.")) else "") + k:
                  np.asarray(v) for k, v in state.items()}
        if self.shared and "src_embedding.weight" in mapped:
            mapped["tgt_embedding.weight"] = mapped["out.weight"] = \
                mapped["src_embedding.weight"]
        mine = self.state_dict()
        if set(mapped) != set(mine):
            raise ValueError(f"load_ours: names differ: only ours "
                             f"{sorted(set(mapped) - set(mine))}, only torch's "
                             f"{sorted(set(mine) - set(mapped))}")
        bad = [k for k in mine if tuple(mine[k].shape) != mapped[k].shape]
        if bad:
            raise ValueError(f"load_ours: shapes differ at {bad[:3]} (fix: build both models "
                             f"with the same sizes)")
        with torch.no_grad():
            for k, v in mapped.items():
                mine[k].copy_(torch.from_numpy(v))
        return self

    def _embed(self, embedding: nn.Embedding, ids):
        """ids (N, L) -> dropout(embedding * sqrt(D) + PE[:L]) (N, L, D)."""
        if ids.shape[1] > self.max_len:
            raise ValueError(f"TorchTransformer: length {ids.shape[1]} > max_len "
                             f"{self.max_len}")
        x = embedding(ids) * math.sqrt(self.d_model)
        return self.embed_dropout(x + self.pe[:ids.shape[1]].to(x.dtype))

    def encode(self, src, mask=None):
        """src (N, S) int64, mask (N, S) bool or None -> memory (N, S, D)."""
        with warnings.catch_warnings():     # eval mode: torch's nested-tensor fast path
            warnings.filterwarnings("ignore", "The PyTorch API of nested tensors")
            return self.transformer.encoder(self._embed(self.src_embedding, src),
                                            src_key_padding_mask=mask)

    def decode(self, tgt_in, memory, mask=None):
        """tgt_in (N, T) int64, memory (N, S, D), mask -> logits (N, T, V_tgt)."""
        T = tgt_in.shape[1]
        causal = torch.ones(T, T, dtype=torch.bool).triu(1)
        h = self.transformer.decoder(self._embed(self.tgt_embedding, tgt_in), memory,
                                     tgt_mask=causal, memory_key_padding_mask=mask,
                                     tgt_is_causal=True)
        return self.out(h)

    def forward(self, src, tgt_in, mask=None):
        """src (N, S), tgt_in (N, T) int64, mask (N, S) bool or None -> (N, T, V_tgt)."""
        return self.decode(tgt_in, self.encode(src, mask), mask)

    def loss(self, src, tgt, mask=None, pad_id: int = 0, label_smoothing: float = 0.0):
        """Mean cross-entropy (nats per real target token) of ``tgt[:, 1:]`` given
        ``tgt[:, :-1]``, pad positions ignored, as ``Seq2SeqModel.loss`` (PyTorch's label
        smoothing is ours: tested). src (N, S), tgt (N, T+1) int64 and mask (N, S) bool or
        None, as tensors or numpy arrays (shared, not copied)."""
        src, tgt = torch.as_tensor(src), torch.as_tensor(tgt)
        logits = self(src, tgt[:, :-1], None if mask is None else torch.as_tensor(mask))
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1),
                               ignore_index=pad_id, label_smoothing=label_smoothing)


def twin_of(ours: Transformer, dtype=torch.float32) -> TorchTransformer:
    """A :class:`TorchTransformer` of ``ours``'s sizes holding ``ours``'s weights."""
    return TorchTransformer(**ours.config).to(dtype).load_ours(ours.state_dict())


def torch_optimizer(model: nn.Module, config: TrainConfig, n_batches: int):
    """(``torch.optim.Adam`` at ``config.lr``, the scheduler or None) as
    ``models.recipe.make_optimizer`` makes ours: cosine over ``epochs * n_batches`` steps,
    or the inverse-square-root rate with ``warmup_steps`` (default ``n_batches``) as a
    ``LambdaLR`` (``tg.optim.InverseSqrtLR``'s docstring: the same rates, tested)."""
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    if config.lr_schedule == "cosine":
        return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.epochs * n_batches)
    if config.lr_schedule == "inverse-sqrt":
        w = config.warmup_steps or n_batches
        return opt, torch.optim.lr_scheduler.LambdaLR(
            opt, lambda t: min((t + 1) / w, (w / (t + 1)) ** 0.5))
    return opt, None


# -- one training step in each engine -----------------------------------------------------------
class Step:
    """One training step of either engine as ``models.train`` takes it: the loss (label
    smoothing, padding ignored), zero_grad + backward, global-norm clip, Adam (skipped at a
    NaN/inf loss or norm) and the schedule. ``model``: ours (name "ours") or the twin
    (name "torch"), each with its library's optimizer and scheduler. Ours first lets its
    BLAS threads follow the cores other processes leave free (``ThreadAdapter``, as the
    training loop does).

    step(src (N, S) int64, tgt (N, T+1) int64, mask (N, S) bool or None, pad_id) ->
    (loss, applied, (forward, backward, optimizer) seconds)."""

    def __init__(self, model, config: TrainConfig, n_batches: int):
        self.model, self.config = model, config
        self.name = "torch" if isinstance(model, nn.Module) else "ours"
        make = torch_optimizer if self.name == "torch" else make_optimizer
        self.optimizer, self.scheduler = make(model, config, n_batches)
        self.clip = nn.utils.clip_grad_norm_ if self.name == "torch" else tg.clip_grad_norm_
        self.threads = ThreadAdapter() if self.name == "ours" else None

    def step(self, src, tgt, mask, pad_id):
        """One step on this batch; see the class docstring."""
        t0 = time.perf_counter()
        if self.threads is not None:
            self.threads.update()
        loss = self.model.loss(src, tgt, mask, pad_id=pad_id,
                               label_smoothing=self.config.label_smoothing)
        t1 = time.perf_counter()
        self.optimizer.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        norm = float(self.clip(self.model.parameters(), self.config.max_grad_norm))
        value = loss.item()
        applied = math.isfinite(value) and math.isfinite(norm)
        if applied:
            self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return value, applied, (t1 - t0, t2 - t1, time.perf_counter() - t2)


def batch_tokens(src, tgt, pad_id: int) -> int:
    """Real source tokens + real target tokens the loss is over (``tgt[:, 1:]``)."""
    return int((src != pad_id).sum()) + int((tgt[:, 1:] != pad_id).sum())


def first_batch_check(ours, twin, batch, pad_id: int, label_smoothing: float,
                      tol: float = 1e-4) -> dict:
    """Both models' loss on ``batch`` (src, tgt, mask) with dropout off (eval mode), no
    update. Returns ``{"ours", "torch", "abs_diff"}``; raises ValueError when they differ by
    more than ``tol`` (the twin would not be the same model)."""
    src, tgt, mask = batch
    ours.eval(), twin.eval()
    with tg.no_grad():
        a = ours.loss(src, tgt, mask, pad_id=pad_id, label_smoothing=label_smoothing).item()
    with torch.no_grad():
        b = twin.loss(src, tgt, mask, pad_id, label_smoothing).item()
    ours.train(), twin.train()
    if not abs(a - b) <= tol:
        raise ValueError(f"the twin's first-batch loss {b:.6f} differs from ours {a:.6f} by "
                         f"{abs(a - b):.2e} > {tol} (the models are not the same)")
    return {"ours": a, "torch": b, "abs_diff": abs(a - b)}
