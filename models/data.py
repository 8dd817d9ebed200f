"""Old import path of the character-task data; the names live in models.char_dataset,
models.codecs, models.data_files, models.date_task and models.vocab now."""
# Kept for the importers in cli.py/train.py until they move; the comment above each line
# names every importer still on this path (model_io.py and some tests are not switched yet).
# cli.py; tests/test_model.py, test_torch_parity.py, test_hostile_checkpoints.py,
# test_hostile_cli.py
from .char_dataset import load_dataset  # noqa: F401
# model_io.py; tests/test_viz_attention.py
from .codecs import CharCodec  # noqa: F401
# cli.py
from .data_files import DataError, sniff_format  # noqa: F401
# tests/test_viz_attention.py
from .date_task import date_alignment, date_source_spans  # noqa: F401
# tests/test_model.py, test_torch_parity.py
from .date_task import generate_date_task  # noqa: F401
# tests/test_viz_attention.py (the one vocabulary class, under its old character-task name)
from .vocab import Vocab as CharVocab  # noqa: F401
