"""Optimizers' and schedulers' ``state_dict()`` / ``load_state_dict()`` (PyTorch's layout,
checked against torch 2.13), and ``models.train_state`` using them: a training state
written in the format of the code before them (format 1) still resumes exactly."""
import numpy as np
import pytest

import tinygrad_attn as tg
from models import train_state
from tinygrad_attn import checkpoint, nn, optim

torch = pytest.importorskip("torch", reason="PyTorch parity tests need torch==2.13.0")

SHAPES = [(3, 2), (2,), (4,)]


def _params(seed=0):
    rng = np.random.default_rng(seed)
    return [nn.Parameter(rng.normal(size=s), dtype=np.float64) for s in SHAPES]


def _grads(step):
    rng = np.random.default_rng(100 + step)
    return [rng.normal(size=s) for s in SHAPES]


def _run(opt, params, steps, first=0):
    for k in range(first, first + steps):
        for p, g in zip(params, _grads(k)):
            p.grad = g.copy()
        opt.step()


def _torch_twin(params, kind, **kw):
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
    return tparams, getattr(torch.optim, kind)(tparams, **kw)


def _run_torch(opt, tparams, steps, first=0):
    for k in range(first, first + steps):
        for p, g in zip(tparams, _grads(k)):
            p.grad = torch.tensor(g)
        opt.step()


def _to_numpy(state):
    return {"state": {i: {k: (v.numpy() if isinstance(v, torch.Tensor) else v)
                          for k, v in e.items()} for i, e in state["state"].items()},
            "param_groups": state["param_groups"]}


def _to_torch(state):
    return {"state": {i: {k: torch.tensor(np.asarray(v, dtype=np.float64)) if k != "step"
                          else torch.tensor(float(v)) for k, v in e.items()}
                      for i, e in state["state"].items()},
            "param_groups": state["param_groups"]}


@pytest.mark.parametrize("kind,kw", [("Adam", {"lr": 0.01, "betas": (0.8, 0.99),
                                               "weight_decay": 0.1}),
                                     ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01})])
def test_state_dict_has_pytorchs_layout_and_values(kind, kw):
    params = _params()
    ours = getattr(optim, kind)(params, **kw)
    tparams, theirs = _torch_twin(params, kind, **kw)
    _run(ours, params, 3)
    _run_torch(theirs, tparams, 3)
    mine, want = ours.state_dict(), theirs.state_dict()
    assert list(mine) == ["state", "param_groups"] and len(mine["param_groups"]) == 1
    group, want_group = mine["param_groups"][0], want["param_groups"][0]
    assert set(group) <= set(want_group)
    for key, value in group.items():
        assert value == want_group[key], key
    assert sorted(mine["state"]) == sorted(want["state"]) == [0, 1, 2]
    for i, entry in mine["state"].items():
        assert list(entry) == list(want["state"][i])
        for key, value in entry.items():
            np.testing.assert_allclose(value, np.asarray(want["state"][i][key]), rtol=1e-12,
                                       atol=1e-15)


@pytest.mark.parametrize("kind,kw", [("Adam", {"lr": 0.01}), ("SGD", {"lr": 0.1, "momentum": 0.9})])
def test_a_loaded_state_goes_on_exactly_as_the_original(kind, kw):
    params = _params()
    opt = getattr(optim, kind)(params, **kw)
    _run(opt, params, 4)
    saved, saved_params = opt.state_dict(), [p.data.copy() for p in params]
    _run(opt, params, 3, first=4)                           # the original goes on
    clones = [nn.Parameter(a, dtype=np.float64) for a in saved_params]
    clone = getattr(optim, kind)(clones, lr=0.5)            # another lr: the state's wins
    clone.load_state_dict(saved)
    assert clone.lr == kw["lr"]
    _run(clone, clones, 3, first=4)
    for p, q in zip(params, clones):
        np.testing.assert_array_equal(p.data, q.data)
    key = "exp_avg" if kind == "Adam" else "momentum_buffer"
    saved["state"][0][key][...] = 7.0                       # the clone holds copies
    assert not (clone.state_dict()["state"][0][key] == 7).any()


@pytest.mark.parametrize("kind,kw", [("Adam", {"lr": 0.01, "betas": (0.8, 0.99)}),
                                     ("SGD", {"lr": 0.1, "momentum": 0.9})])
def test_states_move_between_torch_and_this_engine(kind, kw):
    params = _params()
    tparams, theirs = _torch_twin(params, kind, **kw)
    _run_torch(theirs, tparams, 3)
    ours = getattr(optim, kind)([nn.Parameter(p.detach().numpy(), dtype=np.float64)
                                 for p in tparams], lr=1.0)
    ours.load_state_dict(_to_numpy(theirs.state_dict()))    # torch -> ours
    back_params, back = _torch_twin(ours.params, kind, lr=1.0)
    back.load_state_dict(_to_torch(ours.state_dict()))      # ours -> torch
    _run_torch(theirs, tparams, 2, first=3)
    _run(ours, ours.params, 2, first=3)
    _run_torch(back, back_params, 2, first=3)
    for t, p, b in zip(tparams, ours.params, back_params):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b.detach().numpy(), t.detach().numpy(), rtol=1e-12)


def test_adam_state_before_any_step_and_a_state_without_entries():
    params = _params()
    opt = optim.Adam(params)
    state = opt.state_dict()
    assert all(e["step"] == 0 and not e["exp_avg"].any() for e in state["state"].values())
    _run(opt, params, 2)
    opt.load_state_dict({"state": {}, "param_groups": state["param_groups"]})   # PyTorch's
    assert opt.t == 0 and not any(m.any() for m in opt.m)     # fresh optimizer's state
    theirs = torch.optim.Adam([torch.zeros(2, requires_grad=True)])
    optim.Adam([nn.Parameter(np.ones(2))]).load_state_dict(theirs.state_dict())


@pytest.mark.parametrize("edit,exc,words", [
    (lambda s: s["param_groups"].append(dict(s["param_groups"][0])), ValueError,
     "one parameter group"),
    (lambda s: s["param_groups"][0].update(params=[0, 1]), ValueError, "has 2 parameters"),
    (lambda s: s["param_groups"][0].update(amsgrad=True), ValueError, "amsgrad=True is not"),
    (lambda s: s["param_groups"][0].update(lr=-1.0), ValueError, "Invalid learning rate"),
    (lambda s: s["param_groups"][0].update(betas=(1.5, 0.9)), ValueError, "beta parameter"),
    (lambda s: s["state"][1].update(step=5), ValueError, "step counts differ"),
    (lambda s: s["state"][1].update(step=-1), ValueError, "whole number >= 0"),
    (lambda s: s["state"][2].update(exp_avg=np.zeros(5)), ValueError, "has shape (4,)"),
    (lambda s: s["state"][2].update(exp_avg_sq=None), ValueError, "not numbers"),
    (lambda s: s["state"].update({7: {}}), ValueError, "not a parameter index"),
    (lambda s: s.pop("state"), TypeError, "'state' and 'param_groups'"),
])
def test_a_bad_state_is_refused_and_changes_nothing(edit, exc, words):
    params = _params()
    opt = optim.Adam(params, lr=0.01)
    _run(opt, params, 2)
    state = opt.state_dict()
    before = (opt.t, opt.lr, [m.copy() for m in opt.m], [v.copy() for v in opt.v])
    edit(state)
    with pytest.raises(exc, match=words.replace("(", r"\(").replace(")", r"\)")):
        opt.load_state_dict(state)
    assert (opt.t, opt.lr) == before[:2]
    for a, b in zip(opt.m + opt.v, before[2] + before[3]):
        np.testing.assert_array_equal(a, b)


def test_cosine_schedule_state_is_pytorchs_and_resumes_the_same_rates():
    ours = optim.CosineAnnealingLR(optim.Adam(_params(), lr=0.1), T_max=10, eta_min=0.01)
    topt = torch.optim.Adam([torch.zeros(2, requires_grad=True)], lr=0.1)
    theirs = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=10, eta_min=0.01)
    for _ in range(4):
        ours.step()
        topt.step()
        theirs.step()
    mine, want = ours.state_dict(), theirs.state_dict()
    assert set(mine) <= set(want)
    for key, value in mine.items():
        np.testing.assert_allclose(value, want[key], rtol=1e-12, err_msg=key)
    fresh_opt = optim.Adam(_params(), lr=0.1)
    fresh = optim.CosineAnnealingLR(fresh_opt, T_max=3)
    fresh.load_state_dict(want)                              # PyTorch's own state dict
    fresh_opt.lr = ours.optimizer.lr
    for _ in range(3):
        ours.step()
        fresh.step()
        assert fresh_opt.lr == ours.optimizer.lr
    with pytest.raises(ValueError, match="T_max=0 must be at least 1"):
        fresh.load_state_dict({"T_max": 0})
    with pytest.raises(ValueError, match="unknown keys"):
        fresh.load_state_dict({"T_maxx": 3})
    assert fresh.T_max == 10


# ---------------------------------------------------------------- models.train_state
class _Tiny(nn.Module):
    MODEL_NAME = "tiny"

    def __init__(self):
        self.config = {}
        self.proj = nn.Linear(3, 2)
        self.embed = nn.Embedding(4, 3)


def _trained(seed):
    tg.random.manual_seed(seed)
    model = _Tiny()
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = optim.CosineAnnealingLR(opt, T_max=20)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        for p in model.parameters():
            p.grad = rng.normal(size=p.shape).astype(p.dtype)
        opt.step()
        sched.step()
    return model, opt, sched, rng


def _save_format_1(path, model, optimizer, scheduler, rng):
    """The writer before optimizers had state_dict (format 1, as of commit 049d864)."""
    names = [n for n, _ in model.named_parameters()]
    arrays = {f"model.{k}": v for k, v in model.state_dict().items()}
    for name, m, v in zip(names, optimizer.m, optimizer.v):
        arrays[f"optimizer.exp_avg.{name}"] = m
        arrays[f"optimizer.exp_avg_sq.{name}"] = v
    meta = {"format": train_state.STATE_FORMAT, "epoch": 1, "history": [],
            "best": {"epoch": 1, "score": 0.5}, "train_config": {}, "data": {},
            "model_name": model.MODEL_NAME, "model_config": model.config,
            "optimizer": {"step": int(optimizer.t), "lr": float(optimizer.lr)},
            "scheduler": {"last_epoch": scheduler.last_epoch},
            "rng": rng.bit_generator.state,
            "engine_rng": tg.random.generator().bit_generator.state}
    checkpoint.save(arrays, path, metadata=meta)


def _fresh():
    model = _Tiny()
    opt = optim.Adam(model.parameters(), lr=0.01)
    return model, opt, optim.CosineAnnealingLR(opt, T_max=20), np.random.default_rng(99)


def _same(a, b):
    (model, opt, sched, rng), (model2, opt2, sched2, rng2) = a, b
    for (n, p), (n2, q) in zip(model.named_parameters(), model2.named_parameters()):
        assert n == n2
        np.testing.assert_array_equal(p.data, q.data)
    assert (opt.t, opt.lr, sched.last_epoch) == (opt2.t, opt2.lr, sched2.last_epoch)
    for x, y in zip(opt.m + opt.v, opt2.m + opt2.v):
        np.testing.assert_array_equal(x, y)
        assert x.dtype == y.dtype
    assert rng.bit_generator.state == rng2.bit_generator.state


def test_a_format_1_training_state_resumes_with_state_dicts(tmp_path):
    run = _trained(0)
    _save_format_1(tmp_path / "old.npz", *run)
    restored = _fresh()
    arrays, meta = train_state.load_state(tmp_path / "old.npz")
    train_state.restore_state(arrays, meta, model=restored[0], optimizer=restored[1],
                              scheduler=restored[2], rng=restored[3])
    _same(run, restored)


def test_the_writer_still_writes_format_1(tmp_path):
    model, opt, sched, rng = run = _trained(1)
    _save_format_1(tmp_path / "old.npz", *run)
    train_state.save_state(tmp_path / "new.npz", model=model, optimizer=opt, scheduler=sched,
                           rng=rng, epoch=1, history=[], best={"epoch": 1, "score": 0.5},
                           config={}, data_meta={})
    old, new = checkpoint.load(tmp_path / "old.npz"), checkpoint.load(tmp_path / "new.npz")
    assert sorted(old[0]) == sorted(new[0])
    for key in old[0]:
        np.testing.assert_array_equal(old[0][key], new[0][key])
    assert old[1] == new[1]
    restored = _fresh()
    train_state.restore_state(*new, model=restored[0], optimizer=restored[1],
                              scheduler=restored[2], rng=restored[3])
    _same(run, restored)


def test_a_mis_shaped_moment_is_a_checkpoint_error(tmp_path):
    run = _trained(2)
    _save_format_1(tmp_path / "old.npz", *run)
    arrays, meta = train_state.load_state(tmp_path / "old.npz")
    arrays["optimizer.exp_avg_sq.proj.bias"] = np.zeros(3)
    model, opt, sched, rng = _fresh()
    with pytest.raises(tg.CheckpointError, match="optimizer.exp_avg_sq.proj.bias is missing"):
        train_state.restore_state(arrays, meta, model=model, optimizer=opt, scheduler=sched,
                                  rng=rng)
    assert opt.t == 0
