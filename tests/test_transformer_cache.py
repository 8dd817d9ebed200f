"""The Transformer's key/value-cache decoding (``models/transformer_cache.py``, the fast
path of ``Transformer.decode_step``) against its composed twin
``Transformer.decode_prefix_step`` (the whole decoder over the prefix at every step)."""
import numpy as np
import pytest

from models.decoding import beam_search, greedy_decode
from models.transformer import Transformer


def _model(norm_first=False, dtype=np.float32, max_len=64):
    m = Transformer(50, 60, d_model=32, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
                    dim_feedforward=64, norm_first=norm_first, max_len=max_len, seed=3)
    if dtype == np.float64:
        for p in m.parameters():
            p.data = p.data.astype(np.float64)
    m.eval()
    return m


def _source(n=7, s=9):
    rng = np.random.default_rng(0)
    src = rng.integers(4, 50, (n, s))
    mask = np.zeros(src.shape, bool)
    mask[3, 5:] = mask[6, 2:] = True                 # two padded sentences
    return np.where(mask, 0, src), mask


class Composed(Transformer):
    """The same model decoding through the composed path."""
    decode_step = Transformer.decode_prefix_step


def _composed(model):
    twin = Composed.__new__(Composed)
    twin.__dict__.update(model.__dict__)
    return twin


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
def test_every_step_gives_the_composed_paths_logits_and_weights(norm_first, dtype, tol):
    model = _model(norm_first, dtype)
    src, mask = _source()
    fast = model.init_decoder(model.encode(src, mask))
    slow = dict(fast)
    prev = np.full(len(src), 1)
    for t in range(15):
        lf, fast, wf = model.decode_step(prev, fast)
        ls, slow, ws = model.decode_prefix_step(prev, slow)
        assert lf.shape == ls.shape == (len(src), 60) and lf.data.dtype == dtype
        np.testing.assert_allclose(lf.data, ls.data, atol=tol, rtol=0)
        np.testing.assert_allclose(wf.data, ws.data, atol=tol, rtol=0)
        assert np.all(wf.data[mask] == 0)                # padding gets no attention
        assert fast["self_k0"].shape == (len(src), 4, t + 1, 8)
        prev = lf.data.argmax(axis=-1)


@pytest.mark.parametrize("norm_first", [False, True])
def test_greedy_decoding_gives_the_same_ids_and_weights(norm_first):
    model = _model(norm_first)
    src, mask = _source()
    ids, w = greedy_decode(model, src, mask, start_id=1, max_len=20, eos_id=2)
    ids2, w2 = greedy_decode(_composed(model), src, mask, start_id=1, max_len=20, eos_id=2)
    np.testing.assert_array_equal(ids, ids2)
    np.testing.assert_allclose(w, w2, atol=2e-5)


def test_beam_search_follows_the_cache_through_reordering():
    model = _model()
    src, mask = _source()
    ids, scores = beam_search(model, src, mask, start_id=1, max_len=12, eos_id=2,
                              beam_width=3)
    ids2, scores2 = beam_search(_composed(model), src, mask, start_id=1, max_len=12,
                                eos_id=2, beam_width=3)
    np.testing.assert_array_equal(ids, ids2)
    np.testing.assert_allclose(scores, scores2, atol=1e-4)


def test_the_step_records_no_graph_and_leaves_the_old_state_alone():
    model = _model()
    src, mask = _source()
    state = model.init_decoder(model.encode(src, mask))
    logits, new, _ = model.decode_step(np.full(len(src), 1), state)
    logits2, newer, _ = model.decode_step(logits.data.argmax(-1), new)
    assert logits.grad_fn is None and logits2.grad_fn is None
    assert "self_k0" not in state and new["self_k0"].shape[2] == 1
    assert newer["self_k0"].shape[2] == 2 and new["tokens"].shape[1] == 1


def test_a_step_past_the_position_table_is_a_one_line_error():
    model = _model(max_len=3)
    src, mask = _source()
    state = model.init_decoder(model.encode(src[:, :3], mask[:, :3]))
    for _ in range(3):
        _, state, _ = model.decode_step(np.full(len(src), 1), state)
    with pytest.raises(ValueError, match=r"decoding step 4 is beyond the model's 3 positions "
                                         r"\(fix: a --max-decode-len of at most 3\)"):
        model.decode_step(np.full(len(src), 1), state)
