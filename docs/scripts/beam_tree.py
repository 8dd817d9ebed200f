"""Draw docs/pictures/beam_tree.svg: the beam-search tree of one sentence, with the
length penalty's effect on the answer.

    python docs/scripts/beam_tree.py                     # about a minute on 2 cores
    python docs/scripts/beam_tree.py --out tree.png --epochs 4

It trains a tiny attention model (D 32, H 64, Adam 1e-2, seed 0) on the English->French
sample shipped in samples/eng-fra/ for 12 epochs: far from fluent, which is the point, as
a model this unsure keeps several hypotheses alive. The date task would not do here: its
answers have no end token and the same length, so the length penalty can change nothing.
Then it runs ``models.decoding.beam_search(..., trace=records)`` (width 3, alpha 0.6) over
every training sentence and draws the tree of one of them, chosen by a rule, not by eye:
a sentence whose answer the length penalty changed and whose chosen translation is the
reference, else one whose answer it changed, else any; among these the one with the
smallest tree (fewest boxes), then the first in training order.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models.decoding import beam_search  # noqa: E402
from models.train import TrainConfig, train  # noqa: E402
from models.translation_dataset import load_translation  # noqa: E402
from viz.beam import beam_tree, draw_beam_tree, hypothesis  # noqa: E402

SAMPLE = ROOT / "samples" / "eng-fra" / "fra.tutorial-filter.sample.txt"
OUT = ROOT / "docs" / "pictures" / "beam_tree.svg"


def train_tiny(epochs: int = 12, seed: int = 0):
    """The sample's data (5 % held out) and an attention model trained on it; returns
    (model in eval mode, TranslationData)."""
    data = load_translation(SAMPLE, "eng-fra", test_fraction=0.05)
    config = TrainConfig(model="attention", epochs=epochs, batch_size=32, wordvec_size=32,
                         hidden_size=64, lr=1e-2, valid_fraction=0, seed=seed)
    model, _ = train(data, config, log=lambda *a: None)
    model.eval()
    return model, data


def search(model, data, beam: int = 3, alpha: float = 0.6, max_len: int = 12):
    """Beam search over every training sentence; returns (ids (N, max_len), trace)."""
    records = []
    src = data.src_train
    ids, _ = beam_search(model, src, src == data.pad_id, start_id=data.start_id,
                         max_len=max_len, eos_id=data.eos_id, beam_width=beam, alpha=alpha,
                         trace=records)
    return ids, records


def pick(records, data) -> int:
    """The sentence to draw, by the rule in the module's docstring."""
    def rank(n):
        tree = beam_tree(records, n)
        changed = tree["chosen"] is not None and tree["chosen"] != tree["by_logp"]
        ref = [int(i) for i in data.tgt_train[n, 1:]]
        ref = ref[:ref.index(data.eos_id) + 1]
        right = changed and hypothesis(tree, tree["chosen"]) == ref
        return (not right, not changed, len(tree["nodes"]), n)
    return min(range(len(data.src_train)), key=rank)


def words(vocab, ids) -> str:
    return " ".join(vocab.itos[int(i)] for i in ids if int(i) != vocab.PAD_ID)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(OUT), help="the picture (.svg, .png, .pdf, .gv)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--beam", type=int, default=3)
    p.add_argument("--alpha", type=float, default=0.6)
    args = p.parse_args(argv)
    model, data = train_tiny(args.epochs)
    _, records = search(model, data, args.beam, args.alpha)
    n = pick(records, data)
    source = words(data.src_vocab, data.src_train[n])
    reference = words(data.tgt_vocab, data.tgt_train[n, 1:])
    draw_beam_tree(records, data.tgt_vocab.itos, n, path=args.out,
                   title=f"source (a training sentence): {source}   reference: {reference}")
    print(f"{args.out}: sentence {n}: {source!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
