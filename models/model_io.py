"""Saving and loading trained models: a checkpoint holds the weights, the model's name and
config, and the data's codec (vocabulary), in one ``.npz`` file without pickle
(:mod:`tinygrad_attn.checkpoint`)."""
from __future__ import annotations

import os

import tinygrad_attn as tg
from tinygrad_attn import checkpoint

from .attention_seq2seq import AttentionSeq2Seq
from .bahdanau_seq2seq import BahdanauSeq2Seq
from .data import CharCodec
from .peeky_seq2seq import PeekySeq2Seq
from .seq2seq import Seq2Seq

RNN_MODELS = {cls.MODEL_NAME: cls for cls in (Seq2Seq, PeekySeq2Seq, AttentionSeq2Seq,
                                               BahdanauSeq2Seq)}
MODEL_NAMES = tuple(RNN_MODELS) + ("transformer",)


def model_from_config(name: str, config: dict):
    """Rebuild an (untrained) model from its name and ``model.config`` (a checkpoint's)."""
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
    checkpoint.save(model.state_dict(), path, metadata=meta)


def load_model(path):
    """Rebuild a model from a checkpoint written by :func:`save_model`.

    Returns (model in eval mode, metadata dict, codec): the codec has ``encode_source``,
    ``decode_target``, ``start_id``, ``eos_id``, ``pad_id``. Raises
    ``tinygrad_attn.CheckpointError`` for a missing, broken or foreign file, ``ValueError``
    for weights that do not fit the stored config.
    """
    state, meta = checkpoint.load(path)
    name = meta.get("model_name")
    if name not in MODEL_NAMES or "data" not in meta:
        raise tg.CheckpointError(f"checkpoint {os.fspath(path)!r} was not written by "
                                 f"tinygrad-attn train (metadata model_name={name!r}); fix: "
                                 f"pass a model.npz from a training run's output folder")
    model = model_from_config(name, meta["config"])
    model.load_state_dict(state)
    if meta["data"]["kind"] == "char":
        codec = CharCodec.from_metadata(meta["data"])
    else:
        from .translation_data import translation_codec_from_metadata
        codec = translation_codec_from_metadata(meta["data"])
    return model.eval(), meta, codec
