"""What the command line shows a person: test examples, attention tables and maps, the
pictures a training run leaves, the closing lines of a run, and the side-by-side table
and CSV of ``compare``.

Every function here reads a trained model, a dataset or a training history and prints,
formats or draws it; none trains or changes a model. Pictures go through ``viz``
(matplotlib), imported only when a picture is drawn.
"""
from __future__ import annotations

import csv
import io
import os

import numpy as np

from .train import DEFAULT_MAX_DECODE_LEN, format_score, selection_metric


# -- examples ---------------------------------------------------------------------------
def source_text(data, i: int, src=None) -> str:
    """Test item ``i``'s source as a person typed it (``src``: the encoded test sources
    (N, S) int64, default ``data.src_test``)."""
    if data.metric == "exact_match":
        row = (data.src_test if src is None else src)[i]
        return data.codec().vocab.decode(row[::-1] if data.reversed else row).rstrip()
    return data.test_pairs[i][0]


def print_examples(data, src, tgt, pred, n: int = 5) -> None:
    """Print the first ``n`` items: source, prediction and reference. ``src`` (N, S),
    ``tgt`` (N, T+1) (starting with the start symbol) and ``pred`` (N, T') int64 ids; a
    character task marks each answer ``ok`` or ``BAD`` (exact match)."""
    codec = data.codec()
    for i in range(min(n, len(src))):
        if data.metric == "exact_match":
            q = source_text(data, i, src)
            ok = np.array_equal(tgt[i, 1:], pred[i])
            print(f"  [{'ok ' if ok else 'BAD'}] {q!r:34} -> {codec.decode_target(pred[i])}"
                  f"   (answer {codec.decode_target(tgt[i, 1:])})")
        else:
            s, t = data.test_pairs[i]
            print(f"  {s}\n    -> {codec.decode_target(pred[i])}\n    (reference: {t})")


def training_summary(history, model_path: str, pictures: list[str]) -> str:
    """The closing line of ``train``: the test score of the chosen and of the last epoch
    (``history.results``, see ``models.train.train``), the mean seconds per epoch and the
    files written."""
    res = history.results
    return (f"final: {format_score(res['test_chosen'])} (epoch {res['chosen_epoch']}, chosen "
            f"on {res['chosen_on']}); {format_score(res['test_last'])} after epoch "
            f"{res['last_epoch']}; {epoch_seconds(history):.1f} s per "
            f"epoch. Saved {model_path}, " + ", ".join(pictures))


def score_report(score: dict, data) -> str:
    """``eval``'s lines: the score (``models.train.evaluate``) on ``data``'s test items
    and, for translation, what exactly was computed and each score's sacreBLEU signature."""
    text = f"{format_score(score)} on {len(data.src_test)} test items of {data.source}"
    return text + "".join(f"\n{line}" for line in signature_lines(score))


def signature_lines(score: dict, describe: bool = True) -> list[str]:
    """What a translation score (``models.metrics.translation_report`` with intervals) is,
    one line each: the description (if ``describe``), then the sacreBLEU signature of
    cased BLEU, lower-cased BLEU and chrF. ``[]`` for a score without signatures (a
    character task's)."""
    if "bleu_signature" not in score:
        return []
    lines = [f"scores: {score['bleu_description']}"] if describe else ["sacreBLEU signatures:"]
    for key, label in (("bleu_cased", "BLEU"), ("bleu", "lower-cased BLEU"), ("chrf", "chrF")):
        if f"{key}_signature" in score:
            lines.append(f"  {label + ':':<18} {score[f'{key}_signature']}")
    return lines


# -- attention --------------------------------------------------------------------------
def attention_view(codec, text, ids, weights):
    """One sentence's attention in reading order, for a table or a heatmap.

    text : the source as typed; ids : the output ids (L,); weights : (L, S) or (h, L, S) in
    the model's source order. Returns (source tokens, output tokens up to and including
    <eos>, weights (L', S') or (h, L', S')): columns in reading order, whitespace-only
    character columns (the fixed-width padding of the book's tasks) dropped.
    """
    src_tokens = codec.source_tokens(text)                 # in the model's order
    order = list(range(len(src_tokens)))
    if codec.reversed:
        order = order[::-1]
    cols = [j for j in order if src_tokens[j].strip()]
    out_tokens = []
    for i in ids:
        if codec.eos_id is not None and i == codec.eos_id:
            out_tokens.append("<eos>")
            break
        out_tokens.append(codec.decode_target(np.array([i])) or "?")
    w = np.asarray(weights)[..., :len(out_tokens), :][..., cols]
    return [src_tokens[j] for j in cols], out_tokens, w


def print_attention(codec, text, ids, weights) -> None:
    """Print the attention table of one input: rows = output tokens, columns = input
    tokens in reading order (``ids`` (L,), ``weights`` (L, S): see :func:`attention_view`)."""
    src, out, w = attention_view(codec, text, ids, weights)
    width = max(4, *(len(t) for t in src)) + 1
    print("\nattention weights (rows: output tokens; columns: input tokens):")
    print(" " * 8 + "".join(f"{t:>{width}}" for t in src))
    for r, tok in enumerate(out):
        print(f"{tok[:7]:>7} " + "".join(f"{w[r, j]:>{width}.2f}" for j in range(len(src))))


def head_weights(model, src, ids, start_id):
    """Per-head encoder-decoder attention of a Transformer for the output ``ids`` (N, L):
    one teacher-forced pass over ``[start] + ids[:, :-1]``, which gives the same weights as
    the greedy steps (decoding is causal). Returns (N, h, L, S), or None for a model
    without heads."""
    layers = getattr(getattr(model, "decoder", None), "layers", None)
    if not layers or not hasattr(layers[-1], "cross_attn_head_weights"):
        return None
    from tinygrad_attn import no_grad
    tgt_in = np.concatenate([np.full((len(ids), 1), start_id), ids[:, :-1]], axis=1)
    with no_grad():
        model.decode(tgt_in, model.encode(src))
    return layers[-1].cross_attn_head_weights.data


def plot_translation(path, model, codec, text, x, ids, weights) -> None:
    """Save the attention map of one translated input ``text`` (encoded ``x`` (1, S),
    output ``ids`` (1, L), greedy ``weights`` (1, L, S)) to ``path``: one panel per head
    for a Transformer."""
    import viz
    title = f"{text}  ->  {codec.decode_target(ids[0])}"
    heads = head_weights(model, x, ids, codec.start_id)
    src, out, w = attention_view(codec, text, ids[0], weights[0] if heads is None else heads[0])
    plot = viz.plot_attention if heads is None else viz.plot_attention_heads
    plot(w, src, out, path, title=title)
    print(f"saved the attention map to {path}")


def save_pictures(model, data, history, out_dir, n_items: int = 4,
                  max_len: int = DEFAULT_MAX_DECODE_LEN) -> list[str]:
    """What ``train`` leaves for a person to look at: ``curves.png`` (training loss and test
    score per epoch) and, for a model with attention, ``attention.png`` (the maps of the
    first ``n_items`` test items, decoded greedily, at most ``max_len`` tokens for
    translation). Returns the paths written."""
    import viz

    from .decoding import greedy_decode
    from .predict import _trim
    written = [viz.plot_history(history, os.path.join(out_dir, "curves.png"),
                                name=model.MODEL_NAME, title=str(data.source))]
    codec = data.codec()
    texts = [source_text(data, i) for i in range(min(n_items, len(data.src_test)))]
    if not texts:
        return written
    x, mask = _trim(np.asarray(data.src_test[:len(texts)]), data.pad_id)
    max_len = codec.answer_length if codec.eos_id is None else max_len
    ids, weights = greedy_decode(model.eval(), x, mask, start_id=codec.start_id,
                                 max_len=max_len, eos_id=codec.eos_id)
    if weights is None:
        return written
    items = []
    for i, text in enumerate(texts):
        src, out, w = attention_view(codec, text, ids[i], weights[i])
        items.append((w, src, out, text if len(text) < 40 else text[:37] + "..."))
    written.append(viz.plot_attention_grid(items, os.path.join(out_dir, "attention.png"),
                                           title=f"attention of {type(model).__name__}"))
    return written


# -- compare ----------------------------------------------------------------------------
def comparison_report(data, histories: dict, seed: int) -> str:
    """``compare``'s heading and :func:`comparison_table` of ``histories`` ({model name:
    ``models.train.History``}, the lookup baseline's with no epochs) trained on ``data``
    with ``seed``; for translation, what each column is and the sacreBLEU signatures."""
    metric = selection_metric(data)
    what = "exact match (%)" if metric == "accuracy" else "lower-cased BLEU"
    text = (f"\n{data.source}: validation {what} after each epoch; test scored once, "
            f"with the epoch chosen on validation and after the last epoch (seed "
            f"{seed}, same split and batches for every model)\n\n"
            + comparison_table(histories, metric))
    epochs = max(len(h) for h in histories.values())
    if epochs > MAX_EPOCH_COLUMNS:
        text += (f"\nvalid N: after epoch N; {MAX_EPOCH_COLUMNS} of the {epochs} epochs shown "
                 f"(every epoch: compare.csv, compare.png)")
    if metric == "accuracy":
        return text
    first = next(iter(histories.values())).results["test_chosen"]
    notes = ["", "BLEU: sacreBLEU's default (cased, 13a) on the detokenized output against the "
             "references as written; BLEU lc: lower-cased, on the project's tokens (it "
             "chooses the epoch); chrF on the same text as BLEU; 95 % bootstrap intervals "
             "(the same resamples for every column)"]
    if "unseen_items" in first:
        notes.append(f"unseen: BLEU on the {first['unseen_items']} of {len(data.src_test)} "
                     f"test items whose source occurs in no training pair")
    averages = _average_note(histories)
    if averages:
        notes.append(averages)
    if "lookup" in histories:
        notes.append("lookup: the TF-IDF nearest training source's target (models/lookup.py); "
                     "no epochs; its s/epoch is the seconds to fit and answer both splits")
    ensembles = _ensemble_note(histories)
    if ensembles:
        notes.append(ensembles)
    return "\n".join([text, *notes, *signature_lines(first, describe=False)])


def _ensemble_note(histories: dict) -> str | None:
    """The note on ``compare --ensemble``'s rows, None when there is none."""
    rows = [name for name, h in histories.items() if h.results.get("ensemble")]
    if not rows:
        return None
    return (f"{', '.join(rows)}: the members (the model's row and its -member-K folders, "
            f"each with its own epoch chosen on validation) decoded as one ensemble, the "
            f"mean of their next-token probabilities (models/ensemble.py); its s/epoch is "
            f"an epoch of every member")


def _average_note(histories: dict) -> str | None:
    """The note on the ``valid avg`` column: which epochs each model averaged and whether
    the average was chosen; None when no history has an average."""
    said = []
    for name, hist in histories.items():
        average = hist.results.get("average")
        if average:
            epochs = average["epochs"]
            said.append(f"{name} epochs {epochs[0]}-{epochs[-1]}"
                        + (" (chosen)" if average.get("chosen") else ""))
    if not said:
        return None
    return ("valid avg: lower-cased validation BLEU of the mean of the last epochs' weights "
            "(--average-last: " + ", ".join(said) + "); where chosen reads 'avg A-B', the "
            "test columns score that average")


#: At most this many validation columns in compare's table (compare.csv keeps them all).
MAX_EPOCH_COLUMNS = 10


def shown_epochs(epochs: int, limit: int = MAX_EPOCH_COLUMNS) -> list[int]:
    """The epochs (1-based) whose validation score gets a column of compare's table: all
    of them up to ``limit``; beyond, the first three, the last, and the rest spread evenly
    between them (a 57-epoch run: 1, 2, 3, 11, 18, 26, 34, 42, 49, 57)."""
    if epochs <= limit:
        return list(range(1, epochs + 1))
    middle = np.linspace(3, epochs, limit - 2)[1:-1]
    return [1, 2, 3] + [int(round(e)) for e in middle] + [epochs]


def comparison_table(histories: dict, metric: str) -> str:
    """A plain-text table: one row per model; the validation score after each epoch, the
    epoch chosen on validation, the test score with that epoch's weights and after the
    last epoch (each scored once), mean seconds per epoch and parameter count. For
    translation (``metric`` "bleu") the test columns at the chosen epoch are cased BLEU,
    lower-cased BLEU and chrF with their 95 % intervals and cased BLEU on the unseen
    sources; a history with no epochs (the lookup baseline) shows ``-`` for them and its
    fitting seconds; an averaged checkpoint (``--average-last``) adds the column ``valid
    avg`` (see :func:`_translation_table`)."""
    if metric != "accuracy":
        return _translation_table(histories)
    shown = shown_epochs(max(len(h) for h in histories.values()))
    name_w = max(12, *(len(name) + 1 for name in histories))
    chosen_w = max(8, *(len(str(h.results["chosen_epoch"])) + 1 for h in histories.values()))
    head = f"{'model':<{name_w}}" + "".join(f"{'valid ' + str(e):>10}" for e in shown) \
        + f"{'chosen':>{chosen_w}}{'test@chosen':>13}{'test@last':>11}{'s/epoch':>9}" \
        + f"{'params':>12}"
    lines = [head, "-" * len(head)]
    for name, hist in histories.items():
        blank = "-" if not len(hist) else ""            # an ensemble: no epochs of its own
        scores = [_cell(hist[e - 1].get("valid_" + metric), 100.0) if e <= len(hist) else blank
                  for e in shown]
        cells = [f"{c:>10}" for c in scores]
        r, last = hist.results, hist.results.get("test_last")
        lines.append(f"{name:<{name_w}}" + "".join(cells) + f"{r['chosen_epoch']:>{chosen_w}}"
                     + f"{100.0 * r['test_chosen'][metric]:>13.2f}"
                     + f"{'-' if last is None else f'{100.0 * last[metric]:.2f}':>11}"
                     + f"{epoch_seconds(hist):>9.1f}"
                     + f"{format(hist[-1]['parameters'], ',') if len(hist) else '-':>12}")
    return "\n".join(lines)


#: Width of the model column of the translation table: room for "pytorch-tutorial", the
#: row ``benchmarks/translate_tutorial_torch.py`` prints in the same format.
NAME_WIDTH = 17

_TEST_HEAD = (f"{'BLEU':>8}{'95 % CI':>13}{'BLEU lc':>9}{'95 % CI':>13}{'chrF':>7}"
              f"{'95 % CI':>13}{'unseen':>9}{'BLEU@last':>10}{'s/epoch':>9}{'params':>12}")


def _translation_table(histories: dict) -> str:
    """:func:`comparison_table` for translation (see there). With an averaged checkpoint
    in any history (``results["average"]``, ``models.recipe.average_candidate``) a column
    ``valid avg`` after the epochs holds its validation lower-cased BLEU (``-`` for a model
    without one); ``chosen`` reads ``avg A-B`` where the average was chosen."""
    shown = shown_epochs(max(len(h) for h in histories.values()))
    averaged = any(h.results.get("average") for h in histories.values())
    name_w = max(NAME_WIDTH, *(len(name) + 1 for name in histories))
    chosen_w = max(7, *(len(_cell(h.results.get("chosen_epoch"), None)) + 1
                        for h in histories.values()))
    head = f"{'model':<{name_w}}" + "".join(f"{'valid ' + str(e):>9}" for e in shown) \
        + (f"{'valid avg':>10}" if averaged else "") + f"{'chosen':>{chosen_w}}" + _TEST_HEAD
    lines = [head, "-" * len(head)]
    for name, hist in histories.items():
        blank = "-" if not len(hist) else ""            # lookup: no epochs at all
        cells = [f"{_cell(hist[e - 1].get('valid_bleu'), 1.0) if e <= len(hist) else blank:>9}"
                 for e in shown]
        if averaged:
            average = hist.results.get("average") or {}
            cells.append(f"{_cell(average.get('valid_bleu'), 1.0):>10}")
        lines.append(f"{name:<{name_w}}" + "".join(cells) + _test_cells(hist, chosen_w))
    return "\n".join(lines)


def _test_cells(hist, chosen_w: int) -> str:
    """The cells of one translation row from ``chosen`` to ``params`` (see
    :func:`comparison_table`)."""
    r, test = hist.results, hist.results["test_chosen"]
    params = hist[-1].get("parameters") if len(hist) else None
    row = [f"{_cell(r['chosen_epoch'], None):>{chosen_w}}"]
    for key, width in (("bleu_cased", 8), ("bleu", 9), ("chrf", 7)):
        ci = test.get(f"{key}_ci")
        row += [f"{_cell(test.get(key), 1.0):>{width}}",
                f"{'-' if ci is None else f'{ci[0]:.2f}-{ci[1]:.2f}':>13}"]
    last = r.get("test_last") or {}
    row += [f"{_cell(test.get('unseen_bleu_cased'), 1.0):>9}",
            f"{_cell(last.get('bleu_cased'), 1.0):>10}", f"{epoch_seconds(hist):>9.1f}",
            f"{'-' if params is None else format(params, ','):>12}"]
    return "".join(row)


def epoch_seconds(hist) -> float:
    """A table row's s/epoch: the mean seconds of its epochs, or for a row without epochs
    (the lookup, an ensemble) its ``fit_seconds`` (NaN if absent)."""
    if len(hist):
        return float(np.mean([h.get("epoch_seconds", np.nan) for h in hist]))
    return hist.results.get("fit_seconds", np.nan)


def _cell(value, scale) -> str:
    """A table cell: ``-`` for None, ``value`` as is with ``scale`` None, else ``scale *
    value`` with 2 decimals."""
    if value is None:
        return "-"
    return str(value) if scale is None else f"{scale * value:.2f}"


def compare_floor(histories: dict) -> float | None:
    """The floor line of ``compare``'s curves (``viz.plot_compare(floor=)``): the
    validation score that chooses the epoch (lower-cased BLEU 0-100) of the lookup
    baseline, the history named "lookup" in ``histories`` ({model name:
    ``models.train.History``}; ``models.lookup.run_lookup``'s ``results["valid"]``), or
    None when there is none, or no validation split."""
    hist = histories.get("lookup")
    valid = getattr(hist, "results", {}).get("valid") if hist is not None else None
    if valid and valid.get("bleu") is not None:
        return float(valid["bleu"])
    return None


def compare_rows(name: str, hist) -> list[dict]:
    """The rows of ``compare.csv`` for one model: one per epoch (``model``, then the
    history record's keys), then its test row (``epoch`` "test"; the test scores with
    the chosen epoch's and the last epoch's weights as ``test_chosen_*`` / ``test_last_*``,
    an interval ``[low, high]`` as two columns ``..._ci_low``, ``..._ci_high``;
    ``chosen_epoch``; the lookup baseline's ``fit_seconds`` and validation scores
    ``valid_*``; an averaged checkpoint's ``average_epochs`` ("A-B"), ``average_chosen``
    and validation scores ``average_valid_*``)."""
    rows = [dict(model=name, **h) for h in hist]
    r = hist.results
    row = {"model": name, "epoch": "test", **_flat(r["test_chosen"], "test_chosen_"),
           **_flat(r.get("test_last") or {}, "test_last_"), "chosen_epoch": r["chosen_epoch"]}
    if "fit_seconds" in r:
        row["fit_seconds"] = r["fit_seconds"]
    if not len(hist) and r.get("valid"):
        row.update(_flat(r["valid"], "valid_"))
    average = r.get("average")
    if average:
        row.update({"average_epochs": f"{average['epochs'][0]}-{average['epochs'][-1]}",
                    "average_chosen": bool(average.get("chosen"))})
        row.update(_flat({k: v for k, v in average.items() if k.startswith("valid_")},
                         "average_"))
    return rows + [row]


def write_compare_csv(histories: dict, path) -> str:
    """``compare.csv``: every model's per-epoch rows, then every model's test row
    (:func:`compare_rows`); the columns are every key of any row, in order of first
    appearance; written atomically. Returns ``path``."""
    from tinygrad_attn.fileio import atomic_open
    per_model = [compare_rows(name, hist) for name, hist in histories.items()]
    rows = [row for rows in per_model for row in rows[:-1]] + [rows[-1] for rows in per_model]
    fields = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return path


#: Columns every translation ``compare.csv`` has, whatever its models: rows of another run
#: (``benchmarks/translate_tutorial_torch.py --compare-csv``) are added only to such a file.
TRANSLATION_CSV_COLUMNS = ("model", "epoch", "test_chosen_bleu_cased", "test_chosen_bleu",
                           "test_chosen_chrf", "chosen_epoch")

#: Largest ``compare.csv`` read back, in bytes (thousands of epochs of a few models).
MAX_COMPARE_CSV = 64 * 2 ** 20

_CSV_FIX = ("fix: pass the compare.csv that 'tinygrad-attn compare' wrote for a sentence-pair "
            "--data file")


def read_compare_csv(path, columns=TRANSLATION_CSV_COLUMNS) -> tuple[list, list, list]:
    """Read back a ``compare.csv`` (:func:`write_compare_csv`) to add rows to.

    Returns (its leading ``#`` comment lines as written, the header's column names, the
    rows as {column: str}). Raises ValueError (one line: the path, the problem, a fix) for
    a missing, unreadable or non-regular file, one over :data:`MAX_COMPARE_CSV` bytes, not
    UTF-8, not CSV, with rows of another width, repeated column names, or a header without
    one of ``columns``.
    """
    from tinygrad_attn.fileio import NotRegularFileError, open_regular, quote_path
    name = f"the compare.csv {quote_path(path)}"
    try:
        fd, _ = open_regular(path)
    except FileNotFoundError:
        raise ValueError(f"{name} does not exist ({_CSV_FIX})") from None
    except NotRegularFileError as e:
        raise ValueError(f"{name} is {e.kind}, not a file ({_CSV_FIX})") from None
    except OSError as e:
        raise ValueError(f"cannot read {name}: {e.strerror or e} (fix: check its "
                         f"permissions)") from None
    with open(fd, "rb") as f:
        raw = f.read(MAX_COMPARE_CSV + 1)
    if len(raw) > MAX_COMPARE_CSV:
        raise ValueError(f"{name} is larger than {MAX_COMPARE_CSV:,} bytes ({_CSV_FIX})")
    try:
        lines = raw.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        raise ValueError(f"{name} is not UTF-8 text ({_CSV_FIX})") from None
    n = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    try:
        rows = list(csv.reader(io.StringIO("".join(lines[n:]), newline="")))
    except csv.Error as e:
        raise ValueError(f"{name} is not a CSV file ({e}) ({_CSV_FIX})") from None
    comments = lines[:n]
    header = rows[0] if rows else []
    _check_csv_header(name, header, rows, columns, first_line=n + 1)
    return comments, header, [dict(zip(header, row)) for row in rows[1:]]


def _check_csv_header(name: str, header: list, rows: list, columns, first_line: int) -> None:
    """The checks of :func:`read_compare_csv` on the parsed rows (header first, on the
    file's line ``first_line``)."""
    if not header:
        raise ValueError(f"{name} is empty ({_CSV_FIX})")
    if len(set(header)) != len(header):
        raise ValueError(f"{name}: its header names a column twice ({_CSV_FIX})")
    missing = [c for c in columns if c not in header]
    if missing:
        listed = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4
                                           else "")
        raise ValueError(f"{name}: its header does not match a translation comparison's "
                         f"(no column {listed}) ({_CSV_FIX})")
    bad = next((i for i, row in enumerate(rows) if len(row) != len(header)), None)
    if bad is not None:
        raise ValueError(f"{name}: line {first_line + bad} has {len(rows[bad])} cells, the header "
                         f"{len(header)} ({_CSV_FIX})")


def append_compare_csv(path, name: str, hist) -> str:
    """Add one model's rows (:func:`compare_rows` of ``name`` and its
    ``models.train.History``) to an existing translation ``compare.csv``, in its own
    columns: the per-epoch rows after the others' per-epoch rows (cells of columns the file
    lacks are left out), the test row last. Earlier rows of ``name`` are replaced; leading
    ``#`` lines are kept. Written atomically (``tinygrad_attn.fileio.atomic_open``).
    Returns ``path``.

    Raises ValueError as :func:`read_compare_csv`, when the header lacks a column of the
    test row, or when the file's test rows count another number of test items with unseen
    sources (another data file, direction or test split).
    """
    from tinygrad_attn.fileio import atomic_open, quote_path
    rows = compare_rows(name, hist)
    comments, header, records = read_compare_csv(path, tuple(rows[-1]))
    ours = str(rows[-1].get("test_chosen_unseen_items", ""))
    theirs = {r.get("test_chosen_unseen_items") for r in records if r.get("epoch") == "test"}
    theirs.discard("")
    if ours and theirs and theirs != {ours}:
        raise ValueError(f"the compare.csv {quote_path(path)} scored another test split (test "
                         f"items with unseen sources: {', '.join(sorted(theirs))}; this run: "
                         f"{ours}) (fix: the same --data, --direction and --seed as the "
                         f"compare run)")
    kept = [r for r in records if r.get("model") != name]
    at = next((i for i, r in enumerate(kept) if r.get("epoch") == "test"), len(kept))
    epochs = [{k: v for k, v in r.items() if k in header} for r in rows[:-1]]
    with atomic_open(path, "w", newline="") as f:
        f.write("".join(comments))
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(kept[:at] + epochs + kept[at:] + rows[-1:])
    return path


def histories_from_csv(records: list) -> dict:
    """The histories that :func:`write_compare_csv` wrote, read back from its rows
    (``records``, {column: str} as :func:`read_compare_csv` returns them) so that
    :func:`comparison_table` can print them again: {model: ``models.train.History``} in
    the order of their test rows (compare's order of ``--models``; a model without one is
    left out); numbers parsed, empty cells left out, an interval's two columns joined into
    ``[low, high]``, an average's epochs as ``[A, B]``."""
    from .train import History
    histories = {}
    for row in records:
        cells = {k: csv_cell(v) for k, v in row.items() if k != "model" and v not in ("", None)}
        hist = histories.setdefault(row.get("model", ""), History())
        if cells.get("epoch") != "test":
            hist.append(cells)
            continue
        results = {"chosen_epoch": cells.get("chosen_epoch"),
                   "test_chosen": _unflat(cells, "test_chosen_"),
                   "test_last": _unflat(cells, "test_last_") or None}
        if "fit_seconds" in cells:
            results.update(fit_seconds=cells["fit_seconds"], valid=_unflat(cells, "valid_"))
        if "average_epochs" in cells:
            results["average"] = {"epochs": str(cells["average_epochs"]).split("-"),
                                  "chosen": cells.get("average_chosen") == "True",
                                  **_unflat(cells, "average_", keep_prefix="valid_")}
        hist.results = results
    tested = [row.get("model", "") for row in records if row.get("epoch") == "test"]
    return {name: histories[name] for name in dict.fromkeys(tested)}


def csv_cell(text: str):
    """A ``compare.csv`` cell as an int, a float, or the text itself (``test``, a
    signature)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _unflat(cells: dict, prefix: str, keep_prefix: str = "") -> dict:
    """The inverse of :func:`_flat`: the cells named ``prefix + key`` as {key: value}, the
    ``_low``/``_high`` pair of an interval as one ``[low, high]`` (only keys starting with
    ``keep_prefix``)."""
    out = {}
    for name, value in cells.items():
        key = name[len(prefix):]
        if not name.startswith(prefix) or not key.startswith(keep_prefix):
            continue
        if key.endswith("_ci_low") or key.endswith("_ci_high"):
            base, end = key.rsplit("_", 1)
            out.setdefault(base, [None, None])[end == "high"] = value
        else:
            out[key] = value
    return out


def _flat(score: dict, prefix: str) -> dict:
    """``score``'s entries as CSV cells named ``prefix + key``: an interval as ``_low`` and
    ``_high``, the (long) description left out (it is in results.json)."""
    out = {}
    for key, value in score.items():
        if key == "bleu_description":
            continue
        if isinstance(value, (list, tuple)) and len(value) == 2:
            out.update({f"{prefix}{key}_low": value[0], f"{prefix}{key}_high": value[1]})
        else:
            out[prefix + key] = value
    return out
