"""The PyTorch twins of our recurrent translation models, for
``benchmarks/recurrent_torch.py`` (issue 17, item 4), which times a training step of each.

:class:`TorchRecurrent` is ``models.bahdanau_seq2seq.BahdanauSeq2Seq`` (``"bahdanau"``) or
``models.attention_seq2seq.AttentionSeq2Seq`` (``"attention"``, Luong's scores, without
input feeding) written with PyTorch's layers: ``nn.Embedding``, an ``nn.LSTM`` / ``nn.GRU``
encoder (stacked and bidirectional as ours; a padded batch runs packed,
``pack_padded_sequence``, as ours runs with the real lengths), the decoder (an ``nn.LSTM``
/ ``nn.GRU`` over the whole target for Luong's model; an ``nn.LSTMCell`` / ``nn.GRUCell``
stepped once per target position for Bahdanau's, whose input needs the attention of the
previous state), the same attention equations and the output ``nn.Linear``. It starts
from OUR initial weights: :func:`torch_name` maps each of our state-dict names to the
twin's (the twin's layers have PyTorch's usual names, not ours), :meth:`TorchRecurrent.
load_ours` copies them; :func:`first_batch_check` checks the first batch's loss equal
(relative 1e-5, dropout off) and the logits (1e-4 of their largest) before any timing,
and names where the models part when not.

One training step of either engine is ``transformer_twin.Step`` (loss, backward, clip,
Adam); the loss is ``TorchTransformer.loss``, which serves any twin whose forward is
``(src, tgt_in, mask) -> logits``: mean cross-entropy over the real target tokens, with
label smoothing if asked (``F.cross_entropy(ignore_index=, label_smoothing=)``, ours'
semantics, tested for the Transformer).

Where the twin computes the same values another way (each a choice a PyTorch user would
make): the output layer runs once over the (N, T, 2H) features of all steps rather than
once per step, and the embedded targets are looked up once; the values are the same.

PyTorch (``pip install torch==2.13.0``, CPU) is a benchmark reference only.
``OMP_WAIT_POLICY=PASSIVE`` is set (unless set) before torch is imported, as the other
benchmarks do: torch's OpenMP threads must not spin while numpy runs.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:            # transformer_twin sits next to this file
    sys.path.append(HERE)

import tinygrad_attn as tg  # noqa: E402
from transformer_twin import TorchTransformer  # noqa: E402

#: the models this file has twins of (``--model`` names)
MODELS = ("bahdanau", "attention")

#: our state-dict name prefixes -> the twin's; a name under none of them is the same in
#: both (``decoder.``, ``attention.``, ``out.``)
NAME_MAP = (("encoder.embedding.", "src_embedding."), ("encoder.lstm.", "encoder."),
            ("encoder.gru.", "encoder."), ("decoder_embedding.", "tgt_embedding."))


def torch_name(name: str) -> str:
    """The twin's state-dict name of our parameter ``name`` (:data:`NAME_MAP`), e.g.
    ``encoder.lstm.weight_ih_l0_reverse`` -> ``encoder.weight_ih_l0_reverse``."""
    for ours, theirs in NAME_MAP:
        if name.startswith(ours):
            return theirs + name[len(ours):]
    return name


def masked_softmax(scores, mask):
    """Softmax over the last axis of ``scores`` (N, S) or (N, T, S) with the source
    positions where ``mask`` (N, S) bool is True (padding) at weight 0; ``mask`` None: a
    plain softmax. As ``tinygrad_attn.functional.masked_softmax`` for rows with at least
    one real position (every sentence has one)."""
    if mask is None:
        return scores.softmax(-1)
    return scores.masked_fill(mask if scores.dim() == 2 else mask[:, None], float("-inf")
                              ).softmax(-1)


class TorchRecurrent(nn.Module):
    """Our recurrent seq2seq ``model`` ("bahdanau" or "attention") in PyTorch.

    Arguments are ``model`` and then ours' (``ours.config`` can be passed as ``**config``;
    ``init`` is ignored: the weights come from :meth:`load_ours`). D = ``wordvec_size``,
    H = ``hidden_size`` per direction, H_d = H * directions (the decoder's size).
    Submodules: ``src_embedding`` (V_src x D), ``encoder`` (``nn.LSTM`` / ``nn.GRU``, D ->
    H, ``num_layers``, ``bidirectional``, ``dropout`` between layers), ``tgt_embedding``
    (V_tgt x D), ``attention`` (Luong: ``W_a`` for general, ``W_a`` and ``v_a`` for concat;
    Bahdanau: ``W_a`` (A x H_d), ``U_a`` (A x H_d, with bias), ``v_a`` (1 x A)),
    ``decoder`` (Luong: ``nn.LSTM`` / ``nn.GRU`` D -> H_d; Bahdanau: ``nn.LSTMCell`` /
    ``nn.GRUCell`` D + H_d -> H_d), ``out`` (2 H_d -> V_tgt), ``dropout``.

    forward(src (N, S) int64, tgt_in (N, T) int64, mask (N, S) bool or None, True at
    source padding on the right) -> logits (N, T, V_tgt) in the model's dtype.
    ``loss(src, tgt, mask, pad_id, label_smoothing)``: as ``Seq2SeqModel.loss``.

    Math (as ours, whose modules cite it): the decoder starts from the encoder's last
    layer's final hidden state (both directions joined) and a zero cell; Luong et al.
    2015, sec. 3.1, eq. 8 (scores), logits = Linear([context; h_t]); Bahdanau et al. 2014,
    eq. 6 (e_ij = v_a . tanh(W_a s_{i-1} + U_a h_j)), s_i = cell([E y_{i-1}; c_i],
    s_{i-1}), logits = Linear([s_i; c_i]). Dropout (training only) on the embedded source
    and target tokens and on the output layer's input, as ours.

    Raises ValueError for another model, ``residual`` (``nn.LSTM`` has no residual
    connections between layers) or ``input_feeding`` (not twinned here).
    """

    def __init__(self, model: str, src_vocab_size: int, wordvec_size: int, hidden_size: int,
                 tgt_vocab_size: int, num_layers: int = 1, bidirectional: bool = False,
                 residual: bool = False, dropout: float = 0.0, cell: str = "lstm",
                 score: str = "dot", input_feeding: bool = False, attn_size=None, init=None):
        super().__init__()
        if model not in MODELS or residual or input_feeding:
            what = (f"model {model!r}" if model not in MODELS else
                    "residual layers" if residual else "input feeding")
            raise ValueError(f"TorchRecurrent: no twin of {what} (fix: --model "
                             f"{' or '.join(MODELS)}, without --residual and input feeding)")
        self.model, self.cell, self.score = model, cell, score
        self.directions = 2 if bidirectional else 1
        D, H, Hd = wordvec_size, hidden_size, hidden_size * self.directions
        lstm = cell == "lstm"
        self.src_embedding = nn.Embedding(src_vocab_size, D)
        self.encoder = (nn.LSTM if lstm else nn.GRU)(
            D, H, num_layers, batch_first=True, bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, D)
        self.attention = nn.Module()
        if model == "bahdanau":
            A = attn_size or Hd
            self.attention.W_a = nn.Linear(Hd, A, bias=False)
            self.attention.U_a = nn.Linear(Hd, A)
            self.attention.v_a = nn.Linear(A, 1, bias=False)
            self.decoder = (nn.LSTMCell if lstm else nn.GRUCell)(D + Hd, Hd)
        else:
            if score == "general":
                self.attention.W_a = nn.Linear(Hd, Hd, bias=False)
            elif score == "concat":
                self.attention.W_a = nn.Linear(2 * Hd, Hd, bias=False)
                self.attention.v_a = nn.Linear(Hd, 1, bias=False)
            self.decoder = (nn.LSTM if lstm else nn.GRU)(D, Hd, batch_first=True)
        self.out = nn.Linear(2 * Hd, tgt_vocab_size)
        self.dropout = nn.Dropout(dropout)

    loss = TorchTransformer.loss

    def load_ours(self, state: dict) -> "TorchRecurrent":
        """Copy our state dict (name -> ndarray) into this model under :func:`torch_name`'s
        names, in this model's dtype; returns self. Raises ValueError (one line) when a
        name is missing or extra or a shape differs (the models are not the same size)."""
        mapped = {torch_name(k): torch.from_numpy(np.array(v)) for k, v in state.items()}
        try:
            self.load_state_dict(mapped, strict=True)
        except RuntimeError as e:
            raise ValueError("load_ours: " + " ".join(str(e).split())) from None
        return self

    def encode(self, src, mask=None):
        """src (N, S) int64, mask (N, S) bool or None -> encoder states hs (N, S, H_d)
        (zeros at padding) and the decoder's initial state h (N, H_d)."""
        x = self.dropout(self.src_embedding(src))
        if mask is None:
            hs, final = self.encoder(x)
        else:
            packed = pack_padded_sequence(x, (~mask).sum(1), batch_first=True,
                                          enforce_sorted=False)
            out, final = self.encoder(packed)
            hs, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        h = final[0] if self.cell == "lstm" else final        # (L * dirs, N, H)
        return hs, torch.cat(list(h[-self.directions:]), dim=-1)

    def _luong_scores(self, query, hs):
        """Luong's eq. 8: query (N, T, H_d), hs (N, S, H_d) -> scores (N, T, S)."""
        if self.score == "dot":
            return query @ hs.transpose(1, 2)
        if self.score == "general":
            return query @ self.attention.W_a(hs).transpose(1, 2)
        W, Hq = self.attention.W_a.weight, query.shape[-1]          # W_a = [W_q, W_k]
        e = torch.tanh((query @ W[:, :Hq].T).unsqueeze(2) + (hs @ W[:, Hq:].T).unsqueeze(1))
        return self.attention.v_a(e).squeeze(-1)

    def _decode_luong(self, embedded, hs, h, mask):
        """The whole target through the decoder layer, then attention: -> [context; h_t]
        (N, T, 2 H_d)."""
        state = (h[None], torch.zeros_like(h)[None]) if self.cell == "lstm" else h[None]
        dec, _ = self.decoder(embedded, state)
        weights = masked_softmax(self._luong_scores(dec, hs), mask)
        return torch.cat([weights @ hs, dec], dim=-1)

    def _decode_bahdanau(self, embedded, hs, h, mask):
        """One cell step per target position, attention from the previous state first:
        -> [s_i; c_i] (N, T, 2 H_d)."""
        att, keys = self.attention, self.attention.U_a(hs)           # U_a h_j, once
        c = torch.zeros_like(h)
        features = []
        for t in range(embedded.shape[1]):
            e = att.v_a(torch.tanh(att.W_a(h).unsqueeze(1) + keys)).squeeze(-1)  # (N, S)
            context = (masked_softmax(e, mask).unsqueeze(1) @ hs).squeeze(1)     # (N, H_d)
            x = torch.cat([embedded[:, t], context], dim=-1)
            if self.cell == "lstm":
                h, c = self.decoder(x, (h, c))
            else:
                h = self.decoder(x, h)
            features.append(torch.cat([h, context], dim=-1))
        return torch.stack(features, dim=1)

    def forward(self, src, tgt_in, mask=None):
        """src (N, S), tgt_in (N, T) int64, mask (N, S) bool or None -> (N, T, V_tgt)."""
        hs, h = self.encode(src, mask)
        embedded = self.dropout(self.tgt_embedding(tgt_in))
        decode = self._decode_bahdanau if self.model == "bahdanau" else self._decode_luong
        return self.out(self.dropout(decode(embedded, hs, h, mask)))


def twin_of(ours, dtype=torch.float32) -> TorchRecurrent:
    """A :class:`TorchRecurrent` of ``ours``'s kind (``MODEL_NAME``) and sizes holding
    ``ours``'s weights, in ``dtype``."""
    return TorchRecurrent(ours.MODEL_NAME, **ours.config).to(dtype).load_ours(
        ours.state_dict())


def _gaps(ours, twin, src, tgt, mask) -> tuple:
    """How far apart the two models' encoder states (at real positions) and logits are on
    this batch, each as max |ours - twin| / max |ours| (no gradient; the current mode)."""
    s, t = torch.as_tensor(src), torch.as_tensor(tgt)
    m = None if mask is None else torch.as_tensor(mask)
    real = np.ones(src.shape, bool) if mask is None else ~np.asarray(mask)
    pairs = ((ours.encode(src, mask)["hs"].data[real], twin.encode(s, m)[0].numpy()[real]),
             (ours(src, tgt[:, :-1], mask).data, twin(s, t[:, :-1], m).numpy()))
    return tuple(float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-30)) for a, b in pairs)


def first_batch_check(ours, twin, batch, pad_id, label_smoothing: float,
                      rtol: float = 1e-5, gap: float = 1e-4) -> dict:
    """Both models on ``batch`` (src, tgt, mask) with dropout off (eval mode), no update:
    the losses, and the encoder states and logits (:func:`_gaps`; with small initial
    weights the loss is near log V whatever the weights, so the loss alone would miss a
    wrong mapping). Returns ``{"ours", "torch", "rel_diff", "encoder_gap",
    "logits_gap"}``; raises ValueError (one line) when the losses differ by more than
    ``rtol`` relative to ours or the logits by more than ``gap`` of their largest value,
    naming where the models part (the twin would not be the same model)."""
    src, tgt, mask = batch
    ours.eval(), twin.eval()
    try:
        with tg.no_grad():
            a = ours.loss(src, tgt, mask, pad_id=pad_id, label_smoothing=label_smoothing).item()
        with torch.no_grad():
            b = twin.loss(src, tgt, mask, pad_id, label_smoothing).item()
            with tg.no_grad():
                enc, logits = _gaps(ours, twin, src, tgt, mask)
    finally:
        ours.train(), twin.train()
    rel = abs(a - b) / max(abs(a), 1e-30)
    if not (rel <= rtol and logits <= gap):
        where = (f"the encoder states differ already (by up to {enc:.1e} of their largest "
                 f"value)" if not enc <= gap else f"the encoder states agree (within "
                 f"{enc:.1e}); the logits differ by up to {logits:.1e} of their largest")
        raise ValueError(f"the twin's first-batch loss {b:.6f} against ours {a:.6f} (relative "
                         f"difference {rel:.1e}, allowed {rtol:g}); {where} (allowed {gap:g}): "
                         f"the twin is not our model (check recurrent_twin.NAME_MAP)")
    return {"ours": a, "torch": b, "rel_diff": rel, "encoder_gap": enc, "logits_gap": logits}
