"""Hostile-input tests, category "checkpoints" (issue 13, point 5: checkpoints are untrusted
input).

Every crafted file is refused with one ``CheckpointError`` line that names the path, the
problem and a fix, before any array is allocated: a header that claims gigabytes costs
milliseconds and a few MiB (measured with ``tracemalloc``, which numpy reports its
allocations to); a folder, FIFO or device is never read (no hang); metadata of the wrong
type or range names the field. Files are made by hand with ``zipfile`` and raw ``.npy``
headers, so they are exactly what an attacker could write; valid baselines come from a tiny
real model saved by ``save_model``.
"""
from __future__ import annotations

import io
import json
import math
import os
import struct
import threading
import time
import tracemalloc
import warnings
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_attn as tg
from models.bahdanau_seq2seq import BahdanauSeq2Seq
from models.char_dataset import load_dataset
from models.model_io import (
    MODEL_NAMES,
    check_config,
    expected_shapes,
    load_model,
    save_model,
)
from models.train import TrainConfig, build_model
from models.translation_dataset import load_translation
from tinygrad_attn.checkpoint import CheckpointError

CE = CheckpointError
MiB = 2 ** 20


# ----------------------------------------------------------------------------- helpers

def npy(descr="<f4", shape=(2,), data=None, fortran=False, version=1, header=None) -> bytes:
    """The bytes of an .npy member with any header (``header`` overrides the dict)."""
    text = header if header is not None else repr(
        {"descr": descr, "fortran_order": fortran, "shape": tuple(shape)})
    body = text.encode("latin1")
    width = 2 if version == 1 else 4
    pad = -(8 + width + len(body) + 1) % 64
    body += b" " * pad + b"\n"
    if data is None:
        data = b"\0" * (math.prod(shape) * np.dtype(descr).itemsize) if header is None else b""
    return b"\x93NUMPY" + bytes([version, 0]) + len(body).to_bytes(width, "little") + body + data


def meta_npy(meta) -> bytes:
    """An .npy member holding ``meta`` as checkpoint.save stores it (a 0-d str array)."""
    buf = io.BytesIO()
    np.save(buf, np.array(meta if isinstance(meta, str) else json.dumps(meta)))
    return buf.getvalue()


def write_zip(path, members: dict, compression=zipfile.ZIP_STORED) -> str:
    """Write ``members`` ({name: bytes}) as a zip; duplicate names via a list of pairs."""
    items = members.items() if isinstance(members, dict) else members
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # zipfile warns on duplicate names
        with zipfile.ZipFile(path, "w", compression) as z:
            for name, data in items:
                z.writestr(name, data)
    return str(path)


def with_meta(members: dict, meta=None) -> dict:
    return {**members, "__metadata__.npy": meta_npy({} if meta is None else meta)}


def message_of(path, load=tg.checkpoint.load, **kw) -> str:
    """The message of the CheckpointError that ``load(path, **kw)`` must raise."""
    with pytest.raises(CE) as e:
        load(path, **kw)
    return str(e.value)


def check(msg: str, path, *words) -> str:
    """Assert ``msg`` is one line naming the file, each of ``words`` and a fix."""
    assert "\n" not in msg and len(msg) < 600, msg
    assert os.path.basename(os.fspath(path))[:40] in msg, msg
    assert "fix:" in msg, msg
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"
    return msg


def refused(path, *words, load=tg.checkpoint.load, **kw) -> str:
    """Assert ``load(path)`` raises one CheckpointError line naming the file, each of
    ``words`` and a fix; returns the message."""
    return check(message_of(path, load, **kw), path, *words)


@contextmanager
def cheap(max_mib=24, max_seconds=0.5):
    """Assert the block allocates at most ``max_mib`` MiB at its peak (tracemalloc sees
    numpy's allocations) and takes at most ``max_seconds``."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < max_mib * MiB, f"peak {peak / MiB:.1f} MiB"
    assert elapsed < max_seconds, f"{elapsed:.2f} s"


@pytest.fixture(scope="module")
def char_data():
    return load_dataset(n_generated=200, generator_seed=4)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, char_data):
    """{model name: path of a valid tiny checkpoint} for every model, on character data."""
    folder = tmp_path_factory.mktemp("good")
    V = len(char_data.vocab)
    out = {}
    for name in MODEL_NAMES:
        model = build_model(TrainConfig(model=name, hidden_size=8, wordvec_size=4, heads=2,
                                        ff_size=8, num_layers=1), V, V)
        out[name] = str(folder / f"{name}.npz")
        save_model(model, char_data, out[name], extra={"epoch": 1})
    return out


def rewrite(src, dst, meta_fn=None, state_fn=None) -> str:
    """Copy checkpoint ``src`` to ``dst`` with its metadata / state changed by the
    functions (each gets the object and changes it in place)."""
    state, meta = tg.checkpoint.load(src)
    if meta_fn:
        meta_fn(meta)
    if state_fn:
        state_fn(state)
    tg.checkpoint.save(state, dst, metadata=meta)
    return str(dst)


def patch_central_directory(raw: bytes, fn) -> bytes:
    """Apply ``fn(bytearray, offset of a central directory entry)`` to every entry."""
    b = bytearray(raw)
    pos = b.rfind(b"PK\x05\x06")
    cd_offset = struct.unpack_from("<L", b, pos + 16)[0]
    p = cd_offset
    while b[p:p + 4] == b"PK\x01\x02":
        fn(b, p)
        n, e, c = struct.unpack_from("<3H", b, p + 28)
        p += 46 + n + e + c
    return bytes(b)


# ----------------------------------------------------------- the file itself (checkpoint.load)

def test_a_valid_checkpoint_loads(saved):
    state, meta = tg.checkpoint.load(saved["attention"])
    assert meta["model_name"] == "attention" and meta["epoch"] == 1
    assert all(a.flags.writeable and a.dtype == np.float32 for a in state.values())


def test_an_empty_file_is_refused(tmp_path):
    (tmp_path / "m.npz").write_bytes(b"")
    refused(tmp_path / "m.npz", "is empty")


@pytest.mark.parametrize("keep", [300, -23])
def test_a_truncated_file_is_refused(tmp_path, saved, keep):
    raw = Path(saved["seq2seq"]).read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[:keep])
    refused(tmp_path / "cut.npz")


def test_a_folder_is_refused(tmp_path):
    (tmp_path / "model.npz").mkdir()
    refused(tmp_path / "model.npz", "is a folder")


def test_a_symlink_to_dev_zero_is_refused_without_reading_it(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero on this system")
    os.symlink("/dev/zero", tmp_path / "zero.npz")
    with cheap():
        msg = message_of(tmp_path / "zero.npz")
    check(msg, tmp_path / "zero.npz", "character device")


def test_a_fifo_is_refused_without_hanging(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    os.mkfifo(tmp_path / "pipe.npz")
    box = {}

    def run():
        try:
            tg.checkpoint.load(tmp_path / "pipe.npz")
        except CE as e:
            box["msg"] = str(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(5)
    assert not t.is_alive(), "load() hangs on a FIFO"
    assert "FIFO" in box["msg"] and "fix:" in box["msg"]


def test_a_missing_file_is_refused(tmp_path):
    refused(tmp_path / "missing.npz", "does not exist")


def test_an_absurdly_long_path_is_shortened_in_the_message(tmp_path):
    path = str(tmp_path / ("d" * 200)) + "/" + "x" * 5000 + ".npz"
    with pytest.raises(CE) as e:
        tg.checkpoint.load(path)
    msg = str(e.value)
    assert len(msg) < 400 and ("File name too long" in msg or "does not exist" in msg), msg


@pytest.mark.parametrize("content", [
    b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s.",  # a pickle
    b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
])
def test_a_file_that_is_not_a_zip_is_refused(tmp_path, content):
    (tmp_path / "m.npz").write_bytes(content)
    refused(tmp_path / "m.npz", "is not an .npz file")


def test_the_issue_s_crafted_checkpoint_costs_megabytes_not_gigabytes(tmp_path):
    # a header claiming 2**30 float32 (4 GiB) in a 1 MiB member (the issue: 18 MB -> 4 GiB)
    member = npy("<f4", (2 ** 30,), data=b"\0" * MiB)
    path = write_zip(tmp_path / "crafted.npz", with_meta({"w.npy": member}))
    with cheap():
        msg = message_of(path)
    check(msg, path, "declares float32 (1073741824,)", "stores 1,048,576 bytes")


@pytest.mark.parametrize("shape", [(2 ** 31, 2 ** 31), (2 ** 62,), (2 ** 20,) * 4])
def test_a_header_with_a_huge_shape_is_refused_cheaply(tmp_path, shape):
    path = write_zip(tmp_path / "huge.npz", with_meta({"w.npy": npy("<f8", shape, data=b"")}))
    with cheap():
        msg = message_of(path)
    check(msg, path, "header declares")
    assert str(shape) in msg


@pytest.mark.parametrize("shape", [(-1, 4), (3, -5), (1,) * 40, (2 ** 40, 0, 2 ** 40)])
def test_a_header_with_an_impossible_shape_is_refused(tmp_path, shape):
    path = write_zip(tmp_path / "neg.npz", with_meta({"w.npy": npy("<f4", shape, data=b"")}))
    refused(path, "impossible shape")


def test_an_object_array_is_refused_and_pickle_is_never_loaded(tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    path = write_zip(tmp_path / "obj.npz", with_meta({"w.npy": buf.getvalue()}))
    refused(path, "object arrays", "never loads pickle")


@pytest.mark.parametrize("descr", [[("a", "<f4"), ("b", "<i4")], "<M8[s]", "<m8[s]", "|V8"])
def test_structured_datetime_and_void_dtypes_are_refused(tmp_path, descr):
    itemsize = np.dtype(descr).itemsize
    member = npy(header=repr({"descr": descr, "fortran_order": False, "shape": (2,)}),
                 data=b"\0" * 2 * itemsize)
    path = write_zip(tmp_path / "dt.npz", with_meta({"w.npy": member}))
    refused(path, "of dtype", "plain numbers")


def test_a_subarray_dtype_is_refused(tmp_path):
    member = npy(header="{'descr': ('<f4', (1000, 1000)), 'fortran_order': False, "
                        "'shape': (2,)}", data=b"\0" * 8_000_000)
    path = write_zip(tmp_path / "sub.npz", with_meta({"w.npy": member}))
    refused(path, "of dtype")


@pytest.mark.parametrize("header", [
    "{'descr': '<f4', 'shape': (2,)}",                             # a key missing
    "[1, 2, 3]",                                                    # not a dict
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)}",   # a float dimension
    "{'descr': 'not a dtype', 'fortran_order': False, 'shape': (2,)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': " + "(" * 500 + ")" * 500 + "}",
    "__import__('os').system('echo pwned')",
])
def test_a_broken_npy_header_is_refused_with_a_short_excerpt(tmp_path, header):
    path = write_zip(tmp_path / "hdr.npz", with_meta({"w.npy": npy(header=header, data=b"")}))
    msg = refused(path, "broken .npy header")
    assert len(msg) < 400


def test_a_header_length_of_gigabytes_is_refused_without_reading_it(tmp_path):
    member = b"\x93NUMPY\x02\x00" + (2 ** 31).to_bytes(4, "little") + b"{" * 1000
    path = write_zip(tmp_path / "len.npz", with_meta({"w.npy": member}))
    with cheap():
        msg = message_of(path)
    check(msg, path, "header length")


def test_a_member_that_is_not_npy_is_refused(tmp_path):
    pickled = b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s."
    path = write_zip(tmp_path / "pk.npz", with_meta({"w.npy": pickled}))
    refused(path, "not a version 1 or 2 .npy")


def test_a_zip_bomb_member_is_refused_before_it_is_inflated(tmp_path):
    zeros = npy("<f4", (8 * MiB,))                      # 32 MiB of zeros deflate to ~32 KiB
    path = write_zip(tmp_path / "bomb.npz", with_meta({"w.npy": zeros}),
                     compression=zipfile.ZIP_DEFLATED)
    assert os.path.getsize(path) < MiB
    with cheap():
        msg = message_of(path)
    check(msg, path, "zip bomb")


def test_a_compressed_checkpoint_of_real_weights_still_loads(tmp_path, saved):
    state, meta = tg.checkpoint.load(saved["attention"])
    path = tmp_path / "small.npz"
    np.savez_compressed(path, **state, __metadata__=np.array(json.dumps(meta)))
    state2, meta2 = tg.checkpoint.load(path)
    assert meta2 == meta and all(np.array_equal(state[k], state2[k]) for k in state)


@pytest.mark.parametrize("name", ["../../etc/passwd.npy", "/etc/passwd.npy", "a/b.npy",
                                  "a\\b.npy", "bell\x07.npy", "weights.txt", "dir/"])
def test_a_path_like_or_foreign_member_name_is_refused(tmp_path, name):
    path = write_zip(tmp_path / "names.npz", with_meta({name: npy()}))
    refused(path, "not a plain array name")


def test_duplicate_member_names_are_refused(tmp_path):
    path = write_zip(tmp_path / "dup.npz", [("w.npy", npy()), ("w.npy", npy("<f4", (3,))),
                                            ("__metadata__.npy", meta_npy({}))])
    refused(path, "two members named 'w.npy'")


def test_more_members_than_the_limit_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(tg.checkpoint, "MAX_MEMBERS", 50)
    path = write_zip(tmp_path / "many.npz", with_meta({f"w{i}.npy": npy() for i in range(50)}))
    refused(path, "claims 51 members")


def test_a_directory_that_claims_a_million_members_is_refused_at_once(tmp_path):
    raw = Path(write_zip(tmp_path / "z.npz", with_meta({"w.npy": npy()}))).read_bytes()
    pos = raw.rfind(b"PK\x05\x06")
    _, _, _, _, _, cd_size, cd_offset, _ = struct.unpack_from("<4s4H2LH", raw, pos)
    zip64_at = pos
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 10 ** 6, 10 ** 6,
                         cd_size, cd_offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, zip64_at, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                      0xFFFFFFFF, 0)
    (tmp_path / "million.npz").write_bytes(raw[:pos] + record + locator + end)
    with cheap():
        msg = message_of(tmp_path / "million.npz")
    check(msg, tmp_path / "million.npz", "claims 1,000,000 members")


def test_overlapping_members_that_reuse_one_big_array_are_refused(tmp_path):
    big = npy("<f4", (MiB // 4,))
    members = with_meta({"a.npy": big, "b.npy": npy(), "c.npy": npy()})
    raw = Path(write_zip(tmp_path / "o.npz", members)).read_bytes()
    first = {}

    def point_all_at_a(b, p):                        # every entry reuses a's 1 MiB of data
        if not first:
            first.update(crc=b[p + 16:p + 28], offset=b[p + 42:p + 46])
        elif b[p + 46:p + 51] in (b"b.npy", b"c.npy"):
            b[p + 16:p + 28] = first["crc"]
            b[p + 42:p + 46] = first["offset"]

    (tmp_path / "overlap.npz").write_bytes(patch_central_directory(raw, point_all_at_a))
    refused(tmp_path / "overlap.npz", "more bytes than the file")


def test_an_encrypted_member_is_refused(tmp_path):
    raw = Path(write_zip(tmp_path / "e.npz", with_meta({"w.npy": npy()}))).read_bytes()

    def encrypt(b, p):
        b[p + 8] |= 1

    (tmp_path / "enc.npz").write_bytes(patch_central_directory(raw, encrypt))
    refused(tmp_path / "enc.npz", "encrypted")


def test_an_unusual_compression_is_refused(tmp_path):
    path = write_zip(tmp_path / "bz.npz", with_meta({"w.npy": npy()}), zipfile.ZIP_BZIP2)
    refused(path, "compressed with method 12")


@pytest.mark.parametrize("text, words", [
    ("{not json", "not valid JSON"),
    ("[1, 2, 3]", "a JSON list, not an object"),
    ('"just a string"', "a JSON str, not an object"),
    ("42", "a JSON int, not an object"),
    ("null", "a JSON NoneType, not an object"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    ("{\"a\": " + "9" * 5000 + "}", "not valid JSON"),
])
def test_metadata_that_is_not_a_json_object_is_refused(tmp_path, text, words):
    path = write_zip(tmp_path / "meta.npz", {"w.npy": npy(), "__metadata__.npy": meta_npy(text)})
    msg = refused(path, words)
    assert len(msg) < 400


def test_metadata_of_fifty_megabytes_is_refused_before_it_is_read(tmp_path):
    member = npy("<U13107200", (), data=b"\0" * (50 * MiB))
    path = write_zip(tmp_path / "big.npz", {"__metadata__.npy": member})
    with cheap():
        msg = message_of(path)
    check(msg, path, "metadata that is not one JSON string of at most")


def test_metadata_that_is_an_array_of_numbers_is_refused(tmp_path):
    path = write_zip(tmp_path / "m.npz", {"__metadata__.npy": npy("<f8", (3,))})
    refused(path, "metadata that is not one JSON string")


def test_max_bytes_bounds_what_a_trusted_caller_loads(saved):
    refused(saved["attention"], "declares more than 100 bytes", max_bytes=100)


@pytest.mark.parametrize("bad", [-1, "2GB", True, 1.5])
def test_max_bytes_itself_is_checked(saved, bad):
    with pytest.raises(ValueError, match="max_bytes must be an int >= 0"):
        tg.checkpoint.load(saved["attention"], max_bytes=bad)


def test_big_endian_and_fortran_order_arrays_load_with_their_values(tmp_path):
    a = np.arange(12, dtype=">f8").reshape(3, 4)
    f = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    path = tmp_path / "order.npz"
    np.savez(path, a=a, f=f, __metadata__=np.array("{}"))
    state, _ = tg.checkpoint.load(path)
    assert state["a"].dtype == np.float64 and state["a"].dtype.isnative
    np.testing.assert_array_equal(state["a"], a)
    np.testing.assert_array_equal(state["f"], f)


@pytest.mark.parametrize("state, meta, error", [
    ({"../x": np.zeros(2)}, {}, ValueError),
    ({"a/b": np.zeros(2)}, {}, ValueError),
    ({"w": np.zeros(2, dtype=[("a", "<f4")])}, {}, ValueError),
    ({"w": np.zeros(2, dtype="M8[s]")}, {}, ValueError),
    ({"w": np.zeros(2)}, [1, 2], TypeError),
])
def test_save_refuses_what_load_would_refuse(tmp_path, state, meta, error):
    with pytest.raises(error, match="fix:"):
        tg.checkpoint.save(state, tmp_path / "m.npz", metadata=meta)
    assert not (tmp_path / "m.npz").exists()


@settings(max_examples=60)
@given(data=st.data())
def test_random_damage_to_a_checkpoint_is_refused_or_harmless(saved, tmp_path_factory, data):
    raw = bytearray(Path(saved["seq2seq"]).read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    path = tmp_path_factory.mktemp("fuzz") / "m.npz"
    path.write_bytes(bytes(raw))
    try:
        tg.checkpoint.load(path)
    except CE as e:
        assert "\n" not in str(e) and "fix:" in str(e)


# -------------------------------------------------------- the model inside (load_model)

@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_loads_back_with_its_weights(saved, name):
    model, meta, codec = load_model(saved[name])
    state, _ = tg.checkpoint.load(saved[name])
    assert meta["model_name"] == name and codec.start_id == meta["data"]["start_id"]
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, state[k])


def test_a_translation_checkpoint_loads_back(tmp_path):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("".join(f"I see {i} cats.\tJe vois {i} chats.\n" for i in range(40)))
    data = load_translation(pairs, columns=("eng", "fra"))
    model = build_model(TrainConfig(model="transformer", hidden_size=8, heads=2, ff_size=8,
                                    num_layers=1), len(data.src_vocab), len(data.tgt_vocab))
    save_model(model, data, tmp_path / "t.npz")
    _, _, codec = load_model(tmp_path / "t.npz")
    assert codec.src_vocab == data.src_vocab and codec.tgt_vocab == data.tgt_vocab


@pytest.mark.parametrize("name, kw", [
    ("seq2seq", {}), ("seq2seq", dict(num_layers=3, bidirectional=True, residual=True)),
    ("peeky", dict(bidirectional=True)), ("attention", dict(score="general")),
    ("attention", dict(score="concat", input_feeding=True, num_layers=2)),
    ("bahdanau", {}), ("bahdanau", dict(bidirectional=False)),
    ("transformer", dict(num_layers=3)),
])
def test_expected_shapes_are_the_model_s_own(name, kw):
    model = build_model(TrainConfig(model=name, hidden_size=6, wordvec_size=3, heads=2,
                                    ff_size=10, **kw), 11, 7)
    config = check_config(name, model.config)
    assert expected_shapes(name, config) == {k: v.shape for k, v in model.state_dict().items()}


def test_expected_shapes_follow_bahdanau_s_attn_size():
    model = BahdanauSeq2Seq(11, 3, 6, tgt_vocab_size=7, attn_size=5)
    config = check_config("bahdanau", model.config)
    assert expected_shapes("bahdanau", config) == {k: v.shape
                                                   for k, v in model.state_dict().items()}


def _set(section: str, **fields):
    """A metadata edit: set ``fields`` of ``meta[section]`` (KeyError as a value: delete)."""
    def fn(meta):
        for k, v in fields.items():
            if v is KeyError:
                del meta[section][k]
            else:
                meta[section][k] = v
    return fn


def _set_config(**fields):
    return _set("config", **fields)


@pytest.mark.parametrize("field, value, words", [
    ("hidden_size", "8", "hidden_size is '8', not an integer"),
    ("hidden_size", 10 ** 9, "hidden_size is 1000000000, not an integer from 1 to 65,536"),
    ("hidden_size", -8, "hidden_size is -8"),
    ("hidden_size", 0, "hidden_size is 0"),
    ("hidden_size", float("nan"), "hidden_size is nan"),
    ("hidden_size", True, "hidden_size is True"),
    ("hidden_size", 8.0, "hidden_size is 8.0"),
    ("hidden_size", None, "hidden_size is None"),
    ("hidden_size", [8], "hidden_size is a list of 1 items"),
    ("hidden_size", KeyError, "has no field 'hidden_size'"),
    ("src_vocab_size", 10 ** 7, "src_vocab_size is 10000000"),
    ("tgt_vocab_size", -1, "tgt_vocab_size is -1"),
    ("num_layers", 65, "num_layers is 65, not an integer from 1 to 64"),
    ("dropout", 1.0, "dropout is 1.0, not a number in [0, 1)"),
    ("dropout", -0.1, "dropout is -0.1"),
    ("dropout", float("inf"), "dropout is inf"),
    ("dropout", "0", "dropout is '0'"),
    ("bidirectional", "yes", "bidirectional is 'yes', not true or false"),
    ("bidirectional", 1, "bidirectional is 1, not true or false"),
    ("score", "cosine", "score is 'cosine', not one of dot, general, concat"),
    ("input_feeding", 1, "input_feeding is 1"),
    ("init", "xavier", "init is 'xavier'"),
    ("evil", 1, "unknown field 'evil'"),
])
def test_a_config_field_of_the_wrong_type_or_range_is_named(tmp_path, saved, field, value,
                                                            words):
    path = rewrite(saved["attention"], tmp_path / "c.npz", _set_config(**{field: value}))
    with cheap(max_seconds=1.0):
        msg = message_of(path, load=load_model)
    check(msg, path, words, "re-train")


@pytest.mark.parametrize("config", [[8, 4], "attention", None])
def test_a_config_that_is_not_an_object_is_refused(tmp_path, saved, config):
    path = rewrite(saved["attention"], tmp_path / "c.npz",
                   lambda m: m.__setitem__("config", config))
    refused(path, "the model config is", "not an object", load=load_model)


def test_a_huge_config_with_tiny_weights_is_refused_before_the_model_is_built(tmp_path, saved):
    # hidden_size 65,536 is in range, but its LSTM alone would be 64 GiB
    path = rewrite(saved["attention"], tmp_path / "c.npz",
                   _set_config(hidden_size=65536, wordvec_size=65536))
    with cheap():
        msg = message_of(path, load=load_model)
    check(msg, path, "weight 'encoder.embedding.weight' has shape (", "(60, 65536)")


def test_a_transformer_with_an_impossible_nhead_is_refused(tmp_path, saved):
    path = rewrite(saved["transformer"], tmp_path / "c.npz", _set_config(nhead=3))
    refused(path, "d_model=8, not divisible by nhead=3", load=load_model)


@pytest.mark.parametrize("max_len, words", [(10 ** 7, "max_len is 10000000"),
                                            (65536, "position table far larger")])
def test_a_transformer_position_table_is_bounded_by_the_file(tmp_path, char_data, max_len,
                                                             words):
    V = len(char_data.vocab)
    model = build_model(TrainConfig(model="transformer", hidden_size=64, heads=2, ff_size=8,
                                    num_layers=1), V, V)
    save_model(model, char_data, tmp_path / "t.npz")
    path = rewrite(tmp_path / "t.npz", tmp_path / "c.npz", _set_config(max_len=max_len))
    with cheap():
        msg = message_of(path, load=load_model)
    check(msg, path, words)


@pytest.mark.parametrize("name", [None, ["attention"]])
def test_an_unknown_model_name_is_refused(tmp_path, saved, name):
    path = rewrite(saved["attention"], tmp_path / "c.npz",
                   lambda m: m.__setitem__("model_name", name))
    refused(path, "not written by tinygrad-attn train", load=load_model)


@pytest.mark.parametrize("claimed, words", [
    ("attention", "weight 'out.weight' has shape (60, 8), but the config needs (60, 16)"),
    ("bahdanau", "missing 'attention.W_a.weight'"),
    ("transformer", "unknown field 'wordvec_size'"),
])
def test_a_checkpoint_of_one_model_under_another_model_s_name_is_refused(tmp_path, saved,
                                                                         claimed, words):
    path = rewrite(saved["seq2seq"], tmp_path / "c.npz",
                   lambda m: m.__setitem__("model_name", claimed))
    refused(path, words, load=load_model)


@pytest.mark.parametrize("change, words", [
    (lambda s: s.__setitem__("out.bias", np.zeros(99, np.float32)),
     "weight 'out.bias' has shape (99,), but the config needs (60,)"),
    (lambda s: s.pop("out.bias"), "missing 'out.bias'"),
    (lambda s: s.__setitem__("backdoor", np.zeros(1, np.float32)), "unexpected 'backdoor'"),
    (lambda s: s["out.bias"].__setitem__(0, np.nan), "weight 'out.bias' holds NaN"),
    (lambda s: s["out.weight"].__setitem__((0, 0), -np.inf), "'out.weight' holds NaN or inf"),
    (lambda s: s.__setitem__("out.bias", np.zeros(60, np.int64)), "is int64, not floating"),
    (lambda s: s.__setitem__("out.bias", np.array(["x"] * 60)), "not floating point"),
])
def test_a_weight_that_does_not_fit_the_config_is_named(tmp_path, saved, change, words):
    path = rewrite(saved["attention"], tmp_path / "c.npz", state_fn=change)
    refused(path, words, load=load_model)


def _set_data(**fields):
    return _set("data", **fields)


@pytest.mark.parametrize("fields, words", [
    (dict(vocab={"id_to_char": "abc"}), "the data's vocab has no list id_to_char"),
    (dict(vocab=["a", "b"]), "the data's vocab is a list of 2 items, not an object"),
    (dict(vocab={"id_to_char": ["ab"] * 60}), "not a list of distinct single characters"),
    (dict(vocab={"id_to_char": [chr(0x4E00 + i) for i in range(59)] + ["\u4e00"]}),
     "first problem: a repeat"),
    (dict(vocab={"id_to_char": list("abcdefgh")}),
     "has 8 entries but the model's embedding has 60 rows"),
    (dict(start_id=60), "start_id is 60, not an integer from 0 to 59"),
    (dict(start_id="_"), "start_id is '_'"),
    (dict(source_width=0), "source_width is 0"),
    (dict(answer_length=10 ** 9), "answer_length is 1000000000"),
    (dict(reversed="yes"), "reversed is 'yes', not true or false"),
    (dict(kind="image"), "kind is 'image', not one of char, word-translation"),
    (dict(kind=KeyError), "has no field 'kind'"),
    (dict(data_source="\x1b[2J\x1b[31mpwned"), "data_source is '\\x1b[2J"),
    (dict(data_path="/x" * 5000), "data_path is '/x/x/x"),
    (dict(data_path=["/etc/passwd"]), "data_path is a list of 1 items"),
])
def test_char_data_metadata_of_the_wrong_type_is_named(tmp_path, saved, fields, words):
    path = rewrite(saved["attention"], tmp_path / "c.npz", _set_data(**fields))
    msg = refused(path, words, load=load_model)
    assert len(msg) < 400 and "\x1b" not in msg


def test_data_metadata_that_is_not_an_object_is_refused(tmp_path, saved):
    path = rewrite(saved["attention"], tmp_path / "c.npz",
                   lambda m: m.__setitem__("data", "char"))
    refused(path, "the data metadata is 'char', not an object", load=load_model)


@pytest.fixture(scope="module")
def translation_ckpt(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tr")
    pairs = folder / "pairs.txt"
    pairs.write_text("".join(f"I see {i} cats.\tJe vois {i} chats.\n" for i in range(40)))
    data = load_translation(pairs, columns=("eng", "fra"))
    model = build_model(TrainConfig(model="attention", hidden_size=8, wordvec_size=4),
                        len(data.src_vocab), len(data.tgt_vocab))
    save_model(model, data, folder / "t.npz")
    return str(folder / "t.npz")


@pytest.mark.parametrize("fields, words", [
    (dict(options={"evil": 1}), "options have unknown field 'evil'"),
    (dict(options={"max_len": "5"}), "options field max_len is '5'"),
    (dict(options={"test_fraction": 2.0}), "test_fraction is 2.0, not a number in [0, 1)"),
    (dict(options={"columns": "eng"}), "columns is 'eng', not null or a list"),
    (dict(options=[1]), "the data's options is a list of 1 items, not an object"),
    (dict(src_vocab={"id_to_token": ["a", "b"]}), "starting with <pad>, <sos>, <eos>, <unk>"),
    (dict(tgt_vocab={"id_to_token": ["<pad>", "<sos>", "<eos>", "<unk>", 5]}),
     "first problem: 5"),
    (dict(src_lang=["fra"]), "src_lang is a list of 1 items"),
    (dict(version=2), "version is 2, not the integer 1"),
    (dict(lower="true"), "lower is 'true', not true or false"),
    (dict(counts={"train": -5}), "train is -5"),
])
def test_translation_data_metadata_of_the_wrong_type_is_named(tmp_path, translation_ckpt,
                                                              fields, words):
    path = rewrite(translation_ckpt, tmp_path / "c.npz", _set_data(**fields))
    refused(path, words, load=load_model)


def test_error_messages_quote_at_most_a_short_excerpt(tmp_path):
    secret = "SECRET-" * 10_000
    path = write_zip(tmp_path / "m.npz", {"__metadata__.npy": meta_npy("{" + secret)})
    msg = refused(path, "not valid JSON")
    assert msg.count("SECRET") <= 6

