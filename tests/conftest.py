"""Shared test setup: point NLTK at the workspace's shared data when NLTK_DATA is not set."""

import os
from pathlib import Path

import nltk

SHARED_NLTK_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "nltk_data"

# NLTK reads NLTK_DATA once, when it is imported, so its search path is extended as well.
if "NLTK_DATA" not in os.environ and SHARED_NLTK_DATA.is_dir():
    os.environ["NLTK_DATA"] = str(SHARED_NLTK_DATA)
    nltk.data.path.append(str(SHARED_NLTK_DATA))
