"""The Transformer recipe for small data (issue 16): dropout on the embedding sums, shared
source/target/output embeddings over a joint vocabulary (one Parameter whose gradient sums
its uses; refused for two vocabularies; saved and loaded), and ``--share-embeddings``
through ``train`` and the command line."""
import numpy as np
import pytest

from models.model_io import check_config, expected_shapes, load_model, save_model
from models.transformer import Transformer
from tinygrad_attn import CheckpointError

SMALL = dict(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
             dim_feedforward=16, max_len=16)
SRC = np.array([[4, 5, 6, 0], [7, 4, 0, 0]])
MASK = SRC == 0
TGT = np.array([[1, 5, 9, 2], [1, 8, 2, 0]])


def _loss(model):
    return model.loss(SRC, TGT, MASK, pad_id=0)


def test_dropout_is_applied_to_the_embedding_sums():
    model = Transformer(10, 10, dropout=0.5, seed=0, **SMALL)
    assert model.positional_encoding.dropout.p == 0.5
    x = model._embed(model.src_embedding, SRC)           # training mode: dropped
    assert (x.data == 0).mean() > 0.3
    model.eval()
    assert (model._embed(model.src_embedding, SRC).data == 0).mean() == 0


def test_shared_embeddings_are_one_parameter_listed_once():
    model = Transformer(10, 10, share_embeddings=True, dropout=0.0, seed=0, **SMALL)
    w = model.src_embedding.weight
    assert model.tgt_embedding.weight is w and model.out.weight is w
    names = [n for n, _ in model.named_parameters()]
    assert "src_embedding.weight" in names and "out.bias" in names
    assert "tgt_embedding.weight" not in names and "out.weight" not in names
    untied = Transformer(10, 10, dropout=0.0, seed=0, **SMALL)
    assert model.num_parameters() == untied.num_parameters() - 2 * 10 * 8
    config = check_config("transformer", model.config)
    assert config["share_embeddings"] is True
    assert expected_shapes("transformer", config) == {k: v.shape for k, v in
                                                      model.state_dict().items()}


def test_the_shared_gradient_is_the_sum_of_its_three_uses():
    tied = Transformer(10, 10, share_embeddings=True, dropout=0.0, seed=0, **SMALL)
    tied.train()
    _loss(tied).backward()
    untied = Transformer(10, 10, dropout=0.0, seed=0, **SMALL)
    state = tied.state_dict()
    state.update({"tgt_embedding.weight": state["src_embedding.weight"],
                  "out.weight": state["src_embedding.weight"]})
    untied.load_state_dict(state)
    untied.train()
    loss = _loss(untied)
    loss.backward()
    assert loss.item() == pytest.approx(_loss(tied).item(), rel=1e-6)
    uses = [untied.src_embedding.weight.grad, untied.tgt_embedding.weight.grad,
            untied.out.weight.grad]
    assert all(np.abs(g).sum() > 0 for g in uses)       # each use contributes
    np.testing.assert_allclose(tied.src_embedding.weight.grad, sum(uses), rtol=1e-5,
                               atol=1e-7)


def test_sharing_two_vocabularies_is_refused():
    with pytest.raises(ValueError, match=r"share_embeddings needs one joint vocabulary, got "
                                         r"src_vocab_size=10 and tgt_vocab_size=12"):
        Transformer(10, 12, share_embeddings=True, **SMALL)


def test_a_shared_model_saves_and_loads(tmp_path):
    from models.char_dataset import load_dataset
    data = load_dataset(n_generated=50)
    V = len(data.src_vocab)
    model = Transformer(V, V, share_embeddings=True, seed=1, **SMALL)
    save_model(model, data, tmp_path / "m.npz")
    loaded, meta, _ = load_model(tmp_path / "m.npz")
    assert loaded.out.weight is loaded.src_embedding.weight is loaded.tgt_embedding.weight
    np.testing.assert_array_equal(loaded.out.weight.data, model.out.weight.data)
    assert meta["config"]["share_embeddings"] is True


def test_a_checkpoint_sharing_two_vocabulary_sizes_is_refused():
    config = Transformer(10, 10, share_embeddings=True, **SMALL).config
    with pytest.raises(CheckpointError, match="shares one embedding between vocabularies of "
                                              "10 and 12 tokens"):
        check_config("transformer", {**config, "tgt_vocab_size": 12})
