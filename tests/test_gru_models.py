"""The recurrent models with ``cell="gru"`` (issue 16): float64 gradient checks, decoding
equal to stepping, the same values and gradients as a PyTorch twin built on
``torch.nn.GRU`` / ``torch.nn.GRUCell``, checkpoints that record the cell (and old ones,
without it, that load as LSTMs), and hostile cell values."""
from pathlib import Path

import numpy as np
import pytest

import tinygrad_attn as tg
from models import AttentionSeq2Seq, BahdanauSeq2Seq, PeekySeq2Seq, Seq2Seq
from models.char_dataset import load_dataset
from models.cli import main
from models.model_io import check_config, expected_shapes, load_model, save_model
from models.train import TrainConfig, build_model, train

SAMPLE = Path(__file__).resolve().parents[1] / "samples/eng-fra/fra.tutorial-filter.sample.txt"


def LuongInputFeeding(*args, **kwargs):
    return AttentionSeq2Seq(*args, input_feeding=True, **kwargs)


MODELS = [Seq2Seq, PeekySeq2Seq, AttentionSeq2Seq, LuongInputFeeding, BahdanauSeq2Seq]


def tiny(cls, **kw):
    return cls(7, 3, 4, tgt_vocab_size=6, seed=1, init="pytorch", cell="gru", **kw)


def batch(seed=0, N=2, S=5, T=3):
    rng = np.random.default_rng(seed)
    src, tgt = rng.integers(4, 7, (N, S)), rng.integers(0, 6, (N, T + 1))
    mask = np.zeros((N, S), bool)
    mask[0, 3:] = True
    src[mask] = 0
    return src, tgt, mask


# -- the models --------------------------------------------------------------------------
@pytest.mark.parametrize("cls, encoder", [(cls, {}) for cls in MODELS] + [
    (Seq2Seq, {"bidirectional": True, "num_layers": 2, "residual": True})])
def test_every_gru_model_passes_a_float64_gradient_check(cls, encoder):
    model = tiny(cls, **encoder)
    params = list(model.parameters())
    for p in params:
        p.data = p.data.astype(np.float64)
    src, tgt, mask = batch()
    assert tg.gradcheck(lambda *_: model.loss(src, tgt, mask, pad_id=0), params)


@pytest.mark.parametrize("cls", MODELS)
def test_a_gru_model_has_gru_layers_and_no_cell_state(cls):
    model = tiny(cls, bidirectional=True)
    assert model.cell == "gru" and model.config["cell"] == "gru"
    assert isinstance(model.encoder.gru, tg.nn.GRU) and not hasattr(model.encoder, "lstm")
    assert isinstance(model.decoder, (tg.nn.GRU, tg.nn.GRUCell))
    state = model.init_decoder(model.encode(*batch()[::2]))
    assert "c" not in state and state["h"].shape == (2, 8)
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert shapes["encoder.gru.weight_hh_l0"] == (12, 4)          # 3 gates x H
    name = model.MODEL_NAME
    assert expected_shapes(name, check_config(name, model.config)) == shapes


@pytest.mark.parametrize("cls", MODELS)
def test_gru_decode_equals_stepping_and_padding_changes_nothing(cls):
    model = tiny(cls, bidirectional=True)
    src, tgt, mask = batch(N=3)
    logits = model(src, tgt[:, :-1], mask).data
    state, steps = model.init_decoder(model.encode(src, mask)), []
    for t in range(3):
        step, state, _ = model.decode_step(tgt[:, t], state)
        steps.append(step.data)
    np.testing.assert_allclose(np.stack(steps, 1), logits, rtol=1e-5, atol=1e-6)
    alone = model(src[:1, :3], tgt[:1, :-1], np.zeros((1, 3), bool)).data
    np.testing.assert_allclose(logits[:1], alone, rtol=1e-5, atol=1e-6)


# -- parity with PyTorch's GRU -------------------------------------------------------------
def _torch_twin_loss(model, src, tgt, mask, torch):
    """The loss of ``model`` (a GRU Seq2Seq or Bahdanau model with a bidirectional encoder)
    computed by PyTorch from its state dict: torch.nn.GRU over packed sources, then the
    decoder (torch.nn.GRU, or torch.nn.GRUCell with additive attention). Returns (loss,
    {name: torch parameter})."""
    W = {k: torch.tensor(np.asarray(v, np.float64), requires_grad=True)
         for k, v in model.state_dict().items()}
    H = model.encoder.output_size // 2
    enc = torch.nn.GRU(3, H, batch_first=True, bidirectional=True).double()
    for k, p in enc.named_parameters():
        p.data = W[f"encoder.gru.{k}"]
    enc._flat_weights = [W[f"encoder.gru.{k}"] for k in enc._flat_weights_names]
    lengths = torch.tensor((~mask).sum(1))
    x = torch.nn.utils.rnn.pack_padded_sequence(W["encoder.embedding.weight"][src], lengths,
                                                batch_first=True, enforce_sorted=False)
    out, h_n = enc(x)
    hs, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                   total_length=src.shape[1])
    h = torch.cat([h_n[0], h_n[1]], dim=-1)
    emb = W["decoder_embedding.weight"][tgt[:, :-1]]
    layer = "_l0" if isinstance(model, Seq2Seq) else ""     # nn.GRU's names, or GRUCell's
    dec = [W[f"decoder.{n}{layer}"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    if isinstance(model, Seq2Seq):
        steps = []
        for t in range(emb.shape[1]):
            h = torch.gru_cell(emb[:, t], h, *dec)
            steps.append(h @ W["out.weight"].T + W["out.bias"])
    else:
        keys, steps = hs @ W["attention.U_a.weight"].T + W["attention.U_a.bias"], []
        for t in range(emb.shape[1]):
            e = (torch.tanh((h @ W["attention.W_a.weight"].T)[:, None] + keys)
                 @ W["attention.v_a.weight"].T)[..., 0]
            a = torch.softmax(e.masked_fill(torch.tensor(mask), float("-inf")), dim=-1)
            c = (a[:, None] @ hs)[:, 0]
            h = torch.gru_cell(torch.cat([emb[:, t], c], -1), h, *dec)
            steps.append(torch.cat([h, c], -1) @ W["out.weight"].T + W["out.bias"])
    logits = torch.stack(steps, 1)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             torch.tensor(tgt[:, 1:]).reshape(-1),
                                             ignore_index=0)
    return loss, W


@pytest.mark.parametrize("cls", [Seq2Seq, BahdanauSeq2Seq])
def test_gru_models_match_a_pytorch_twin_in_loss_and_gradients(cls):
    torch = pytest.importorskip("torch", reason="the PyTorch twin needs torch==2.13.0")
    model = tiny(cls, bidirectional=True)
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    src, tgt, mask = batch(seed=5, N=3, S=6, T=4)
    loss = model.loss(src, tgt, mask, pad_id=0)
    loss.backward()
    theirs, W = _torch_twin_loss(model, src, tgt, mask, torch)
    theirs.backward()
    np.testing.assert_allclose(loss.item(), theirs.item(), rtol=1e-10)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, W[name].grad.numpy(), rtol=1e-8, atol=1e-10,
                                   err_msg=name)


# -- checkpoints ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def char_data():
    return load_dataset(n_generated=200, generator_seed=4)


@pytest.mark.parametrize("name", ["seq2seq", "peeky", "attention", "bahdanau"])
def test_a_gru_checkpoint_round_trips(tmp_path, char_data, name):
    V = len(char_data.vocab)
    model = build_model(TrainConfig(model=name, hidden_size=6, wordvec_size=3, cell="gru"), V, V)
    save_model(model, char_data, tmp_path / "m.npz")
    loaded, meta, _ = load_model(tmp_path / "m.npz")
    assert loaded.cell == "gru" and meta["config"]["cell"] == "gru"
    src, tgt = char_data.src_test[:4], char_data.tgt_test[:4]
    np.testing.assert_array_equal(loaded(src, tgt[:, :-1]).data,
                                  model.eval()(src, tgt[:, :-1]).data)


def _rewrite(src, dst, fn):
    state, meta = tg.checkpoint.load(src)
    fn(meta)
    tg.checkpoint.save(state, dst, metadata=meta)
    return dst


def test_a_checkpoint_written_before_the_cell_option_loads_as_an_lstm(tmp_path, char_data):
    V = len(char_data.vocab)
    model = build_model(TrainConfig(model="bahdanau", hidden_size=6, wordvec_size=3), V, V)
    save_model(model, char_data, tmp_path / "new.npz")
    old = _rewrite(tmp_path / "new.npz", tmp_path / "old.npz",
                   lambda meta: meta["config"].pop("cell"))
    assert "cell" not in tg.checkpoint.load(old)[1]["config"]
    loaded, _, _ = load_model(old)
    assert loaded.cell == "lstm" and isinstance(loaded.encoder.lstm, tg.nn.LSTM)
    src, tgt = char_data.src_test[:3], char_data.tgt_test[:3]
    np.testing.assert_array_equal(loaded(src, tgt[:, :-1]).data,
                                  model.eval()(src, tgt[:, :-1]).data)


# -- hostile cell values -------------------------------------------------------------------
@pytest.mark.parametrize("value, words", [
    ("rnn", "field cell is 'rnn', not one of lstm, gru"),
    ("GRU", "field cell is 'GRU', not one of lstm, gru"),
    (1, "field cell is 1, not one of lstm, gru"),
    (None, "field cell is None, not one of lstm, gru"),
])
def test_a_checkpoint_with_a_bad_cell_is_refused(tmp_path, char_data, value, words):
    V = len(char_data.vocab)
    save_model(build_model(TrainConfig(model="attention", hidden_size=6, wordvec_size=3), V, V),
               char_data, tmp_path / "m.npz")
    bad = _rewrite(tmp_path / "m.npz", tmp_path / "bad.npz",
                   lambda meta: meta["config"].__setitem__("cell", value))
    with pytest.raises(tg.CheckpointError) as e:
        load_model(bad)
    assert words in str(e.value) and "(fix: re-train" in str(e.value)


def test_a_cell_that_does_not_fit_the_weights_is_refused(tmp_path, char_data):
    V = len(char_data.vocab)
    save_model(build_model(TrainConfig(model="seq2seq", hidden_size=6, wordvec_size=3), V, V),
               char_data, tmp_path / "m.npz")
    bad = _rewrite(tmp_path / "m.npz", tmp_path / "bad.npz",
                   lambda meta: meta["config"].__setitem__("cell", "gru"))
    with pytest.raises(tg.CheckpointError) as e:
        load_model(bad)
    assert "its weights do not fit its config: missing 'encoder.gru.weight_ih_l0'" in \
        str(e.value)


@pytest.mark.parametrize("cls", [Seq2Seq, BahdanauSeq2Seq])
@pytest.mark.parametrize("value", ["rnn", "", None, 3, "LSTM"])
def test_a_model_refuses_an_unknown_cell(cls, value):
    with pytest.raises(ValueError) as e:
        cls(7, 3, 4, cell=value)
    assert str(e.value) == (f"{cls.__name__}: cell must be 'lstm' or 'gru', got {value!r:.40} "
                            f"(fix: pass cell='lstm' or cell='gru')")


def test_train_refuses_an_unknown_cell_before_a_step(char_data):
    with pytest.raises(ValueError, match="cell must be 'lstm' or 'gru', got 'rnn'"):
        train(char_data, TrainConfig(model="seq2seq", cell="rnn", hidden_size=6,
                                     wordvec_size=3, epochs=1), log=lambda *_: None)


@pytest.mark.parametrize("value", ["rnn", "GRU", "", "lstm,gru"])
def test_the_command_line_refuses_an_unknown_cell_in_one_line(tmp_path, monkeypatch, capsys,
                                                             value):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--cell", value, "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"tinygrad-attn train: error: argument --cell: invalid choice: {value!r} "
                   f"(choose from 'lstm', 'gru') (see tinygrad-attn train --help)")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command, models", [("train", ["--model", "transformer"]),
                                             ("compare", ["--models", "transformer"])])
def test_cell_with_only_the_transformer_is_refused(tmp_path, monkeypatch, capsys, command,
                                                   models):
    monkeypatch.chdir(tmp_path)
    assert main([command, *models, "--cell", "gru", "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"tinygrad-attn {command}: error: --cell does not apply to the Transformer "
                   f"(fix: drop --cell)")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not SAMPLE.exists(), reason="samples/eng-fra is part of the repository")
def test_train_cell_gru_from_the_command_line_writes_a_gru_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", "bahdanau", "--cell", "gru", "--data", str(SAMPLE),
                 "--epochs", "1", "--hidden-size", "8", "--wordvec-size", "4",
                 "--batch-size", "32", "--out", str(out)]) == 0
    model, meta, _ = load_model(out / "model.npz")
    assert model.cell == "gru" and meta["train_config"]["cell"] == "gru"
    assert isinstance(model.decoder, tg.nn.GRUCell)


# -- --init: the recurrent models' initialisation from the command line --------------------
def test_init_reaches_the_model_and_its_checkpoint(tmp_path, char_data):
    V = len(char_data.vocab)
    book = build_model(TrainConfig(model="attention", hidden_size=6, wordvec_size=3), V, V)
    torch_like = build_model(TrainConfig(model="attention", hidden_size=6, wordvec_size=3,
                                         init="pytorch"), V, V)
    assert book.config["init"] == "book" and torch_like.config["init"] == "pytorch"
    assert np.abs(book.encoder.embedding.weight.data).max() < 0.1          # N(0, 0.01^2)
    assert np.abs(torch_like.encoder.embedding.weight.data).std() > 0.5    # N(0, 1)
    save_model(torch_like, char_data, tmp_path / "m.npz")
    assert load_model(tmp_path / "m.npz")[1]["config"]["init"] == "pytorch"


@pytest.mark.parametrize("value", ["xavier", "", "Book"])
def test_the_command_line_refuses_an_unknown_init_in_one_line(tmp_path, monkeypatch, capsys,
                                                             value):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--init", value, "--epochs", "1"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"tinygrad-attn train: error: argument --init: invalid choice: {value!r} (choose from "
        f"'book', 'pytorch') (see tinygrad-attn train --help)")
    assert list(tmp_path.iterdir()) == []


def test_init_with_only_the_transformer_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--model", "transformer", "--init", "pytorch", "--epochs", "1"]) == 2
    assert capsys.readouterr().err.strip() == ("tinygrad-attn train: error: --init does not "
                                               "apply to the Transformer (fix: drop --init)")


@pytest.mark.parametrize("value", ["xavier", None, 0])
def test_a_model_refuses_an_unknown_init(value):
    with pytest.raises(ValueError) as e:
        Seq2Seq(7, 3, 4, init=value)
    assert str(e.value) == (f"Seq2Seq: init must be 'book' or 'pytorch', got {value!r:.40} "
                            f"(fix: pass init='book' or init='pytorch')")
