"""The Transformer chapter (docs/transformer.md): its per-head attention maps.

docs/scripts/head_maps.py draws docs/pictures/head_maps.png from a trained Korean ->
English checkpoint, which a clone does not have. So the drawing path is checked on a tiny
untrained Transformer (seconds): one panel per head, each row a distribution over the
unpadded source with exactly 0 on the pads, the panels showing exactly those weights; and
the script on the real checkpoint only when it is there (skipped with the reason
otherwise). The chapter's code blocks run in tests/test_docs.py with the others.
"""
import importlib.util
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from models import Transformer
from models.codecs import TranslationCodec
from models.vocab import Vocab
from viz.heads import draw_head_maps, plot_head_maps

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "docs" / "scripts" / "head_maps.py"
#: a trained checkpoint to check the script on (benchmarks/RESULTS.md's command with
#: --out runs/kor_transformer), or the one named by TINYGRAD_ATTN_KOR_CHECKPOINT
CHECKPOINT = Path(os.environ.get("TINYGRAD_ATTN_KOR_CHECKPOINT",
                                 ROOT / "runs" / "kor_transformer" / "model.npz"))
PAD, SOS = 0, 1


def script():
    spec = importlib.util.spec_from_file_location("docs_head_maps", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny(nhead=2, layers=2, seed=0):
    model = Transformer(9, 8, d_model=8, nhead=nhead, num_encoder_layers=1,
                        num_decoder_layers=layers, dim_feedforward=16, dropout=0.0, seed=seed)
    return model.eval()


SRC = np.array([[4, 5, 6, 7], [4, 8, PAD, PAD], [6, PAD, PAD, PAD]])
OUT = np.array([[4, 5, 6], [7, 2, 2], [3, 3, 2]])


@pytest.mark.parametrize("nhead, layer", [(2, -1), (2, 0), (4, 1), (1, -1)])
def test_each_heads_rows_are_distributions_over_the_unpadded_source(nhead, layer):
    model = tiny(nhead)
    mask = SRC == PAD
    heads = script().head_maps(model, SRC, OUT, SOS, src_padding_mask=mask, layer=layer)
    assert heads.shape == (3, nhead, 3, 4)
    pads = np.broadcast_to(mask[:, None, None, :], heads.shape)
    assert (heads[pads] == 0).all() and (heads >= 0).all()
    np.testing.assert_allclose(heads.sum(-1), 1, rtol=1e-5)
    # the mean over the heads is what the model reports (average_attn_weights)
    if layer in (-1, 1):
        _, weights = model.decode(np.concatenate([np.full((3, 1), SOS), OUT[:, :-1]], 1),
                                  model.encode(SRC, mask))
        np.testing.assert_allclose(heads.mean(1), weights.data, rtol=1e-5, atol=1e-7)
    if nhead > 1:             # the heads differ: each has its own projections
        assert np.abs(heads[:, 0] - heads[:, 1]).max() > 1e-4


def test_the_picture_has_one_panel_per_head_showing_its_weights():
    model = tiny(nhead=4)
    heads = script().head_maps(model, SRC, OUT, SOS, src_padding_mask=SRC == PAD)[1]
    src, out = ["a", "b", "<pad>", "<pad>"], ["x", "<eos>", "<eos>"]
    fig = plt.figure()
    try:
        drawn = draw_head_maps(fig, heads, src, out)
        assert len(drawn["images"]) == 4 and len(drawn["axes"]) == 5     # 4 heads + mean
        for k, image in enumerate(drawn["images"]):
            np.testing.assert_array_equal(image.get_array(), heads[k])
            assert drawn["axes"][k].get_title() == f"head {k + 1}"
            assert [t.get_text() for t in drawn["axes"][k].get_xticklabels()] == src
            assert [t.get_text() for t in drawn["axes"][k].get_yticklabels()] == out
            assert (image.get_array()[:, 2:] == 0).all()                  # the pads
        np.testing.assert_allclose(drawn["mean"].get_array(), heads.mean(0))
    finally:
        plt.close(fig)
    fig = plt.figure()
    try:
        assert draw_head_maps(fig, heads, src, out, mean=False)["mean"] is None
        assert len([ax for ax in fig.axes if ax.get_title().startswith("head")]) == 4
    finally:
        plt.close(fig)


def test_plot_head_maps_writes_the_picture_and_refuses_bad_weights(tmp_path):
    heads = script().head_maps(tiny(), SRC[:1], OUT[:1], SOS)[0]
    path = plot_head_maps(tmp_path / "h.png", heads, list("abcd"), list("xyz"), title="$t$")
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="heads, T, S"):
        plot_head_maps(tmp_path / "bad.png", heads[0], list("abcd"), list("xyz"))
    with pytest.raises(ValueError, match="do not match"):
        plot_head_maps(tmp_path / "bad.png", heads, list("abc"), list("xyz"))
    assert not (tmp_path / "bad.png").exists()


def test_head_maps_refuses_a_model_without_heads_and_a_missing_layer():
    from models import AttentionSeq2Seq
    hm = script().head_maps
    with pytest.raises(ValueError, match="no multi-head"):
        hm(AttentionSeq2Seq(9, 4, 8, tgt_vocab_size=8, seed=0), SRC, OUT, SOS)
    with pytest.raises(ValueError, match="not one of the decoder's 2 layers"):
        hm(tiny(), SRC, OUT, SOS, layer=2)


def test_the_script_draws_a_sentence_through_a_codec(tmp_path):
    """The script's path from text to picture, on a tiny untrained model and a made-up
    codec: reading-order source tokens across, the output down to <eos>."""
    src_vocab = Vocab(["난", "내일", "갈", "수", "있어", "."])        # ids 4..9
    tgt_vocab = Vocab(["i", "can", "go", "tomorrow"])              # ids 4..7
    codec = TranslationCodec(src_vocab, tgt_vocab, "kor", "eng", reversed=False)
    model = Transformer(len(src_vocab), len(tgt_vocab), d_model=8, nhead=2,
                        num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16,
                        dropout=0.0, seed=3).eval()
    result = script().draw(model, codec, "난 내일 갈 수 있어.", tmp_path / "h.png", max_len=5)
    assert result["src"] == ["난", "내일", "갈", "수", "있어", "."]
    w = result["weights"]
    assert w.shape == (2, len(result["out"]), 6)
    np.testing.assert_allclose(w.sum(-1), 1, rtol=1e-5)
    assert Path(result["path"]).stat().st_size > 5_000


def test_the_script_stops_with_one_line_without_the_checkpoint(tmp_path, capsys):
    out = tmp_path / "h.png"
    assert script().main([str(tmp_path / "absent.npz"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no checkpoint at" in err and "--out" in err
    assert not out.exists()
    (tmp_path / "junk.npz").write_bytes(b"not a checkpoint")
    assert script().main([str(tmp_path / "junk.npz"), "--out", str(out)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.skipif(not CHECKPOINT.is_file(),
                    reason=f"no trained Korean -> English Transformer at {CHECKPOINT} (train "
                           f"one with benchmarks/RESULTS.md's command and --out "
                           f"runs/kor_transformer, or set TINYGRAD_ATTN_KOR_CHECKPOINT)")
def test_the_script_on_the_trained_checkpoint(tmp_path, capsys):
    out = tmp_path / "head_maps.png"
    hm = script()
    assert hm.main([str(CHECKPOINT), "--out", str(out)]) == 0
    assert "saved" in capsys.readouterr().out and out.stat().st_size > 20_000
    from models.model_io import load_model
    model, _, codec = load_model(CHECKPOINT)
    result = hm.draw(model, codec, hm.TEXT, tmp_path / "again.png")
    assert result["src"] == ["난", "내일", "갈", "수", "있어", "."]
    w = result["weights"]
    assert w.shape[0] == model.config["nhead"] and result["out"][-1] == "<eos>"
    np.testing.assert_allclose(w.sum(-1), 1, rtol=1e-4)


def test_the_committed_picture_exists():
    assert (ROOT / "docs" / "pictures" / "head_maps.png").stat().st_size > 20_000


# -- what the chapter's prose states about this code ---------------------------------------
def test_the_numbers_of_the_exercise_answers():
    from tinygrad_attn import nn
    from viz.positions import wavelength
    assert round(wavelength(62, 64)) == 47_117                          # exercise 10.3
    mha = nn.MultiheadAttention(256, 4)                                 # exercise 10.4
    assert mha.head_dim == 64 and sum(p.size for p in mha.parameters()) == 263_168


def test_what_section_11_says_of_gnmt_is_true_of_the_code():
    import inspect

    from models import AttentionSeq2Seq, BahdanauSeq2Seq, decoding
    from tinygrad_attn import Tensor, nn
    # bidirectional makes every encoder layer bidirectional (GNMT: the bottom one only)
    lstm = nn.LSTM(4, 3, num_layers=3, bidirectional=True, residual=True)
    names = dict(lstm.named_parameters())
    assert all(f"weight_ih_l{k}_reverse" in names for k in range(3))
    # residual from the second layer on: with the same weights, the residual stack's output
    # is the plain stack's plus the first layer's output (the second layer's input)
    x = Tensor(np.random.default_rng(0).standard_normal((1, 2, 4)).astype(np.float32))
    plain = nn.LSTM(4, 3, num_layers=2)
    res = nn.LSTM(4, 3, num_layers=2, residual=True)
    res.load_state_dict(plain.state_dict())
    out_plain, _ = plain(x)
    out_res, _ = res(x)
    first = nn.LSTM(4, 3)
    first.load_state_dict({k: v for k, v in plain.state_dict().items()
                           if "_l0" in k})
    np.testing.assert_allclose(out_res.data, out_plain.data + first(x)[0].data, atol=1e-6)
    # the decoder is one LSTM layer whatever the encoder's depth
    for cls in (AttentionSeq2Seq, BahdanauSeq2Seq):
        model = cls(9, 4, 8, tgt_vocab_size=8, num_layers=3, seed=0)
        assert model.encoder.lstm.num_layers == 3
        assert getattr(model.decoder, "num_layers", 1) == 1
    # GNMT's length penalty, alpha 0.6 by default; no coverage penalty
    assert np.isclose(decoding.length_penalty(7, 0.6), (12 / 6) ** 0.6)
    assert inspect.signature(decoding.beam_search).parameters["alpha"].default == 0.6
    assert "coverage" not in inspect.getsource(decoding).lower()


@pytest.mark.parametrize("layers, changes", [(1, False), (2, True)])
def test_the_causal_mask_hides_nothing_from_the_last_position_but_matters_below(layers,
                                                                                 changes):
    """Exercise 10.2: without the mask a one-layer decoder's last logits are the same, a
    two-layer decoder's are not (its lower layer's earlier positions see later tokens)."""
    model = tiny(layers=layers)
    memory = model.encode(SRC[:1])
    x = model._embed(model.tgt_embedding, np.array([[SOS, 4, 5, 6]]))
    last = [model.out(model.decoder(x, memory["memory"], tgt_is_causal=causal)).data[:, -1]
            for causal in (True, False)]
    assert (np.abs(last[0] - last[1]).max() > 1e-4) == changes
