"""Hostile inputs, category "run folders, resume and interruptions": what a run writes is
never lost or half-written, whatever happens to it: a second run into the same folder, a
folder that holds a trained model, a file or a read-only folder as --out, a full disk,
symlinks planted under temporary names, and Ctrl-C (SIGINT) or SIGKILL at every phase of a
save, each followed by ``--resume``, which must end with the very weights of an
uninterrupted run."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from models.cli import main
from models.run_dir import RunDir, RunDirError, next_version_dir
from tinygrad_attn import checkpoint

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--hidden-size", "8", "--wordvec-size", "4", "--batch-size", "64", "--epochs", "3"]


def _adds(path: Path) -> Path:
    rng = np.random.default_rng(0)
    path.write_text("\n".join(f"{a}+{b}".ljust(7) + "_" + str(a + b).ljust(4)
                              for a, b in rng.integers(0, 100, (300, 2))) + "\n")
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 3-epoch run: (data file, its last.npz arrays, model.npz arrays)."""
    tmp = tmp_path_factory.mktemp("reference")
    data = _adds(tmp / "adds.txt")
    assert main(["train", "--data", str(data), *TINY, "--out", str(tmp / "run")]) == 0
    return data, _arrays(tmp / "run" / "last.npz"), _arrays(tmp / "run" / "model.npz")


def _arrays(path) -> dict:
    arrays, _ = checkpoint.load(path)
    return arrays


def _contents(folder: Path) -> dict:
    """{file name: bytes} of the files in ``folder``: to show nothing in it changed."""
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# A training run in a child process that pauses (and says so in a marker file) at one
# phase of epoch 2, so the test can signal it exactly there.
CHILD = textwrap.dedent("""
    import os, signal, sys, time
    # Ctrl-C as a terminal delivers it, even when this suite runs in a background job,
    # whose children inherit SIGINT ignored (a shell without job control does that)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path.insert(0, {root!r})
    import numpy as np
    import models.train as T
    import tinygrad_attn.fileio as F
    phase, marker, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    calls = {{}}
    def pause(name, n):
        calls[name] = calls.get(name, 0) + 1
        if calls[name] == n:
            open(marker, "w").close()
            time.sleep(60)
    batch, savez, replace = T.training_batch, np.savez, os.replace
    save_state, write_json = T.save_state, T._write_json
    if phase == "step":                   # epoch 2, step 2 (3 steps per epoch)
        T.training_batch = lambda *a: (pause("b", 5), batch(*a))[1]
    if phase == "write":                  # last.npz of epoch 2 half-made in its temp file
        def _savez(f, **kw):
            savez(f, **kw)
            if "last.npz" in os.readlink(f"/proc/self/fd/{{f.fileno()}}"):
                pause("w", 2)
        np.savez = _savez
    if phase == "replace":                # written and synced, not yet moved into place
        def _replace(src, dst):
            if str(dst).endswith("last.npz"):
                pause("r", 2)
            replace(src, dst)
        F.os.replace = _replace
    if phase == "between":                # model.npz of epoch 2 done, last.npz not begun
        T.save_state = lambda *a, **k: (pause("s", 2), save_state(*a, **k))[1]
    if phase == "history":                # last.npz of epoch 2 done, history.json not
        def _json(obj, path):
            if str(path).endswith("history.json"):
                pause("h", 2)
            write_json(obj, path)
        T._write_json = _json
    from models.cli import main
    sys.exit(main(argv))
""")


def _start_paused(tmp_path, phase, argv):
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(root=str(ROOT)))
    marker = tmp_path / f"paused-{phase}"
    child = subprocess.Popen([sys.executable, str(script), phase, str(marker), *argv],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             cwd=tmp_path)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the child never reached its pause"
        time.sleep(0.05)
    return child


def _check_folder_after_kill(out: Path, phase: str):
    """Every file in the folder is whole: the loadable state of epoch 1 (or 2 once
    last.npz of epoch 2 was moved into place), JSON that parses; at most temporaries."""
    _, meta = checkpoint.load(out / "last.npz")
    assert meta["epoch"] == (2 if phase == "history" else 1)
    checkpoint.load(out / "model.npz")
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] in ([1], [1, 2])
    return [p.name for p in out.iterdir() if p.name.startswith(".tmp-")]


PHASES = ["step", "write", "replace", "between", "history"]


def _paused_run(tmp_path, reference, phase):
    """(argv of a 3-epoch run into tmp_path/run, its folder, the child paused at ``phase``)."""
    out = tmp_path / "run"
    argv = ["train", "--data", str(reference[0]), *TINY, "--out", str(out)]
    return argv, out, _start_paused(tmp_path, phase, argv)


def _resume_gives_the_reference(argv, out, reference):
    """Resume the run and check it ends with the uninterrupted run's weights."""
    assert main(argv + ["--resume"]) == 0               # clears the temporaries it finds
    assert _same(_arrays(out / "last.npz"), reference[1])
    assert _same(_arrays(out / "model.npz"), reference[2])


@pytest.mark.parametrize("phase", PHASES)
def test_sigkill_at_any_phase_loses_nothing_and_resume_gives_the_same_weights(
        tmp_path, reference, phase):
    argv, out, child = _paused_run(tmp_path, reference, phase)
    child.kill()                                        # SIGKILL: no cleanup at all
    child.communicate()
    _check_folder_after_kill(out, phase)
    _resume_gives_the_reference(argv, out, reference)
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize("phase", PHASES)
def test_ctrl_c_at_any_phase_is_one_line_exit_130_and_resume_gives_the_same_weights(
        tmp_path, reference, phase):
    argv, out, child = _paused_run(tmp_path, reference, phase)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130
    assert "Traceback" not in err
    last = err.replace("\r", "\n").strip().splitlines()[-1]
    saved = 2 if phase == "history" else 1
    assert f"last.npz holds epoch {saved}" in last and "resume with" in last and "--resume" in last
    assert _check_folder_after_kill(out, phase) == []   # Ctrl-C leaves no temporary file
    _resume_gives_the_reference(argv, out, reference)


def test_a_second_run_into_a_folder_in_use_is_refused(tmp_path, reference, capsys):
    data = reference[0]
    out = tmp_path / "run"
    argv = ["train", "--data", str(data), *TINY, "--out", str(out)]
    child = _start_paused(tmp_path, "step", argv)     # holds the folder's lock
    try:
        for extra in ([], ["--overwrite"], ["--resume"]):
            assert main(argv + extra) == 2
            assert "in use by another training run" in capsys.readouterr().err
    finally:
        child.kill()
        child.communicate()
    assert main(argv + ["--resume"]) == 0             # the OS freed the lock with the child


def test_concurrent_runs_without_out_get_different_folders(tmp_path):
    got, errors = [], []

    def claim():
        try:
            got.append(next_version_dir(tmp_path / "runs" / "date"))
        except Exception as e:                       # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(got)) == 8
    assert sorted(Path(p).name for p in got) == [f"version_{i}" for i in range(8)]


def test_running_the_same_command_twice_keeps_both_results(tmp_path, monkeypatch, reference,
                                                           capsys):
    monkeypatch.chdir(tmp_path)
    data = reference[0]
    argv = ["train", "--data", str(data), *TINY[:-1], "1"]
    assert main(argv) == 0 and main(argv) == 0
    runs = sorted((tmp_path / "runs" / "attention").iterdir())
    assert [p.name for p in runs] == ["version_0", "version_1"]
    assert all((p / "model.npz").is_file() for p in runs)
    assert "version_1" in capsys.readouterr().out


def test_a_folder_with_a_trained_model_is_not_overwritten(tmp_path, reference, capsys):
    data = reference[0]
    out = tmp_path / "run"
    argv = ["train", "--data", str(data), *TINY[:-1], "1", "--out", str(out)]
    assert main(argv) == 0
    before = _contents(out)
    assert main(argv + ["--seed", "1"]) == 2
    err = capsys.readouterr().err
    assert "already holds a trained model" in err and "--overwrite" in err and "--resume" in err
    assert _contents(out) == before
    assert main(argv + ["--seed", "1", "--overwrite"]) == 0
    assert json.loads((out / "config.json").read_text())["seed"] == 1


def test_overwrite_removes_the_old_runs_files(tmp_path, reference):
    data = reference[0]
    out = tmp_path / "run"
    assert main(["train", "--data", str(data), *TINY[:-1], "1", "--out", str(out)]) == 0
    (out / "compare.csv").write_text("stale")          # a file of the earlier run
    (out / "notes.txt").write_text("mine")              # not a run file: kept
    assert main(["train", "--data", str(data), *TINY[:-1], "1", "--out", str(out),
                 "--overwrite", "--valid-fraction", "0"]) == 0
    assert not (out / "compare.csv").exists() and (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("change,words", [
    (["--lr", "0.01"], "lr=0.01"), (["--seed", "3"], "seed=3"),
    (["--hidden-size", "16"], "hidden_size=16"), (["--model", "peeky"], "model='peeky'"),
    (["--valid-fraction", "0.2"], "valid_fraction=0.2"),
])
def test_resume_with_other_settings_is_refused(tmp_path, reference, capsys, change, words):
    data = reference[0]
    out = tmp_path / "run"
    argv = ["train", "--data", str(data), *TINY[:-1], "1", "--out", str(out)]
    assert main(argv) == 0
    before = (out / "last.npz").read_bytes()
    assert main(argv + ["--resume", *change]) == 2
    err = capsys.readouterr().err
    assert words in err and "resume with the run's own settings" in err
    assert (out / "last.npz").read_bytes() == before


def test_resume_with_other_data_is_refused(tmp_path, reference, capsys):
    data = reference[0]
    out = tmp_path / "run"
    assert main(["train", "--data", str(data), *TINY[:-1], "1", "--out", str(out)]) == 0
    other = tmp_path / "other.txt"
    other.write_text("".join(f"{a}-{b}".ljust(7) + "_" + str(a - b).ljust(4) + "\n"
                             for a in range(20) for b in range(15)))
    assert main(["train", "--data", str(other), *TINY[:-1], "1", "--out", str(out),
                 "--resume"]) == 2
    assert "the data differs" in capsys.readouterr().err


def test_resume_of_a_folder_without_a_state_is_refused(tmp_path, reference, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["train", "--data", str(reference[0]), *TINY, "--out",
                 str(tmp_path / "empty"), "--resume"]) == 2
    assert "holds no last.npz" in capsys.readouterr().err


def test_resume_extends_a_finished_run(tmp_path, reference):
    data, ref_last, _ = reference
    out = tmp_path / "run"
    assert main(["train", "--data", str(data), *TINY[:-1], "2", "--out", str(out)]) == 0
    assert main(["train", "--data", str(data), *TINY, "--out", str(out), "--resume"]) == 0
    assert _same(_arrays(out / "last.npz"), ref_last)


@pytest.mark.parametrize("kind", ["file", "file-symlink", "dangling-symlink"])
def test_out_that_is_a_file_is_refused_and_kept(tmp_path, reference, capsys, kind):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    out = tmp_path / "out"
    if kind == "file":
        out = target
    elif kind == "file-symlink":
        out.symlink_to(target)
    else:
        out.symlink_to(tmp_path / "nowhere" / "x")
    assert main(["train", "--data", str(reference[0]), *TINY, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "fix:" in err and len(err.strip().splitlines()) == 1
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("name", ["config.json.tmp", "history.json.tmp", "model.npz.tmp",
                                  "last.npz.tmp", "curves.tmp.png"])
def test_symlinks_planted_under_temporary_names_are_never_followed(tmp_path, reference, name):
    out = tmp_path / "run"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    (out / name).symlink_to(victim)
    assert main(["train", "--data", str(reference[0]), *TINY[:-1], "1", "--out", str(out)]) == 0
    assert victim.read_text() == "untouched"
    assert (out / name).is_symlink()


def test_files_get_the_permissions_the_umask_gives(tmp_path, reference):
    old = os.umask(0o027)
    try:
        out = tmp_path / "run"
        assert main(["train", "--data", str(reference[0]), *TINY[:-1], "1", "--out",
                     str(out)]) == 0
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir() if not
             p.name.startswith(".")}
    assert set(modes) >= {"model.npz", "last.npz", "config.json", "history.json",
                          "results.json", "curves.png"}
    assert set(modes.values()) == {0o640}, modes


def test_a_run_that_fails_before_training_leaves_no_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"caf\xe9_1\n")                    # Latin-1, not UTF-8
    assert main(["train", "--data", str(bad), *TINY]) == 2
    assert "UTF-8" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "attention").exists() or \
        not list((tmp_path / "runs" / "attention").iterdir())


def test_rundir_modes_are_checked_in_the_api(tmp_path):
    with pytest.raises(ValueError, match="mode must be"):
        RunDir(tmp_path, "append")
    with RunDir(tmp_path / "a") as run:
        with pytest.raises(RunDirError, match="in use"):
            with RunDir(tmp_path / "a"):
                pass
        assert run.path.endswith("a")


# -- a full disk and a read-only folder, for real: a small tmpfs (needs root to mount) ----
@pytest.fixture
def small_tmpfs(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(folder: Path):
    with open(folder / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


def test_a_full_disk_is_one_line_and_keeps_the_previous_files(small_tmpfs, reference, capsys):
    data = reference[0]
    out = small_tmpfs / "run"
    argv = ["train", "--data", str(data), *TINY[:-1], "1", "--out", str(out)]
    assert main(argv) == 0
    before = _contents(out)
    _fill(small_tmpfs)
    assert main(["train", "--data", str(data), *TINY[:-1], "2", "--out", str(out),
                 "--resume"]) == 2
    err = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "No space left on device" in err and "fix:" in err
    after = _contents(out)
    assert after == before                              # nothing half-written, nothing lost
    (small_tmpfs / "filler").unlink()
    assert main(["train", "--data", str(data), *TINY[:-1], "2", "--out", str(out),
                 "--resume"]) == 0


def test_a_read_only_folder_is_refused_before_training(small_tmpfs, reference, capsys):
    data = reference[0]
    out = small_tmpfs / "run"
    assert main(["train", "--data", str(data), *TINY[:-1], "1", "--out", str(out)]) == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    for extra in (["--resume"], ["--overwrite"]):
        assert main(["train", "--data", str(data), *TINY[:-1], "2", "--out", str(out),
                     *extra]) == 2
        err = capsys.readouterr().err
        assert "cannot write in the output folder" in err and "Read-only" in err
    assert main(["train", "--data", str(data), *TINY, "--out", str(small_tmpfs / "new")]) == 2
    assert "fix:" in capsys.readouterr().err


def test_an_interrupted_compare_resumes_to_the_same_weights(tmp_path, reference):
    data = reference[0]
    argv = ["compare", "--models", "seq2seq,peeky", "--data", str(data), *TINY]
    assert main(argv + ["--out", str(tmp_path / "ref")]) == 0
    out = tmp_path / "cmp"
    child = _start_paused(tmp_path, "step", argv + ["--out", str(out)])   # seq2seq, epoch 2
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130 and "Traceback" not in err
    assert f"resume with: tinygrad-attn compare --resume --out {out}" in err
    assert not (out / "peeky").exists()                  # never begun
    assert main(argv + ["--out", str(out), "--resume"]) == 0
    for name in ("seq2seq", "peeky"):
        assert _same(_arrays(out / name / "last.npz"), _arrays(tmp_path / "ref" / name /
                                                               "last.npz"))
    assert (out / "compare.csv").read_text().count("\n") == 9   # header, 6 epochs, 2 tests


def _drop_optimizer_arrays(arrays: dict) -> dict:
    return {k: v for k, v in arrays.items() if not k.startswith("optimizer.")}


def _shrink_a_weight(arrays: dict) -> dict:
    key = next(k for k in arrays if k.startswith("model."))
    return {**arrays, key: arrays[key][:1]}


@pytest.mark.parametrize("edit_meta,edit_arrays", [
    (lambda m: m.update(format="something else"), None),
    (lambda m: m.update(epoch="2"), None), (lambda m: m.update(epoch=-1), None),
    (lambda m: m.pop("history"), None), (lambda m: m.update(history={"epoch": 1}), None),
    (lambda m: m.update(best=None), None), (lambda m: m.update(train_config=[1, 2]), None),
    (lambda m: m.update(optimizer={"step": 3}), None),
    (lambda m: m.update(optimizer={"step": 3, "lr": float("inf")}), None),
    (lambda m: m.update(scheduler={"last_epoch": "x"}), None),
    (lambda m: m.update(rng={"bit_generator": "PCG64", "state": "garbage"}), None),
    (lambda m: m.update(engine_rng=[]), None),
    (None, _drop_optimizer_arrays), (None, _shrink_a_weight),
])
def test_a_crafted_training_state_is_a_one_line_error(tmp_path, reference, capsys, edit_meta,
                                                      edit_arrays):
    data = reference[0]
    out = tmp_path / "run"
    argv = ["train", "--data", str(data), *TINY[:-1], "1", "--out", str(out)]
    assert main(argv) == 0
    arrays, meta = checkpoint.load(out / "last.npz")
    if edit_meta:
        edit_meta(meta)
    if edit_arrays:
        arrays = edit_arrays(arrays)
    checkpoint.save(arrays, out / "last.npz", metadata=meta)
    capsys.readouterr()
    assert main(["train", "--data", str(data), *TINY, "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "Traceback" not in err and "fix:" in err and err.startswith("tinygrad-attn train: error")


def test_a_failed_run_keeps_an_empty_folder_the_user_made(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"caf\xe9_1\n")
    assert main(["train", "--data", str(bad), *TINY, "--out", str(out)]) == 2
    assert "UTF-8" in capsys.readouterr().err
    assert out.is_dir() and list(out.iterdir()) == []
