"""Saving and loading trained models: a checkpoint holds the weights, the model's name and
config, and the data's codec (vocabulary), in one ``.npz`` file without pickle
(:mod:`tinygrad_attn.checkpoint`).

A checkpoint is untrusted input. :func:`load_model` checks its metadata against a schema
(the model's name, every config field's type and range, the codec's vocabularies and
options) and the file's arrays against the exact parameter shapes the config implies
(:func:`expected_shapes`, computed without allocating anything) before it builds the
model, so a crafted config costs nothing and every problem is one
``tinygrad_attn.CheckpointError`` line naming the field and a fix.
"""
from __future__ import annotations

import inspect
import math

import numpy as np

import tinygrad_attn as tg
from tinygrad_attn import checkpoint
from tinygrad_attn.fileio import quote_path

from .attention_seq2seq import AttentionSeq2Seq
from .bahdanau_seq2seq import BahdanauSeq2Seq
from .codecs import CharCodec
from .peeky_seq2seq import PeekySeq2Seq
from .seq2seq import Seq2Seq
from .tokenizers import (MAX_MODEL_BYTES, SENTENCEPIECE_KINDS, TOKENIZERS, check_model_proto,
                         sha256)

RNN_MODELS = {cls.MODEL_NAME: cls for cls in (Seq2Seq, PeekySeq2Seq, AttentionSeq2Seq,
                                               BahdanauSeq2Seq)}
MODEL_NAMES = tuple(RNN_MODELS) + ("transformer",)

MAX_VOCAB = 1_000_000           # tokens in a vocabulary
MAX_SIZE = 65_536               # embedding, hidden, attention and feed-forward widths
MAX_LAYERS = 64
MAX_LENGTH = 65_536             # source width, answer length, positions
MAX_TEXT = 4_096                # characters of a path or description kept in metadata
_PE_FREE = 2 ** 20              # positional-table entries allowed beyond the file's size
_FIX = "re-train, or pass a model.npz written by tinygrad-attn train"
_REQUIRED = object()


def _int(lo: int, hi: int, none_ok: bool = False):
    """Rule: an int (not a bool) in [lo, hi] (or None when ``none_ok``)."""
    def rule(v):
        if (v is None and none_ok) or (type(v) is int and lo <= v <= hi):
            return None
        need = f"the integer {lo}" if lo == hi else f"an integer from {lo:,} to {hi:,}"
        return need + (" or null" if none_ok else "")
    return rule


def _bool(v):
    return None if isinstance(v, bool) else "true or false"


def _fraction(v):
    ok = type(v) in (int, float) and 0 <= v < 1
    return None if ok else "a number in [0, 1)"


def _choice(*options):
    def rule(v):
        return None if isinstance(v, str) and v in options else f"one of {', '.join(options)}"
    return rule


def _text(limit: int = MAX_TEXT, none_ok: bool = False):
    """Rule: a str of at most ``limit`` characters without control characters."""
    def rule(v):
        if v is None and none_ok:
            return None
        if isinstance(v, str) and len(v) <= limit and \
                not any(ord(c) < 32 or ord(c) == 127 for c in v):
            return None
        return f"text of at most {limit:,} characters without control characters" + \
            (" or null" if none_ok else "")
    return rule


def _describe(v) -> str:
    """A short description of a JSON value, never more than ~60 characters."""
    if isinstance(v, str):
        return repr(v[:40]) + ("..." if len(v) > 40 else "")
    if isinstance(v, list):
        return f"a list of {len(v):,} items"
    if isinstance(v, dict):
        return f"an object with {len(v):,} fields"
    text = repr(v)
    return text if len(text) <= 40 else text[:40] + "..."


def _bad(where: str, problem: str, fix: str = _FIX) -> tg.CheckpointError:
    return tg.CheckpointError(f"checkpoint {where}: {problem} (fix: {fix})")


def _section(value, label: str, where: str) -> dict:
    if not isinstance(value, dict):
        raise _bad(where, f"{label} is {_describe(value)}, not an object")
    return value


def _field(section: dict, key: str, rule, label: str, where: str, default=_REQUIRED):
    """``section[key]`` if ``rule`` accepts it (``default`` when absent and not required)."""
    if key not in section:
        if default is _REQUIRED:
            raise _bad(where, f"{label} has no field {key!r}")
        return default
    need = rule(section[key])
    if need:
        raise _bad(where, f"{label} field {key} is {_describe(section[key])}, not {need}")
    return section[key]


_SIZE, _VOCAB, _LAYERS = _int(1, MAX_SIZE), _int(1, MAX_VOCAB), _int(1, MAX_LAYERS)
_RNN_SCHEMA = {"src_vocab_size": (_VOCAB, _REQUIRED), "wordvec_size": (_SIZE, _REQUIRED),
               "hidden_size": (_SIZE, _REQUIRED), "tgt_vocab_size": (_int(1, MAX_VOCAB, True),
                                                                     None),
               "num_layers": (_LAYERS, 1), "bidirectional": (_bool, False),
               "residual": (_bool, False), "dropout": (_fraction, 0.0),
               "init": (_choice("book", "pytorch"), "book"),
               "cell": (_choice("lstm", "gru"), "lstm")}     # absent before GRUs: an LSTM
CONFIG_SCHEMAS = {
    "seq2seq": _RNN_SCHEMA, "peeky": _RNN_SCHEMA,
    "attention": {**_RNN_SCHEMA, "score": (_choice("dot", "general", "concat"), "dot"),
                  "input_feeding": (_bool, False)},
    "bahdanau": {**_RNN_SCHEMA, "bidirectional": (_bool, True),
                 "attn_size": (_int(1, MAX_SIZE, True), None)},
    "transformer": {"src_vocab_size": (_VOCAB, _REQUIRED), "tgt_vocab_size": (_VOCAB, _REQUIRED),
                    "d_model": (_SIZE, 128), "nhead": (_SIZE, 4),
                    "num_encoder_layers": (_LAYERS, 2), "num_decoder_layers": (_LAYERS, 2),
                    "dim_feedforward": (_int(1, 4 * MAX_SIZE), 256), "dropout": (_fraction, 0.1),
                    "max_len": (_int(1, MAX_LENGTH), 256), "norm_first": (_bool, False),
                    "share_embeddings": (_bool, False),
                    "seed": (_int(-2 ** 63, 2 ** 64 - 1, True), None)},
}
"""Per model name: {config field: (rule, default or _REQUIRED)}; the defaults are the
constructors'. A rule returns None for a good value, else what is needed."""


def check_config(name: str, config, where: str = "'?'") -> dict:
    """Validate a checkpoint's ``config`` for model ``name`` (one of MODEL_NAMES) against
    :data:`CONFIG_SCHEMAS`; returns it complete (absent optional fields get the
    constructor's default; ``tgt_vocab_size`` defaults to ``src_vocab_size``).

    Raises ``tinygrad_attn.CheckpointError`` naming the field: not an object, an unknown
    or missing field, a wrong type (a bool for an int, a string for a number), a value out
    of range (NaN included), a Transformer ``d_model`` not divisible by ``nhead``, or
    ``share_embeddings`` with two vocabulary sizes."""
    schema = CONFIG_SCHEMAS[name]
    config = _section(config, "the model config", where)
    unknown = [k for k in config if k not in schema]
    if unknown:
        raise _bad(where, f"the {name} model config has unknown field "
                   f"{_describe(str(unknown[0]))}")
    out = {k: _field(config, k, rule, f"the {name} model config", where, default)
           for k, (rule, default) in schema.items()}
    if name != "transformer" and out["tgt_vocab_size"] is None:
        out["tgt_vocab_size"] = out["src_vocab_size"]
    if name == "transformer" and out["d_model"] % out["nhead"]:
        raise _bad(where, f"the transformer config has d_model={out['d_model']}, not "
                   f"divisible by nhead={out['nhead']}")
    if name == "transformer" and out["share_embeddings"] and \
            out["src_vocab_size"] != out["tgt_vocab_size"]:
        raise _bad(where, f"the transformer config shares one embedding between vocabularies "
                   f"of {out['src_vocab_size']:,} and {out['tgt_vocab_size']:,} tokens")
    return out


def _lstm_shapes(prefix: str, input_size: int, hidden: int, layers: int = 1,
                 bidirectional: bool = False, suffix: str = "_l", cell: str = "lstm") -> dict:
    """Parameter shapes of ``nn.LSTM`` (PyTorch's names) or, with ``suffix=""`` and one
    layer, of ``nn.LSTMCell``; with ``cell="gru"`` of ``nn.GRU`` / ``nn.GRUCell`` (3 gates
    where the LSTM has 4)."""
    dirs = ("", "_reverse") if bidirectional else ("",)
    G = (3 if cell == "gru" else 4) * hidden
    shapes = {}
    for layer in range(layers):
        layer_in = input_size if layer == 0 else hidden * len(dirs)
        tag = f"{suffix}{layer}" if suffix else ""
        for d in dirs:
            shapes.update({f"{prefix}weight_ih{tag}{d}": (G, layer_in),
                           f"{prefix}weight_hh{tag}{d}": (G, hidden),
                           f"{prefix}bias_ih{tag}{d}": (G,),
                           f"{prefix}bias_hh{tag}{d}": (G,)})
    return shapes


def _rnn_shapes(name: str, c: dict) -> dict:
    """Parameter shapes of a recurrent model (see :func:`expected_shapes`)."""
    D, H, Vs, Vt = c["wordvec_size"], c["hidden_size"], c["src_vocab_size"], c["tgt_vocab_size"]
    Hd = H * (2 if c["bidirectional"] else 1)
    cell = c["cell"]
    shapes = {"encoder.embedding.weight": (Vs, D),
              **_lstm_shapes(f"encoder.{cell}.", D, H, c["num_layers"], c["bidirectional"],
                             cell=cell),
              "decoder_embedding.weight": (Vt, D)}
    out_in = 2 * Hd
    if name == "seq2seq":
        shapes.update(_lstm_shapes("decoder.", D, Hd, cell=cell))
        out_in = Hd
    elif name == "peeky":
        shapes.update(_lstm_shapes("decoder.", D + Hd, Hd, cell=cell))
    elif name == "attention":
        feed = c["input_feeding"]
        shapes.update(_lstm_shapes("decoder.", D + (Hd if feed else 0), Hd, cell=cell))
        if c["score"] == "general":
            shapes["attention.W_a.weight"] = (Hd, Hd)
        elif c["score"] == "concat":
            shapes.update({"attention.W_a.weight": (Hd, 2 * Hd), "attention.v_a.weight": (1, Hd)})
        if feed:
            shapes["W_c.weight"] = (Hd, 2 * Hd)
            out_in = Hd
    else:                                               # bahdanau
        A = c["attn_size"] or Hd
        shapes.update({"attention.W_a.weight": (A, Hd), "attention.U_a.weight": (A, Hd),
                       "attention.U_a.bias": (A,), "attention.v_a.weight": (1, A),
                       **_lstm_shapes("decoder.", D + Hd, Hd, suffix="", cell=cell)})
    shapes.update({"out.weight": (Vt, out_in), "out.bias": (Vt,)})
    return shapes


def _transformer_shapes(c: dict) -> dict:
    """Parameter shapes of :class:`models.transformer.Transformer` (with
    ``share_embeddings``, the one matrix is ``src_embedding.weight``: no
    ``tgt_embedding.weight`` or ``out.weight``)."""
    d, ff = c["d_model"], c["dim_feedforward"]
    shapes = {"src_embedding.weight": (c["src_vocab_size"], d),
              "tgt_embedding.weight": (c["tgt_vocab_size"], d)}

    def attn(p):
        return {f"{p}in_proj_weight": (3 * d, d), f"{p}in_proj_bias": (3 * d,),
                f"{p}out_proj.weight": (d, d), f"{p}out_proj.bias": (d,)}

    for part, layers, blocks in (("encoder", c["num_encoder_layers"], ("self_attn",)),
                                 ("decoder", c["num_decoder_layers"],
                                  ("self_attn", "multihead_attn"))):
        for i in range(layers):
            p = f"{part}.layers.{i}."
            for block in blocks:
                shapes.update(attn(f"{p}{block}."))
            shapes.update({f"{p}linear1.weight": (ff, d), f"{p}linear1.bias": (ff,),
                           f"{p}linear2.weight": (d, ff), f"{p}linear2.bias": (d,)})
            for k in range(1, len(blocks) + 2):
                shapes.update({f"{p}norm{k}.weight": (d,), f"{p}norm{k}.bias": (d,)})
        shapes.update({f"{part}.norm.weight": (d,), f"{part}.norm.bias": (d,)})
    shapes.update({"out.weight": (c["tgt_vocab_size"], d), "out.bias": (c["tgt_vocab_size"],)})
    if c["share_embeddings"]:
        del shapes["tgt_embedding.weight"], shapes["out.weight"]
    return shapes


def expected_shapes(name: str, config: dict) -> dict:
    """{parameter name: shape tuple} of model ``name`` built from ``config`` (as
    :func:`check_config` returns it), computed from the sizes alone: nothing is allocated.
    Equal to ``{k: v.shape for k, v in model.state_dict().items()}`` (tested for every
    model and option)."""
    return _transformer_shapes(config) if name == "transformer" else _rnn_shapes(name, config)


def check_weights(state: dict, shapes: dict, where: str = "'?'") -> None:
    """Check a checkpoint's arrays against :func:`expected_shapes`: the same names, the
    same shapes, floating point, finite. Raises ``tinygrad_attn.CheckpointError`` naming
    the missing/unexpected parameters, or the parameter and both shapes."""
    missing = [k for k in shapes if k not in state]
    unexpected = [k for k in state if k not in shapes]
    if missing or unexpected:
        def some(names):
            more = f" and {len(names) - 3:,} more" if len(names) > 3 else ""
            return ", ".join(_describe(n) for n in names[:3]) + more
        parts = ([f"missing {some(missing)}"] if missing else []) + \
                ([f"unexpected {some(unexpected)}"] if unexpected else [])
        raise _bad(where, "its weights do not fit its config: " + "; ".join(parts))
    for k, want in shapes.items():
        a = state[k]
        if a.shape != want:
            raise _bad(where, f"weight {k!r} has shape {a.shape}, but the config needs {want}")
        if a.dtype.kind != "f":
            raise _bad(where, f"weight {k!r} is {a.dtype}, not floating point")
        if not np.isfinite(a).all():
            raise _bad(where, f"weight {k!r} holds NaN or infinite values",
                       "re-train; the run that wrote it diverged")


def _check_vocab(d: dict, key: str, size: int, where: str, specials=()) -> None:
    """A codec vocabulary: ``d[key]`` = {"id_to_char" or "id_to_token": [distinct str]}
    whose length is the config's ``size``."""
    label = f"the data's {key}"
    vocab = _section(d.get(key), label, where)
    list_key = "id_to_token" if specials else "id_to_char"
    items = vocab.get(list_key)
    if not isinstance(items, list):
        raise _bad(where, f"{label} has no list {list_key}")
    bad = [t for t in items if not isinstance(t, str) or not t
           or (not specials and len(t) != 1) or len(t) > 1000]
    what = (f"non-empty tokens starting with {', '.join(specials)}" if specials
            else "single characters")
    if bad or len(set(items)) != len(items) or tuple(items[:len(specials)]) != specials:
        first = _describe(bad[0]) if bad else "a repeat or a missing special token"
        raise _bad(where, f"{label} is not a list of distinct {what} (first problem: {first})")
    if len(items) != size:
        raise _bad(where, f"{label} has {len(items):,} entries but the model's embedding has "
                   f"{size:,} rows")


def _check_options(options, where: str) -> None:
    """The ``load_translation`` keyword arguments stored with translation data."""
    from .translation_dataset import load_translation
    known = {n for n, p in inspect.signature(load_translation).parameters.items()
             if p.kind is p.KEYWORD_ONLY}
    rules = {"max_len": _int(1, MAX_LENGTH, True), "min_len": _int(1, MAX_LENGTH),
             "lower": _bool, "split_punctuation": _bool, "reverse_source": _bool,
             "test_fraction": _fraction, "seed": _int(0, 2 ** 128),
             "min_freq": _int(1, 2 ** 31), "max_pairs": _int(1, 2 ** 40, True),
             "tokenizer": _choice(*TOKENIZERS), "vocab_size": _int(5, MAX_VOCAB, True),
             "joint_vocab": _bool}
    options = _section(options, "the data's options", where)
    for k, v in options.items():
        if k not in known:
            raise _bad(where, f"the data's options have unknown field {_describe(str(k))}")
        if k == "columns":
            ok = v is None or (isinstance(v, list) and 0 < len(v) <= 16
                               and all(_text(64)(c) is None for c in v))
            if not ok:
                raise _bad(where, f"the data's options field columns is {_describe(v)}, not "
                           f"null or a list of up to 16 column names")
        else:
            _field(options, k, rules.get(k, _plain), "the data's options", where)


def _plain(v):
    """Rule: null, a bool, a number or short text (an option this file does not know)."""
    if v is None or type(v) in (bool, int, float) or _text(200)(v) is None:
        return None
    return "null, a bool, a number or short text"


def check_data_metadata(data, config: dict, where: str = "'?'") -> dict:
    """Validate a checkpoint's ``data`` metadata (what the codec is rebuilt from) against
    its types and against the model ``config`` (vocabulary sizes). Returns it.

    Raises ``tinygrad_attn.CheckpointError`` naming the field."""
    data = _section(data, "the data metadata", where)
    kind = _field(data, "kind", _choice("char", "word-translation", "translation"),
                  "the data metadata", where)
    label = "the data metadata"
    for key in ("data_path", "data_source"):
        _field(data, key, _text(MAX_TEXT, none_ok=True), label, where, None)
    if kind == "char":
        if config["src_vocab_size"] != config["tgt_vocab_size"]:
            raise _bad(where, "the model has two vocabularies but character data has one")
        _check_vocab(data, "vocab", config["src_vocab_size"], where)
        _field(data, "reversed", _bool, label, where)
        for key in ("source_width", "answer_length"):
            _field(data, key, _int(1, MAX_LENGTH), label, where)
        _field(data, "start_id", _int(0, config["src_vocab_size"] - 1), label, where)
        return data
    from .vocab import Vocab
    _field(data, "version", _int(1, 1), label, where)
    for key, size in (("src_vocab", config["src_vocab_size"]),
                      ("tgt_vocab", config["tgt_vocab_size"])):
        _check_vocab(data, key, size, where, specials=Vocab.SPECIALS)
    for key in ("src_lang", "tgt_lang"):
        _field(data, key, _text(64), label, where)
    for key in ("reversed", "lower", "split_punctuation"):
        _field(data, key, _bool, label, where)
    for key in ("direction", "metric"):
        _field(data, key, _text(200), label, where, None)
    if "options" in data:
        _check_options(data["options"], where)
    _check_tokenizer_meta(data, kind, where)
    if "counts" in data:
        counts = _section(data["counts"], "the data's counts", where)
        for k in counts:
            _field(counts, k, _int(0, 2 ** 63 - 1), "the data's counts", where)
    return data


def _hex64(v):
    ok = isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)
    return None if ok else "64 lower-case hex digits (a SHA-256)"


def _check_tokenizer_meta(data: dict, kind: str, where: str) -> None:
    """The ``tokenizer`` section of translation metadata: absent for kind
    "word-translation" (words, two vocabularies); for kind "translation" ``{"kind",
    "joint"}`` and, for bpe and unigram, the SHA-256 of each stored model
    (``models.codecs.TranslationCodec.metadata``)."""
    if kind == "word-translation":
        if "tokenizer" in data:
            raise _bad(where, "the data metadata of kind word-translation has a tokenizer "
                       "field")
        return
    label = "the data's tokenizer"
    tok = _section(data.get("tokenizer"), label, where)
    unknown = [k for k in tok if k not in ("kind", "joint", "sha256")]
    if unknown:
        raise _bad(where, f"{label} has unknown field {_describe(str(unknown[0]))}")
    kind = _field(tok, "kind", _choice(*TOKENIZERS), label, where)
    joint = _field(tok, "joint", _bool, label, where)
    if joint and data["src_vocab"] != data["tgt_vocab"]:
        raise _bad(where, f"{label} is joint but the two vocabularies differ")
    sides = ("src",) if joint else ("src", "tgt")
    if kind in SENTENCEPIECE_KINDS:
        sums = _section(tok.get("sha256"), f"{label}'s sha256", where)
        if sorted(sums) != sorted(sides):
            raise _bad(where, f"{label}'s sha256 names {_describe(sorted(sums))}, not "
                       f"{' and '.join(sides)}")
        for side in sides:
            _field(sums, side, _hex64, f"{label}'s sha256", where)
    elif "sha256" in tok:
        raise _bad(where, f"{label} of kind {kind} has a sha256 field but stores no model")


def check_tokenizer_arrays(data: dict, arrays: dict, where: str = "'?'") -> None:
    """Check a checkpoint's ``tokenizer.*`` arrays against its data metadata (checked by
    :func:`check_data_metadata`): exactly the arrays its tokenizer needs
    (``tokenizer.src``, and ``tokenizer.tgt`` unless joint, for bpe and unigram; none
    otherwise), each a 1-D uint8 array of 1 to MAX_MODEL_BYTES bytes whose SHA-256 is the
    metadata's, holding a sentencepiece model of the metadata's kind that this program
    writes (``models.tokenizers.check_model_proto``, before sentencepiece sees it) whose
    pieces are the stored vocabulary. Raises ``tinygrad_attn.CheckpointError`` naming the
    array."""
    tok = data.get("tokenizer") if data.get("kind") == "translation" else None
    kind = tok["kind"] if tok else "word"
    want = {}
    if kind in SENTENCEPIECE_KINDS:
        want = {"tokenizer.src": "src_vocab"} if tok["joint"] else \
            {"tokenizer.src": "src_vocab", "tokenizer.tgt": "tgt_vocab"}
    missing = [k for k in want if k not in arrays]
    unexpected = [k for k in arrays if k not in want]
    if missing or unexpected:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + \
            ([f"unexpected {_describe(unexpected[0])}"] if unexpected else [])
        raise _bad(where, f"its tokenizer arrays do not fit its {kind} tokenizer: " +
                   "; ".join(parts))
    for name, vocab_key in want.items():
        a = arrays[name]
        if a.dtype != np.uint8 or a.ndim != 1 or not 0 < a.size <= MAX_MODEL_BYTES:
            raise _bad(where, f"array {name!r} is {a.dtype} {a.shape}, not 1 to "
                       f"{MAX_MODEL_BYTES:,} bytes (a 1-D uint8 array)")
        raw = a.tobytes()
        if sha256(raw) != tok["sha256"][name.split(".")[1]]:
            raise _bad(where, f"array {name!r} does not match the SHA-256 its metadata "
                       f"records (the file is damaged or altered)")
        try:
            model_kind, pieces = check_model_proto(raw)
        except ValueError as e:
            raise _bad(where, f"array {name!r} is {e}") from None
        if model_kind != kind or pieces != data[vocab_key]["id_to_token"]:
            raise _bad(where, f"array {name!r} holds a {model_kind} model whose pieces are "
                       f"not the data's {vocab_key} of its {kind} tokenizer")


def model_from_config(name: str, config: dict):
    """Rebuild an (untrained) model from its name and ``model.config`` (a checkpoint's).
    Trusts ``config``: check it first with :func:`check_config`."""
    if name == "transformer":
        from .transformer import Transformer
        return Transformer(**config)
    cfg = dict(config)
    cfg["init"] = "pytorch"           # weights come from the checkpoint anyway
    return RNN_MODELS[name](cfg.pop("src_vocab_size"), cfg.pop("wordvec_size"),
                            cfg.pop("hidden_size"), **cfg)


def save_model(model, data, path, extra: dict | None = None) -> None:
    """Save weights, the model's name and config and the data's codec in one checkpoint
    (atomic write; see :mod:`tinygrad_attn.checkpoint`)."""
    meta = {"model": type(model).__name__, "model_name": model.MODEL_NAME,
            "config": model.config, "data": data.metadata(), **(extra or {})}
    arrays = dict(model.state_dict())         # + the tokenizer models of bpe / unigram data
    arrays.update(data.codec_arrays() if hasattr(data, "codec_arrays") else {})
    checkpoint.save(arrays, path, metadata=meta)


def load_model(path, *, max_bytes: int = checkpoint.DEFAULT_MAX_BYTES):
    """Rebuild a model from a checkpoint written by :func:`save_model`.

    Returns (model in eval mode, metadata dict, codec): the codec has ``encode_source``,
    ``decode_target``, ``start_id``, ``eos_id``, ``pad_id``. Nothing is built before the
    file (:func:`tinygrad_attn.checkpoint.load`), the model name, the config
    (:func:`check_config`), the data metadata (:func:`check_data_metadata`) and every
    weight's name, shape, dtype and finiteness (:func:`check_weights`) are checked, and
    the tokenizer arrays of bpe / unigram data (:func:`check_tokenizer_arrays`).

    Raises
    ------
    tinygrad_attn.CheckpointError
        Any problem with the file or its contents: one line naming the path, the field or
        parameter, and a fix.
    """
    state, meta = checkpoint.load(path, max_bytes=max_bytes)
    tokenizer_arrays = {k: state.pop(k) for k in [k for k in state
                                                   if k.startswith("tokenizer.")]}
    where = quote_path(path)
    name = meta.get("model_name")
    if not isinstance(name, str) or name not in MODEL_NAMES or "data" not in meta:
        raise _bad(where, f"not written by tinygrad-attn train (metadata model_name="
                   f"{_describe(name)}{'' if 'data' in meta else ', no data field'})",
                   "pass a model.npz from a training run's output folder")
    config = check_config(name, meta.get("config"), where)
    data = check_data_metadata(meta["data"], config, where)
    check_tokenizer_arrays(data, tokenizer_arrays, where)
    shapes = expected_shapes(name, config)
    check_weights(state, shapes, where)
    if name == "transformer":         # its position table is (max_len, d_model) float64
        weights = sum(math.prod(s) for s in shapes.values())
        if config["max_len"] * config["d_model"] > max(_PE_FREE, weights):
            raise _bad(where, f"the transformer config's max_len={config['max_len']:,} makes "
                       f"a position table far larger than the model itself")
    try:
        model = model_from_config(name, config)
        model.load_state_dict(state)
        if data["kind"] == "char":
            codec = CharCodec.from_metadata(data)
        else:
            from .codecs import translation_codec_from_metadata
            codec = translation_codec_from_metadata(data, tokenizer_arrays)
    except (ValueError, TypeError, KeyError) as e:
        raise _bad(where, f"the model or codec does not rebuild ({type(e).__name__}: "
                   f"{_describe(str(e))})") from None
    return model.eval(), meta, codec
