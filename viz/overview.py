"""A whole model on one page: one box per module (or per fused node), the tensors that pass
between them drawn as edges labelled with their shapes, built from the graph of one
training step.

``draw_overview(loss, model=model)`` reads the nodes that ``Function.apply`` recorded
(the same walk as :func:`viz.draw_graph`, :class:`viz.graph_walk.GraphWalk`) and groups
them by the modules that made them: every node keeps ``fn.scope``, the labels of the
``scope`` blocks around its creation (``Module.__call__`` opens ``scope(self)``, the
recurrent layers and decoders open ``scope(t)`` for time step ``t``). An op belongs to the
deepest module of its scope (or the module ``depth`` levels below the model, which then
stands for its sub-modules too); its time steps are collapsed, so a recurrence of 29
steps is one box that says "x 29 steps". Ops made by the model's own code outside any
module are split where a module stands between them (``Concat`` before the output layer
and the loss after it are two boxes); the box that made the root is the loss box.

Each box says what it is (its dotted name, as ``model.named_parameters()`` spells it,
and its class), how many steps it ran, how many ops it made and which, the fused nodes
among them with their composed twins, the parameters it used (and, after
``backward()``, the L2 norm of their gradients and its place in the backward pass). A
module that holds others is an outlined box around them, and its own ops (outside its
sub-modules) are a box inside it. An edge carries every tensor made in one box and read
in another, labelled with the shapes (``(128, 29, 256)``; ``x 10`` when ten tensors of
that shape cross, one per step); the gradient flows back along every edge. Inputs that
are not learned (token ids, targets, masks, zero states) are grey boxes; scalar constants
(an epsilon, a scale) are left out.

The legend in the picture explains every mark the picture uses, and only those, in
English (``lang="en"``) or Korean (``lang="ko"``). Any user text (module names, class
names, op names) is drawn literally, escaped as :mod:`viz.graph_text` does.
"""
from __future__ import annotations

import html
import math
import textwrap
from collections import Counter, defaultdict

import graphviz
import numpy as np

from tinygrad_attn import Tensor
from tinygrad_attn.nn import Module

from . import graph_text as text
from .graph_emit import COLORS, new_digraph
from .graph_walk import GraphWalk, check_limit, check_root, is_step

LANGS = ("en", "ko")

#: The words inside the boxes, per language.
WORDS = {
    "en": {"loss": "loss", "input": "input", "own": "own ops of {name}",
           "code": "{model} code", "steps": "x {n} steps",
           "ops": "{n} ops: {names}", "op": "1 op: {names}", "params": "params {n:,}",
           "grad": "|grad| {g:.3g}", "backward": "backward #{a}..#{b}",
           "backward1": "backward #{a}", "fused": "{name}: fused (composed twin: {twin})",
           "legend": "Legend", "shapes": "{n} more shapes"},
    "ko": {"loss": "손실", "input": "입력", "own": "{name}의 자체 연산",
           "code": "{model} 코드", "steps": "x {n} 단계",
           "ops": "연산 {n}개: {names}", "op": "연산 1개: {names}", "params": "매개변수 {n:,}",
           "grad": "|기울기| {g:.3g}", "backward": "역전파 #{a}..#{b}",
           "backward1": "역전파 #{a}", "fused": "{name}: 융합 (합성 쌍둥이: {twin})",
           "legend": "범례", "shapes": "모양 {n}개 더"},
}

#: Every mark an overview can use: (key, sample shown in the legend, its look, English,
#: Korean). The legend lists the marks a picture uses, in this order.
MARKS = (
    ("module", {"en": "module", "ko": "모듈"}, "module",
     "one module, named as model.named_parameters() names it, with its class: the ops it "
     "made in this step",
     "모듈 하나 (model.named_parameters()의 이름과 클래스): 이 학습 단계에서 그 모듈이 만든 연산"),
    ("cluster", {"en": "outer module", "ko": "바깥 모듈"}, "cluster",
     "outline: a module that holds the modules drawn inside it",
     "테두리: 안에 그린 모듈들을 담고 있는 모듈"),
    ("own", {"en": "own ops", "ko": "자체 연산"}, "own",
     "the ops a module made itself, outside its sub-modules",
     "모듈이 하위 모듈 밖에서 직접 만든 연산"),
    ("code", {"en": "code", "ko": "코드"}, "code",
     "ops the model's code made outside any module",
     "모델 코드가 어떤 모듈에도 속하지 않고 만든 연산"),
    ("loss", {"en": "loss", "ko": "손실"}, "loss",
     "the box that made the loss, the root of the graph: the backward pass starts here",
     "손실을 만든 상자, 그래프의 뿌리: 역전파가 여기서 시작한다"),
    ("input", {"en": "input", "ko": "입력"}, "input",
     "an input that is not learned (token ids, targets, masks, zero states), with its dtype",
     "학습하지 않는 입력 (토큰 ID, 정답, 마스크, 0 초기 상태)과 자료형"),
    ("fused", {"en": "F: fused (composed twin: f)", "ko": "F: 융합 (합성 쌍둥이: f)"}, "fused",
     "double outline: a fused node, one op for a whole computation; f is its composed "
     "twin, the same math from primitive ops (graph --detail ops draws it; the explorer "
     "shows it for one step)",
     "이중 테두리: 융합 노드, 계산 전체를 연산 하나로 한다; f는 같은 계산을 기본 연산으로 쓴 "
     "합성 쌍둥이 (graph --detail ops 가 그린다; 탐색기는 한 스텝을 보여 준다)"),
    ("edge", {"en": "→ (N, T, H)", "ko": "→ (N, T, H)"}, "text",
     "an arrow carries the tensors one box makes and another reads, labelled with their "
     "shape (N batch, T or S time steps, D embedding, H hidden, V vocabulary); the "
     "gradient flows back along every arrow",
     "화살표: 한 상자가 만들고 다른 상자가 읽는 텐서, 레이블은 텐서 모양 (N 배치, T·S 시간 "
     "단계, D 임베딩, H 은닉, V 어휘); 기울기는 모든 화살표를 거슬러 흐른다"),
    ("many", {"en": "(N, H) x k", "ko": "(N, H) x k"}, "text",
     "k tensors of that shape cross the arrow (one per time step)",
     "그 모양의 텐서 k개가 화살표를 지난다 (시간 단계마다 하나)"),
    ("steps", {"en": "x T steps", "ko": "x T 단계"}, "text",
     "the box ran at T time steps, drawn once for all of them",
     "상자가 T개의 시간 단계에서 실행됨, 모든 단계를 한 번에 그림"),
    ("ops", {"en": "k ops: A, B, …", "ko": "연산 k개: A, B, …"}, "text",
     "how many ops the box made, the most frequent first (hover: every op and its count)",
     "상자가 만든 연산의 수, 많은 것부터 (마우스를 올리면 모든 연산과 개수)"),
    ("params", {"en": "params n", "ko": "매개변수 n"}, "text",
     "how many learned values (parameters) the box's ops read",
     "상자의 연산이 읽는 학습 값(매개변수)의 개수"),
    ("grad", {"en": "|grad| g", "ko": "|기울기| g"}, "text",
     "the L2 norm of the gradient of those parameters after backward()",
     "backward() 뒤 그 매개변수들의 기울기의 L2 노름"),
    ("backward", {"en": "backward #a..#b", "ko": "역전파 #a..#b"}, "text",
     "when the box's ops ran in the backward pass (#1 ran first)",
     "역전파에서 상자의 연산이 실행된 차례 (#1이 가장 먼저)"),
)
MARK_KEYS = tuple(m[0] for m in MARKS)

#: The op names a box lists (the rest are counted, and listed in its tooltip).
OP_NAMES_SHOWN = 3
#: The shapes an edge lists (the rest are counted).
EDGE_SHAPES_SHOWN = 3
_FILL = {"module": COLORS["op"], "own": COLORS["op"], "code": COLORS["value"],
         "loss": COLORS["loss"], "input": COLORS["input"], "fused": COLORS["op"]}


class Group:
    """One box of an overview: ``key``, ``kind`` ("module", "own" or "code"), ``module``
    (None for a code box), ``path`` (the modules from the model down to it), ``ops`` (the
    op records it stands for), ``params`` {id: leaf Tensor it reads that requires grad}
    and ``steps`` (the distinct step labels of its ops' scopes)."""

    def __init__(self, key, kind: str, module, path: tuple):
        self.key, self.kind, self.module, self.path = key, kind, module, path
        self.ops, self.params, self.steps = [], {}, set()
        self.is_root = False


class Overview:
    """The boxes and edges of one overview of ``root``'s graph.

    Parameters: the walk, the ``model`` (or None) and ``depth`` (modules at most this many
    levels below the model get boxes; None: every module). Attributes: ``groups`` {key:
    Group} in creation order; ``group_of`` {id(op): key}; ``edges`` {(source key, target
    key): {shape: [tensor ids]}}; ``inputs`` {input key: [leaf Tensors]} and
    ``input_edges`` likewise, for leaves that need no gradient; ``names`` {id(module):
    display name}.
    """

    def __init__(self, walk: GraphWalk, model, depth):
        self.walk, self.model, self.depth = walk, model, depth
        self.by_name = {} if model is None else dict(model.named_modules())
        ops = sorted(walk.ops(), key=lambda fn: getattr(fn, "created", 0))
        self.names = self._module_names(ops)
        self.groups, self.group_of = {}, {}
        code = []
        for fn in ops:
            path = self._path(fn)
            if path:
                self._add(fn, ("module", id(path[-1])), "module", path)
            else:
                code.append(fn)
        for comp, fns in enumerate(self._components(code)):
            for fn in fns:
                self._add(fn, ("code", _step_signature(fns) or comp), "code", ())
        parents = {g.path[:i] for g in self.groups.values() for i in range(1, len(g.path))}
        for g in self.groups.values():
            if g.path in parents:
                g.kind = "own"
        root_fn = walk.tensors[0].grad_fn
        self.groups[self.group_of[id(root_fn)]].is_root = True
        self.parents = parents
        self._connect(ops)

    def _module_names(self, ops) -> dict:
        """{id(module): its name}: the model's dotted names, else the class name (with
        " #2", " #3" for further modules of the same class)."""
        names = {} if self.model is None else {
            id(m): n for n, m in self.model.named_modules() if m is not self.model}
        seen = Counter()
        for fn in ops:
            for lab in getattr(fn, "scope", ()):
                if isinstance(lab, Module) and lab is not self.model and id(lab) not in names:
                    kind = type(lab).__name__
                    seen[kind] += 1
                    names[id(lab)] = kind if seen[kind] == 1 else f"{kind} #{seen[kind]}"
        return names

    def _path(self, fn) -> tuple:
        """The modules from the model down to the one that made ``fn`` (at most
        ``depth``): by the model's dotted names when it names that module (so a layer
        called from outside its parent still sits in it), else by the scope's nesting."""
        mods = [lab for lab in getattr(fn, "scope", ())
                if isinstance(lab, Module) and lab is not self.model]
        if not mods:
            return ()
        by_name = self.by_name
        name = self.names.get(id(mods[-1]))
        if by_name.get(name) is mods[-1]:
            parts = name.split(".")
            prefixes = (".".join(parts[:i]) for i in range(1, len(parts) + 1))
            path = tuple(by_name[p] for p in prefixes if p in by_name)
        else:
            path = tuple(mods)
        return path if self.depth is None else path[:self.depth]

    def _add(self, fn, key, kind, path) -> None:
        """Op ``fn`` into the group ``key`` (made on first sight), with its step labels."""
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(key, kind, path[-1] if path else None, path)
        group.ops.append(fn)
        steps = tuple(lab for lab in getattr(fn, "scope", ()) if is_step(lab))
        if steps:
            group.steps.add(steps)
        self.group_of[id(fn)] = key

    def _components(self, ops) -> list:
        """The ops made outside any module, split into the groups that are connected
        without passing through a module (union-find), each in creation order."""
        parent = {id(fn): id(fn) for fn in ops}

        def find(k):
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k
        for fn in ops:
            for inp in fn.inputs:
                src = self.walk.canonical(inp).grad_fn
                if src is not None and id(src) in parent:
                    parent[find(id(src))] = find(id(fn))
        comps = defaultdict(list)
        for fn in ops:
            comps[find(id(fn))].append(fn)
        return list(comps.values())

    def _connect(self, ops) -> None:
        """The edges between boxes, the parameters each box reads and its input boxes."""
        self.edges = defaultdict(lambda: defaultdict(list))
        leaf_users = {}
        for fn in ops:
            dst = self.group_of[id(fn)]
            for inp in fn.inputs:
                t = self.walk.canonical(inp)
                if t.grad_fn is not None:
                    src = self.group_of[id(t.grad_fn)]
                    ids = self.edges[(src, dst)][text.shape_text(t)]
                    if src != dst and id(t.grad_fn) not in ids:
                        ids.append(id(t.grad_fn))
                elif t.requires_grad:
                    self.groups[dst].params[id(t)] = t
                elif t.shape:               # scalar constants (an eps, a scale) are left out
                    leaf_users.setdefault(id(t), (t, []))[1].append(dst)
        self.edges = {k: v for k, v in self.edges.items() if k[0] != k[1]}
        self.inputs, self.input_edges = {}, defaultdict(lambda: defaultdict(list))
        for t, users in leaf_users.values():
            users = tuple(dict.fromkeys(users))
            key = ("input",) + users
            self.inputs.setdefault(key, []).append(t)
            for dst in users:
                self.input_edges[(key, dst)][text.shape_text(t)].append(id(t))


def _step_signature(fns):
    """What the same piece of model code looks like at every time step: the scope (step
    numbers left out) and the op names of ``fns``; None when ``fns`` ran in no step, as
    such code is one piece of its own."""
    scope = getattr(fns[0], "scope", ())
    if not any(is_step(lab) for fn in fns for lab in getattr(fn, "scope", ())):
        return None
    return (tuple(None if is_step(lab) else lab for lab in scope),
            tuple(str(fn.name) for fn in fns))


# -- the words of a box ----------------------------------------------------------------------
def _title_line(ov: Overview, g: Group, words: dict) -> str:
    """A box's first line: "name (Class)", "own ops of name (Class)", "Model code" or
    "loss" (the code box that made the root)."""
    if g.kind == "code":
        model = "model" if ov.model is None else type(ov.model).__name__
        return words["loss"] if g.is_root else words["code"].format(model=model)
    name = f"{ov.names[id(g.module)]} ({type(g.module).__name__})"
    return words["own"].format(name=name) if g.kind == "own" else name


def _op_lines(g: Group, words: dict, marks: set) -> list:
    """"k ops: A, B, …" and one "F: fused (composed twin: f)" line per fused op class."""
    counts = Counter(str(fn.name) for fn in g.ops)
    shown = [n for n, _ in counts.most_common(OP_NAMES_SHOWN)]
    names = ", ".join(shown) + (", …" if len(counts) > len(shown) else "")
    lines = [words["ops" if len(g.ops) > 1 else "op"].format(n=len(g.ops), names=names)]
    marks.add("ops")
    fused = {}
    for fn in g.ops:
        twin = text.composed_twin(type(fn))
        if twin is not None:
            fused.setdefault(str(fn.name), twin.rsplit(".", 1)[-1])
    for name, twin in fused.items():
        lines.append(words["fused"].format(name=name, twin=twin))
        marks.add("fused")
    return lines


def _grad_norm(g: Group):
    """The L2 norm of the gradients of the box's parameters (None: none has one)."""
    grads = [p.grad for p in g.params.values() if getattr(p, "grad", None) is not None]
    if not grads:
        return None
    return math.sqrt(sum(float((np.asarray(gr, np.float64) ** 2).sum()) for gr in grads))


def _backward_line(g: Group, words: dict):
    """"backward #a..#b": the first and last backward step of the box's ops (1 ran
    first), or None when no backward pass ran through them."""
    orders = [fn.backward_order + 1 for fn in g.ops if hasattr(fn, "backward_order")]
    if not orders:
        return None
    a, b = min(orders), max(orders)
    return words["backward1" if a == b else "backward"].format(a=a, b=b)


def box_lines(ov: Overview, g: Group, words: dict, backward: bool, marks: set) -> list:
    """The lines of box ``g``'s label (user text not yet escaped): its name, steps, ops,
    fused nodes, parameters and, with ``backward``, their gradient norm and the box's
    place in the backward pass. The marks they use are added to ``marks``."""
    lines = [_title_line(ov, g, words)]
    if g.steps:
        lines.append(words["steps"].format(n=len(g.steps)))
        marks.add("steps")
    lines += _op_lines(g, words, marks)
    if g.params:
        line = words["params"].format(n=sum(int(p.data.size) for p in g.params.values()))
        norm = _grad_norm(g) if backward else None
        if norm is not None:
            line += "  " + words["grad"].format(g=norm)
            marks.add("grad")
        lines.append(line)
        marks.add("params")
    order = _backward_line(g, words) if backward else None
    if order is not None:
        lines.append(order)
        marks.add("backward")
    return lines


def _edge_label(shapes: dict, words: dict, marks: set) -> str:
    """An edge's label: each shape that crosses it, "x k" when k tensors of that shape do
    (at most EDGE_SHAPES_SHOWN shapes; the rest are counted)."""
    parts = [s if len(ids) == 1 else f"{s} x {len(ids)}" for s, ids in shapes.items()]
    marks.add("edge")
    if any(len(ids) > 1 for ids in shapes.values()):
        marks.add("many")
    if len(parts) > EDGE_SHAPES_SHOWN:
        rest = len(parts) - EDGE_SHAPES_SHOWN + 1
        parts = parts[:EDGE_SHAPES_SHOWN - 1] + [words["shapes"].format(n=rest)]
    return text.label(parts)


# -- the DOT text ------------------------------------------------------------------------------
class _Writer:
    """Writes one :class:`Overview` into a Digraph: boxes in their module outlines, the
    input boxes, the edges and the legend; ``marks`` collects the marks used."""

    def __init__(self, ov: Overview, words: dict, backward: bool):
        self.ov, self.words, self.backward = ov, words, backward
        self.marks = set()
        self.ids = {key: f"g{i}" for i, key in enumerate(ov.groups)}
        self.ids.update((key, f"i{i}") for i, key in enumerate(ov.inputs))
        self.place = defaultdict(list)            # {module path: groups drawn directly in it}
        for g in ov.groups.values():
            self.place[g.path if g.kind == "own" else g.path[:-1]].append(g)
        self.children = defaultdict(list)         # {module path: its outlines, in order}
        for path in sorted(ov.parents, key=self._first):
            self.children[path[:-1]].append(path)
        self.clusters = 0

    def _first(self, path) -> int:
        """The position of the first group at or under ``path`` (the drawing order)."""
        return min((i for i, g in enumerate(self.ov.groups.values())
                    if g.path[:len(path)] == path), default=0)

    def write(self, dot) -> None:
        """Every box, outline, input, edge (and nothing else) into ``dot``."""
        self._outline(dot, ())
        for key, leaves in self.ov.inputs.items():
            self._input_box(dot, key, leaves)
        edges = [(k, v) for k, v in self.ov.input_edges.items()] + list(self.ov.edges.items())
        for (src, dst), shapes in edges:
            dot.edge(self.ids[src], self.ids[dst],
                     label=_edge_label(shapes, self.words, self.marks))

    def _outline(self, g, path) -> None:
        """The boxes directly in module ``path`` and its sub-modules' outlines: an outline
        is drawn when it holds two things or more (a chain of single children is not)."""
        for group in self.place[path]:
            self._box(g, group)
        for child in self.children[path]:
            if len(self.place[child]) + len(self.children[child]) < 2:
                self._outline(g, child)
                continue
            with g.subgraph(name=f"cluster_{self.clusters}") as sub:
                self.clusters += 1
                mod = child[-1]
                sub.attr(label=text.label([f"{self.ov.names[id(mod)]} ({type(mod).__name__})"]),
                         style="rounded", color="#999999", fontcolor="#555555")
                self.marks.add("cluster")
                self._outline(sub, child)

    def _box(self, g, group: Group) -> None:
        kind = "loss" if group.is_root else group.kind
        self.marks.add(kind)
        attrs = dict(shape="box", style="rounded,filled", fillcolor=_FILL[kind])
        if group.is_root:
            attrs.update(penwidth="2")
        if any(text.composed_twin(type(fn)) is not None for fn in group.ops):
            attrs.update(peripheries="2")
        counts = Counter(str(fn.name) for fn in group.ops).most_common()
        tip = ", ".join(f"{n} x {c}" if c > 1 else n for n, c in counts)
        twins = dict.fromkeys(text.composed_twin(type(fn)) for fn in group.ops)
        tip += "".join(f"; {text.fused_note(t, full=True)}" for t in twins if t is not None)
        lines = box_lines(self.ov, group, self.words, self.backward, self.marks)
        g.node(self.ids[group.key], text.label(lines), tooltip=text.tooltip(tip), **attrs)

    def _input_box(self, g, key, leaves) -> None:
        dtypes = Counter(str(t.dtype) for t in leaves)
        kinds = ", ".join(d if n == 1 else f"{d} x {n}" for d, n in dtypes.items())
        self.marks.add("input")
        g.node(self.ids[key], text.label([self.words["input"], kinds]), shape="box",
               style="rounded,filled", fillcolor=_FILL["input"])


def legend_label(marks, lang: str = "en") -> str:
    """The legend of an overview as a graphviz HTML-like label: one row per mark of
    ``marks`` (keys of :data:`MARKS`, shown in MARKS' order), its sample drawn as in the
    picture and its meaning in ``lang`` ("en" or "ko"). Raises ValueError for an unknown
    mark or language."""
    if lang not in LANGS:
        raise ValueError(f"legend_label: lang must be one of {', '.join(LANGS)}, got "
                         f"{lang!r:.40}")
    unknown = set(marks) - set(MARK_KEYS)
    if unknown:
        raise ValueError(f"legend_label: unknown marks {sorted(map(str, unknown))}")
    width = 64 if lang == "en" else 36          # a Hangul syllable is about two letters wide
    rows = [f'<TR><TD COLSPAN="2"><B>{html.escape(WORDS[lang]["legend"])}</B></TD></TR>']
    for key, sample, look, en, ko in MARKS:
        if key not in marks:
            continue
        meaning = '<BR ALIGN="LEFT"/>'.join(
            html.escape(line) for line in textwrap.wrap(en if lang == "en" else ko, width))
        cell = f'<TD BGCOLOR="{_FILL[look]}"' if look in _FILL else "<TD"
        if look == "cluster":
            cell = '<TD COLOR="#999999"'
        rows.append(f'<TR>{cell}>{html.escape(sample[lang])}</TD>'
                    f'<TD ALIGN="LEFT" BALIGN="LEFT">{meaning}<BR ALIGN="LEFT"/></TD></TR>')
    return ('<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">'
            + "".join(rows) + "</TABLE>>")


# -- the public function -----------------------------------------------------------------------
def draw_overview(root: Tensor, *, model: Module | None = None, backward: bool | None = None,
                  rankdir: str = "TB", depth: int | None = None, lang: str = "en",
                  legend: bool = True, title: str | None = None) -> "graphviz.Digraph":
    """A whole model on one page: one box per module (or per fused node) of the graph
    that made ``root``, the tensors between them as edges labelled with their shapes, and
    a legend of every mark used (the module docstring says what each shows).

    Parameters
    ----------
    root : Tensor
        Usually the loss of one training step, made by ops (not a leaf).
    model : Module, optional
        Names the boxes by ``model.named_modules()`` (the model itself is the whole
        picture and gets no box). None: each module is named by its class.
    backward : bool, optional
        Show, per box, the L2 norm of its parameters' gradients and its place in the
        backward pass. Default: whether a backward pass has run through the graph.
    rankdir : {"TB", "BT", "LR", "RL"}
        Graphviz layout direction (inputs at the top, the loss at the bottom for "TB").
    depth : int >= 1, optional
        Box only the modules at most this many levels below the model; deeper modules
        are drawn as part of their ancestor at that level. None: every module.
    lang : {"en", "ko"}
        The language of the words in the boxes and of the legend.
    legend : bool
        Draw the legend: a table of every mark the picture uses, beside the boxes.
    title : str, optional
        A caption, drawn literally.

    Returns a ``graphviz.Digraph`` (``.source`` is the DOT text; :func:`viz.render`
    writes it to a file).

    Raises TypeError (``root`` is not a Tensor; ``model`` is not a Module or None;
    ``backward``, ``legend``, ``title`` or ``depth`` has the wrong type) or ValueError
    (``root`` is a leaf, so no op made it; ``rankdir`` or ``lang`` is unknown; ``depth``
    < 1), each a one-line message with a fix.
    """
    _check_args(root, model, backward, rankdir, depth, lang, legend, title)
    walk = GraphWalk(root)
    if backward is None:
        backward = any(hasattr(t.grad_fn, "backward_order") for t in walk.tensors)
    ov = Overview(walk, model, depth)
    dot = new_digraph(rankdir, title)
    dot.attr(nodesep="0.35", ranksep="0.45")
    dot.attr("node", fontsize="11")
    dot.attr("edge", fontsize="10")
    writer = _Writer(ov, WORDS[lang], backward)
    writer.write(dot)
    if legend:
        dot.node("legend", legend_label(writer.marks, lang), shape="plaintext")
    return dot


def _check_args(root, model, backward, rankdir, depth, lang, legend, title) -> None:
    """Every argument of draw_overview, checked before any work (one-line errors)."""
    check_root(root, "draw_overview")
    if root.grad_fn is None:
        raise ValueError("draw_overview: root is a leaf tensor (no op made it), so there "
                         "are no modules to draw (fix: pass the loss of a forward pass, "
                         "e.g. draw_overview(model.loss(...), model=model))")
    if model is not None and not isinstance(model, Module):
        raise TypeError(f"draw_overview: model must be an nn.Module or None, got "
                        f"{type(model).__name__} (fix: pass the model whose loss this is)")
    if backward not in (None, True, False) or legend not in (True, False):
        raise TypeError(f"draw_overview: backward must be True, False or None and legend "
                        f"True or False, got {backward!r:.40} and {legend!r:.40}")
    if rankdir not in ("TB", "BT", "LR", "RL"):
        raise ValueError(f"draw_overview: rankdir must be TB, BT, LR or RL, got "
                         f"{rankdir!r:.40} (fix: rankdir='LR' draws left to right)")
    if lang not in LANGS:
        raise ValueError(f"draw_overview: lang must be 'en' or 'ko', got {lang!r:.40} "
                         f"(fix: lang='ko' for Korean)")
    check_limit("depth", depth, "draw_overview")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"draw_overview: title must be a str or None, got "
                        f"{type(title).__name__} (fix: e.g. title=str(value))")


__all__ = ["LANGS", "MARKS", "MARK_KEYS", "WORDS", "Group", "Overview", "box_lines",
           "draw_overview", "legend_label"]
