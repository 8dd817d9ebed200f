"""What every sequence-to-sequence model of ``models/`` offers, so that one training loop,
one greedy decoder and one beam search serve them all.

A model is an ``nn.Module`` with:

- ``encode(src, src_padding_mask) -> memory``: whatever the decoder needs (encoder states,
  final state, the mask).
- ``init_decoder(memory) -> state``: the decoder's state before the first step, a ``dict``
  of Tensors / arrays whose axis 0 is the batch (``reorder_state`` relies on that).
- ``decode_step(prev_ids, state) -> (logits, state, weights)``: one decoder step. ``prev_ids``
  (N,) int64, the previous output token; ``logits`` Tensor (N, V); ``weights`` the attention
  weights over the source, Tensor (N, S), or None for a model without attention.
- ``decode(tgt_in, memory) -> (logits, weights)``: the teacher-forced decoder over a whole
  target prefix ``tgt_in`` (N, T) -> logits (N, T, V), weights (N, T, S) or None. Models
  implement it as fast as they can (one fused LSTM call, a causal Transformer pass); it
  must equal stepping ``decode_step`` T times (tested).

Shapes: N batch, S source length, T target length, V target vocabulary.
Padding: ``src_padding_mask`` is a bool (N, S) array, True where the source is padding
(PyTorch's ``key_padding_mask`` convention), padding on the right; None means no padding.
"""
from __future__ import annotations

import numpy as np

from tinygrad_attn import Tensor, nn, scope, stack
from tinygrad_attn import functional as F


class Seq2SeqModel(nn.Module):
    """Base class of the encoder-decoder models: the shared ``forward`` (teacher forcing
    with a ratio), ``loss`` and ``reorder_state``. Subclasses implement ``encode``,
    ``init_decoder``, ``decode_step`` and ``decode`` (see the module docstring).

    ``self.config`` (a JSON-safe dict of constructor arguments) is what a checkpoint stores
    to rebuild the model; ``MODEL_NAME`` is the ``--model`` name of the command line.
    """

    MODEL_NAME = "?"
    config: dict
    #: decoder-state entries that depend only on the source sentence (the encoder's
    #: memory and mask): the same for every beam of a sentence, so beam search, which only
    #: reorders beams within a sentence, never needs to copy them (``reorder_state(keep=)``)
    MEMORY_KEYS: tuple = ()
    #: True if ``decode_step`` also accepts the MEMORY_KEYS entries with one row per
    #: sentence while the rest of the state has K consecutive rows per sentence (its K
    #: beams); beam search then never copies the memory K times
    GROUPED_BEAMS: bool = False

    # -- to implement -------------------------------------------------------------------
    def encode(self, src, src_padding_mask=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def init_decoder(self, memory) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode_step(self, prev_ids, state):  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, tgt_in, memory):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------
    def reorder_state(self, state: dict, index, keep=()) -> dict:
        """Select (and repeat) batch rows of a decoder state: every Tensor or array value is
        indexed along axis 0 with ``index`` (int array); other values, and the entries named
        in ``keep``, are kept as they are. Used by beam search to follow the surviving
        hypotheses (with ``keep=MEMORY_KEYS``, valid because ``index`` there maps each row
        to a row of the same sentence)."""
        index = np.asarray(index)
        out = {}
        for k, v in state.items():
            if k in keep:
                out[k] = v
            elif isinstance(v, Tensor):
                out[k] = v[index]
            elif isinstance(v, np.ndarray):
                out[k] = v[index]
            elif isinstance(v, tuple) and all(isinstance(x, Tensor) for x in v):
                out[k] = tuple(x[index] for x in v)
            else:
                out[k] = v
        return out

    def generate(self, src, start_id: int, length: int, src_padding_mask=None,
                 eos_id: int | None = None):
        """Batched greedy decoding (:func:`models.decoding.greedy_decode`): returns ids
        (N, length) int64 and the attention weights (N, length, S) float32 (or None)."""
        from .decoding import greedy_decode
        return greedy_decode(self, src, src_padding_mask, start_id=start_id, max_len=length,
                             eos_id=eos_id)

    def forward(self, src, tgt_in, src_padding_mask=None, teacher_forcing_ratio: float = 1.0,
                rng: np.random.Generator | None = None, return_attention: bool = False):
        """Decoder logits (N, T, V) for the target prefix ``tgt_in`` (N, T) int.

        With ``teacher_forcing_ratio`` 1 (default) the decoder reads the true previous token
        at every step (``decode``, in one pass). Below 1 it is scheduled sampling (Bengio et
        al. 2015, "Scheduled Sampling for Sequence Prediction with RNNs", sec. 2.4): at each
        step t > 0, with probability ``1 - ratio`` per sentence, the input is the model's own
        previous argmax instead of ``tgt_in[:, t]``, stepping ``decode_step`` T times.
        ``rng`` draws those coin flips (default: a fresh ``default_rng(0)``).
        Returns logits, and the weights (N, T, S) (or None) if ``return_attention``.
        """
        if not 0.0 <= teacher_forcing_ratio <= 1.0:
            raise ValueError(f"{type(self).__name__}: teacher_forcing_ratio must be in [0, 1], "
                             f"got {teacher_forcing_ratio}")
        tgt_in = np.asarray(tgt_in)
        memory = self.encode(src, src_padding_mask)
        if teacher_forcing_ratio >= 1.0:
            logits, weights = self.decode(tgt_in, memory)
        else:
            rng = rng if rng is not None else np.random.default_rng(0)
            state, prev = self.init_decoder(memory), tgt_in[:, 0]
            steps, ws = [], []
            for t in range(tgt_in.shape[1]):
                if t > 0:
                    own = steps[-1].data.argmax(axis=-1)
                    use_true = rng.random(len(prev)) < teacher_forcing_ratio
                    prev = np.where(use_true, tgt_in[:, t], own)
                with scope(t):             # decoder step t, for pictures of the graph
                    step_logits, state, w = self.decode_step(prev, state)
                steps.append(step_logits)
                ws.append(w)
            logits = stack(steps, axis=1)
            weights = None if ws[0] is None else stack(ws, axis=1)
        return (logits, weights) if return_attention else logits

    def loss(self, src, tgt, src_padding_mask=None, pad_id: int | None = None,
             teacher_forcing_ratio: float = 1.0, label_smoothing: float = 0.0,
             rng: np.random.Generator | None = None) -> Tensor:
        """Mean cross-entropy (nats per real target token) of ``tgt[:, 1:]`` given
        ``tgt[:, :-1]``. ``tgt`` (N, T+1) int starts with the start symbol; positions equal
        to ``pad_id`` are ignored (None: no padding, as in the fixed-width character tasks).
        ``label_smoothing`` in [0, 1) mixes the one-hot target with the uniform
        distribution (Szegedy et al. 2016, sec. 7)."""
        tgt = np.asarray(tgt)
        logits = self.forward(src, tgt[:, :-1], src_padding_mask, teacher_forcing_ratio, rng)
        kwargs = {"label_smoothing": label_smoothing} if label_smoothing else {}
        return F.cross_entropy(logits, tgt[:, 1:],
                               ignore_index=-100 if pad_id is None else pad_id, **kwargs)


def lengths_from_mask(src_padding_mask, N: int, S: int) -> np.ndarray | None:
    """Real lengths (N,) int64 of right-padded sources from a (N, S) padding mask (None ->
    None). Raises ValueError if a mask marks padding before a real token or a row is all
    padding."""
    if src_padding_mask is None:
        return None
    mask = np.asarray(src_padding_mask, dtype=bool)
    if mask.shape != (N, S):
        raise ValueError(f"src_padding_mask must have the shape of src ({N}, {S}), got "
                         f"{mask.shape}")
    lengths = (~mask).sum(axis=1)
    if (lengths == 0).any() or (mask != (np.arange(S)[None, :] >= lengths[:, None])).any():
        raise ValueError("src_padding_mask: padding must be on the right and every source must "
                         "have at least one real token (fix: right-pad with the pad id and drop "
                         "empty sentences)")
    return lengths.astype(np.int64)


def book_init(model: nn.Module, seed: int | None = None) -> None:
    """The initialisation of Deep Learning from Scratch 2's seq2seq code: embeddings
    N(0, 0.01^2), biases 0, every other weight N(0, 1/fan_in) (Xavier-style; Glorot & Bengio
    2010), with fan_in the second axis of a PyTorch-layout (out, in) weight. Draws from
    ``np.random.default_rng(seed)`` in ``named_parameters`` order."""
    rng = np.random.default_rng(seed)
    for name, p in model.named_parameters():
        if "embedding" in name:
            p.data = (rng.standard_normal(p.shape) / 100).astype(np.float32)
        elif "bias" in name or p.ndim < 2:
            p.data = np.zeros(p.shape, dtype=np.float32)
        else:
            p.data = (rng.standard_normal(p.shape) / np.sqrt(p.shape[1])).astype(np.float32)


#: The recurrent cells a model may use: the layer over a sequence and the one-step cell.
CELLS = {"lstm": (nn.LSTM, nn.LSTMCell), "gru": (nn.GRU, nn.GRUCell)}


#: The recurrent models' initialisations: the book's rule (:func:`book_init`) or the
#: layers' own (PyTorch's).
INITS = ("book", "pytorch")


def check_choice(owner: str, name: str, value, choices) -> str:
    """``value`` if it is one of the strings ``choices``; else ValueError naming ``owner``,
    the argument ``name``, the value and the choices, e.g. "train: cell must be 'lstm' or
    'gru', got 'rnn' (fix: pass cell='lstm' or cell='gru')"."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{owner}: {name} must be {' or '.join(map(repr, choices))}, got "
                         f"{value!r:.40} (fix: pass "
                         f"{' or '.join(f'{name}={c!r}' for c in choices)})")
    return value


def check_cell(owner: str, cell) -> str:
    """``cell`` if it is one of :data:`CELLS` ("lstm", "gru"); else ValueError naming
    ``owner``, the value and the choices (:func:`check_choice`)."""
    return check_choice(owner, "cell", cell, tuple(CELLS))


def recurrent_layer(cell: str, input_size: int, hidden_size: int, **kwargs):
    """``nn.LSTM`` or ``nn.GRU`` (``cell`` "lstm" / "gru") with PyTorch's arguments."""
    return CELLS[cell][0](input_size, hidden_size, **kwargs)


class RNNEncoder(nn.Module):
    """Embedding + LSTM (or GRU) encoder shared by the recurrent seq2seq models.

    ``num_layers``, ``bidirectional``, ``residual`` (GNMT-style skips between stacked
    layers) are ``nn.LSTM``'s / ``nn.GRU``'s; ``dropout`` drops the embedded source in
    training (a non-recurrent connection, Zaremba et al. 2014, sec. 3) and, with stacked
    layers, each layer's output before the next (``nn.LSTM``'s ``dropout``). ``cell``:
    "lstm" (default; the layer is ``self.lstm``, as in every checkpoint written before the
    option existed) or "gru" (``self.gru``; Cho et al. 2014, the gated unit of Bahdanau et
    al.'s encoder). Padding-aware: given a ``src_padding_mask`` the layer runs with the real
    lengths, so the final state is the one after each sentence's last real token (see
    ``nn.LSTM(lengths=)``).

    forward(src (N, S) int, src_padding_mask (N, S) bool or None) -> hs (N, S, H_out), and
    the decoder's initial state (h, c), each (1, N, H_out): the last layer's final states,
    both directions joined, where H_out = hidden_size * (2 if bidirectional else 1); a GRU
    has no cell state, so c is None.
    """

    def __init__(self, vocab_size: int, wordvec_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, residual: bool = False, dropout: float = 0.0,
                 cell: str = "lstm"):
        self.cell = check_cell("RNNEncoder", cell)
        self.embedding = nn.Embedding(vocab_size, wordvec_size)
        setattr(self, cell, recurrent_layer(cell, wordvec_size, hidden_size,
                                            num_layers=num_layers, bidirectional=bidirectional,
                                            residual=residual, dropout=dropout))
        self.output_size = hidden_size * (2 if bidirectional else 1)
        self.dropout = dropout

    @property
    def rnn(self):
        """The recurrent layer: ``self.lstm`` or ``self.gru``."""
        return getattr(self, self.cell)

    def forward(self, src, src_padding_mask=None):
        src = np.asarray(src)
        lengths = lengths_from_mask(src_padding_mask, *src.shape)
        x = F.dropout(self.embedding(src), self.dropout, self.training)
        hs, final = self.rnn(x, lengths=lengths)
        dirs = self.rnn.directions
        h, c = final if self.cell == "lstm" else (final, None)
        h = _last_layer(h, dirs)
        return hs, (h, None if c is None else _last_layer(c, dirs))


def _last_layer(x, dirs: int):
    """The last layer's final states (dirs, N, H) of a (L * dirs, N, H) stack, both
    directions joined: (1, N, dirs * H)."""
    x = x[-dirs:]
    return F.concat([x[0], x[1]], axis=-1).unsqueeze(0) if dirs == 2 else x


class RecurrentSeq2Seq(Seq2SeqModel):
    """What the recurrent encoder-decoders share: an :class:`RNNEncoder`, a target
    embedding, a decoder state ``{"h", "c"}`` (each (N, H); ``{"h"}`` alone with a GRU)
    started from the encoder's final hidden state and a zero cell (as the book's decoders
    do), and the encoder memory ``{"hs", "mask"}`` carried in the state for attention. A
    subclass builds ``self.decoder`` and ``self.out`` and writes ``_decode(tgt_in, state) ->
    (logits (N, T, V), weights (N, T, S) or None, new state)``; ``decode`` and
    ``decode_step`` follow from it.

    Arguments common to the recurrent models: ``src_vocab_size``, ``wordvec_size`` D,
    ``hidden_size`` H (per direction), ``tgt_vocab_size`` (default: the source's, one shared
    vocabulary as in the book), the encoder's ``num_layers`` / ``bidirectional`` /
    ``residual`` / ``dropout`` (``dropout`` also drops, in training, the embedded target
    tokens and the features that enter the output layer: :meth:`embed_target`,
    :meth:`project`), ``cell`` ("lstm", the default and the book's, or "gru": the
    encoder's and the decoder's recurrent cell, :data:`CELLS`), ``init`` ("book":
    :func:`book_init`, the default; "pytorch": the layers' own uniform init), ``seed``. The
    decoder is one LSTM (or GRU) layer of the encoder's output size (2H when bidirectional).
    Raises ValueError for an unknown ``init`` or ``cell``.
    """

    MEMORY_KEYS = ("hs", "mask")

    def __init__(self, src_vocab_size: int, wordvec_size: int = 16, hidden_size: int = 256, *,
                 tgt_vocab_size: int | None = None, num_layers: int = 1,
                 bidirectional: bool = False, residual: bool = False, dropout: float = 0.0,
                 cell: str = "lstm", init: str = "book", seed: int | None = None, **extra):
        check_choice(type(self).__name__, "init", init, INITS)
        self.cell = check_cell(type(self).__name__, cell)
        if seed is not None:
            nn.manual_seed(seed)
        tgt_vocab_size = tgt_vocab_size if tgt_vocab_size is not None else src_vocab_size
        self.config = dict(src_vocab_size=src_vocab_size, wordvec_size=wordvec_size,
                           hidden_size=hidden_size, tgt_vocab_size=tgt_vocab_size,
                           num_layers=num_layers, bidirectional=bidirectional, residual=residual,
                           dropout=dropout, init=init, cell=cell, **extra)
        self.encoder = RNNEncoder(src_vocab_size, wordvec_size, hidden_size, num_layers,
                                  bidirectional, residual, dropout, cell)
        self.decoder_embedding = nn.Embedding(tgt_vocab_size, wordvec_size)
        self.dec_hidden = self.encoder.output_size
        self.dropout = dropout

    def embed_target(self, ids):
        """ids (N, T) or (N,) int -> the decoder's input embeddings (N, T, D) or (N, D),
        dropped out with probability ``dropout`` in training (Zaremba et al. 2014: dropout on
        the non-recurrent connections only; identity in eval mode and at p = 0)."""
        return F.dropout(self.decoder_embedding(np.asarray(ids)), self.dropout, self.training)

    def drop_features(self, features):
        """The output layer's input (..., F), dropped out in training as
        :meth:`embed_target`'s embeddings (identity in eval mode and at p = 0)."""
        return F.dropout(features, self.dropout, self.training)

    def project(self, features):
        """features (..., F) -> logits (..., V) = ``self.out`` of
        :meth:`drop_features`."""
        return self.out(self.drop_features(features))

    def _initialise(self, init: str, seed):
        """Call at the end of a subclass's __init__, once every layer exists."""
        if init == "book":
            book_init(self, seed)

    def encode(self, src, src_padding_mask=None) -> dict:
        """src (N, S) int -> {"hs": (N, S, H) Tensor, "h": (N, H) Tensor, "mask": (N, S) bool
        array or None}."""
        hs, (h, _) = self.encoder(src, src_padding_mask)
        mask = None if src_padding_mask is None else np.asarray(src_padding_mask, dtype=bool)
        return {"hs": hs, "h": h[0], "mask": mask}

    def init_decoder(self, memory: dict) -> dict:
        h = memory["h"]
        state = {"h": h, "hs": memory["hs"], "mask": memory["mask"]}
        if self.cell == "lstm":                       # a GRU has no cell state
            state["c"] = Tensor(np.zeros(h.shape, dtype=h.dtype))
        return state

    def _decoder_layer(self, input_size: int):
        """The decoder's recurrent layer (``nn.LSTM`` or ``nn.GRU``, one layer of
        ``self.dec_hidden`` units) over inputs of ``input_size``."""
        return recurrent_layer(self.cell, input_size, self.dec_hidden)

    def _lstm(self, x, state):
        """The decoder layer (LSTM or GRU) over x (N, T, D_in) from the state's h (and c)
        -> outputs (N, T, H) and the new state dict."""
        if self.cell == "gru":
            out, h = self.decoder(x, state["h"].unsqueeze(0))
            return out, {**state, "h": h[0]}
        out, (h, c) = self.decoder(x, (state["h"].unsqueeze(0), state["c"].unsqueeze(0)))
        return out, {**state, "h": h[0], "c": c[0]}

    def _decode(self, tgt_in, state):  # pragma: no cover - abstract
        raise NotImplementedError

    def _attend(self, query, state):
        """``self.attention(query, hs, mask)`` for query (R, T, H) -> context (R, T, H),
        weights (R, T, S). If the memory has N < R rows (beam search's K = R / N
        consecutive beams per sentence, see ``GROUPED_BEAMS``), each sentence's K * T query
        rows attend to its one memory row together."""
        hs, mask = state["hs"], state["mask"]
        R, T, N = query.shape[0], query.shape[1], hs.shape[0]
        if R == N:
            return self.attention(query, hs, mask)
        context, weights = self.attention(query.reshape(N, R // N * T, query.shape[2]), hs, mask)
        return context.reshape(R, T, context.shape[2]), weights.reshape(R, T, weights.shape[2])

    def decode(self, tgt_in, memory):
        logits, weights, _ = self._decode(np.asarray(tgt_in), self.init_decoder(memory))
        return logits, weights

    def decode_step(self, prev_ids, state):
        logits, weights, state = self._decode(np.asarray(prev_ids)[:, None], state)
        return logits[:, 0], state, (None if weights is None else weights[:, 0])
