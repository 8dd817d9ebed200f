"""--dropout in the recurrent models: with one layer it still regularises (the embedded
source and target tokens and the output layer's input are dropped in training, Zaremba et
al. 2014), it is the identity in eval mode, and p = 0 changes nothing."""
import numpy as np
import pytest

import tinygrad_attn as tg
from models import AttentionSeq2Seq, BahdanauSeq2Seq, PeekySeq2Seq, Seq2Seq

MODELS = [Seq2Seq, PeekySeq2Seq, AttentionSeq2Seq, BahdanauSeq2Seq]
SRC = np.array([[3, 4, 5, 6], [6, 5, 4, 0]])
TGT = np.array([[1, 7, 8], [1, 8, 7]])


def logits(model):
    out = model(SRC, TGT)
    return np.asarray((out[0] if isinstance(out, tuple) else out).data)


def build(cls, dropout, cell="gru"):
    return cls(10, 8, 6, dropout=dropout, cell=cell, init="pytorch", seed=3)


@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_one_layer_dropout_changes_training_passes_only(cls, cell):
    model = build(cls, 0.5, cell)
    tg.manual_seed(0)
    a, b = logits(model), logits(model)
    assert not np.allclose(a, b)                 # fresh masks each pass: it really drops
    model.eval()
    plain = build(cls, 0.0, cell)
    plain.eval()
    np.testing.assert_array_equal(logits(model), logits(plain))   # identity in eval mode


@pytest.mark.parametrize("cls", MODELS)
def test_dropout_reaches_the_source_the_target_and_the_output_layer(cls):
    model = build(cls, 0.5)
    tg.manual_seed(1)
    out = model(SRC, TGT)
    loss = (out[0] if isinstance(out, tuple) else out).sum()
    loss.backward()
    for emb in (model.encoder.embedding, model.decoder_embedding):
        g = np.asarray(emb.weight.grad)
        used = np.unique(SRC if emb is model.encoder.embedding else TGT)
        # a dropped coordinate of a used row gets no gradient from that use: with p = 0.5
        # over these few uses some coordinates are exactly 0 in a row that is used
        assert (g[used] == 0).any(), "no coordinate dropped"


@pytest.mark.parametrize("cls", MODELS)
def test_embed_target_and_project_are_inverted_dropout(cls):
    model = build(cls, 0.5)
    tg.manual_seed(2)
    ids = np.full((400,), 7)
    dropped = np.asarray(model.embed_target(ids).data)
    whole = np.asarray(model.decoder_embedding.weight.data)[7]
    zero = dropped == 0
    assert 0.4 < zero.mean() < 0.6                              # p = 0.5 of the coordinates
    np.testing.assert_allclose(dropped[~zero], np.broadcast_to(2 * whole, dropped.shape)[~zero],
                               rtol=1e-6)                       # the rest scaled by 1/(1-p)
    F = model.out.weight.shape[1]
    x = tg.Tensor(np.ones((400, F), np.float32))
    train_out = np.asarray(model.project(x).data)
    model.eval()
    eval_out = np.asarray(model.project(x).data)
    assert not np.allclose(train_out, eval_out)
    np.testing.assert_allclose(train_out.mean(axis=0), eval_out[0], atol=0.35)


@pytest.mark.parametrize("cls", MODELS)
def test_zero_dropout_is_the_model_of_before(cls):
    a, b = build(cls, 0.0), build(cls, 0.0)
    tg.manual_seed(0)
    np.testing.assert_array_equal(logits(a), logits(b))
