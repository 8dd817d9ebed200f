"""Old import path of the translation data; the names live in models.text, models.vocab,
models.pair_files, models.codecs, models.translation_dataset and models.metrics now."""
# Kept for the importers in cli.py/train.py until they move; the comment above each line
# names every importer still on this path (model_io.py and some tests are not switched yet).
# model_io.py
from .codecs import translation_codec_from_metadata  # noqa: F401
# train.py
from .metrics import bleu_report, corpus_bleu, corpus_chrf  # noqa: F401
# cli.py; model_io.py; tests/test_model.py, test_hostile_checkpoints.py
from .translation_dataset import load_translation  # noqa: F401
# model_io.py
from .vocab import Vocab  # noqa: F401
