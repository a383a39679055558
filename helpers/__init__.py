"""The kit's library: data, faces, models, training and evaluation for multi-task age detection.

Import what you need from its modules (``from helpers.datasets import index_utkface``);
the most used names are re-exported here. TensorFlow and Keras load only when a module
that needs them is imported.
"""
from .age_groups import AgeGroups, age_groups
from .datasets import index_dataset, index_imdb_wiki, index_utkface, label_arrays
from .environment import environment_table
from .fetch import FetchError, fetch
from .images import ImageBatch, load_images, read_rgb
from .drawing import draw_predictions
from .predict import predict  # after every import of the module: `helpers.predict` is the function
from .profiles import PROFILES, profile
from .report import data_report, format_report
from .sample import make_sample
from .splits import seed_split, split_table

__version__ = "0.1.0"
